import { waitFor } from '@qscale/testkit';
import { describe, expect, it } from 'vitest';
import { startWakePoller } from './wake-poller.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A probe over a set of queues that have jobs, recording what it was asked. */
function jobs(ready: Set<string>, failFirst = 0) {
  const asked: string[][] = [];
  let failures = failFirst;
  return {
    asked,
    probe: async (queues: readonly string[]) => {
      asked.push([...queues]);
      if (failures-- > 0) throw new Error('Redis went away');
      return queues.filter((queue) => ready.has(queue));
    },
  };
}

describe('startWakePoller', () => {
  it('probes only the watched queues, wakes once, then waits to be told what to watch', async () => {
    const ready = new Set<string>();
    const { asked, probe } = jobs(ready);
    const woken: string[][] = [];
    const poller = startWakePoller({ periodMs: 10, probe, wake: (queues) => woken.push(queues) });
    await pause(50);
    expect(asked).toEqual([]); // nothing watched yet: no read at all

    poller.watch(['mail', 'reports']);
    await waitFor(() => asked.length >= 2, { what: 'two probes' });
    expect(asked.every((queues) => queues.join() === 'mail,reports')).toBe(true);
    expect(woken).toEqual([]);

    ready.add('reports');
    await waitFor(() => woken.length > 0, { what: 'a wake' });
    expect(woken).toEqual([['reports']]);
    const probesAtWake = asked.length;
    await pause(50);
    // The tick the wake ran has not said what to watch again: no probe, no second wake.
    expect(asked.length).toBe(probesAtWake);
    expect(woken).toHaveLength(1);

    poller.watch(['mail']);
    await waitFor(() => asked.length >= probesAtWake + 2, { what: 'probes again' });
    expect(asked.at(-1)).toEqual(['mail']);
    expect(woken).toHaveLength(1);
    poller.stop();
  });

  it('goes on after a failed probe, and stops for good', async () => {
    const ready = new Set(['mail']);
    const { asked, probe } = jobs(ready, 2);
    const woken: string[][] = [];
    const poller = startWakePoller({ periodMs: 10, probe, wake: (queues) => woken.push(queues) });
    poller.watch(['mail']);
    await waitFor(() => woken.length > 0, { what: 'a wake after two failed probes' });
    expect(asked.length).toBe(3);
    expect(woken).toEqual([['mail']]);

    poller.watch(['mail']);
    poller.stop();
    await pause(50);
    expect(asked.length).toBe(3);
    expect(woken).toHaveLength(1);
  });
});
