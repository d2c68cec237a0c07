import type { Decision, HostCapacity, ResourceSnapshot } from '@qscale/contracts';
import { describe, expect, it } from 'vitest';
import { RingBuffer } from '../loop/ring-buffer.js';
import { type DecisionRecord, HoldLog, type HostView, holdOf } from './holds.js';

const limits = { maxWorkers: 16, cpu: { maxPercent: 85 }, memory: { maxPercent: 85 } };

function decision(from: number, to: number, asked: number, edits: Decision['edits']): Decision {
  return {
    queue: 'emails',
    from,
    to,
    recommendation: { workers: asked, reason: 'backlog drain', terms: {} },
    edits,
  };
}

const cut = [
  { policy: 'bounds', from: 70, to: 10, why: "the queue's max is 10" },
  { policy: 'fair-share', from: 10, to: 1, why: 'the host holds 1 workers (limited by cpu)' },
];

/** A 2-core host, 1.8 cores busy, of which the one worker uses 0.05. */
const busyHost: HostView = {
  resources: {
    at: 0,
    source: 'host',
    cpu: { limitCores: 2, usedCores: 1.8 },
    memory: { limitBytes: 8 * 2 ** 30, usedBytes: 2 ** 30 },
    perWorker: { '123': { rssBytes: 60 * 2 ** 20, cpuCores: 0.05 } },
  } as ResourceSnapshot,
  capacity: {
    maxWorkers: 1,
    limiter: 'cpu',
    headroom: { cpuCores: -0.1, memoryBytes: 6 * 2 ** 30 },
    why: 'cpu: 1.70 cores budget (85% of 2.00 cores) − 0.90 cores the workers waited for a CPU = 0.80 cores free / 0.80 cores per worker = 1',
  } as HostCapacity,
  limits,
};

describe('holds: a decision below the strategy recommendation, with the policies that held it', () => {
  it('names every policy that lowered the count and the limiting resource with its figures', () => {
    const hold = holdOf(decision(1, 1, 70, cut), busyHost, 5);
    expect(hold).toMatchObject({
      recommended: 70,
      decided: 1,
      by: ['bounds', 'fair-share'],
      since: 5,
    });
    expect(hold?.reason).toBe(
      "bounds: the queue's max is 10; fair-share: host capacity (cpu: 1.70 cores budget (85% of 2.00 cores) − 0.90 cores the workers waited for a CPU = 0.80 cores free / 0.80 cores per worker = 1): room for 1 worker for all queues together",
    );
  });

  it('is no hold when the decision reaches the recommendation, even after edits', () => {
    const raised = [{ policy: 'bounds', from: 0, to: 1, why: "the queue's min is 1" }];
    expect(holdOf(decision(0, 1, 0, raised), busyHost, 0)).toBeNull();
  });

  it("carries a host-capacity cut's own figures: the resource, free / cost = workers", () => {
    const why =
      'memory: 2.0 GiB budget (50% of 4.0 GiB) − 500 MiB used by other processes = 1.5 GiB free / 200 MiB per worker = 7';
    const hold = holdOf(
      decision(7, 7, 12, [{ policy: 'host-capacity', from: 12, to: 7, why }]),
      busyHost,
      0,
    );
    expect(hold).toMatchObject({ by: ['host-capacity'], reason: `host-capacity: ${why}` });
  });

  it('names the configured cap when limits.maxWorkers is what the queues share', () => {
    const hold = holdOf(
      decision(0, 1, 3, [cut[1] as Decision['edits'][number]]),
      { ...busyHost, capacity: null },
      0,
    );
    expect(hold?.reason).toBe(
      'fair-share: limits.maxWorkers is 16 for all queues together, shared across them',
    );
  });

  it('folds repeated holds into one record that lasts, and starts a new one after a change', () => {
    const log = new RingBuffer<DecisionRecord>(10);
    const holds = new HoldLog(log);
    for (const now of [1_000, 2_000, 3_000]) {
      const held = decision(1, 1, 60 + now / 1_000, cut);
      const hold = holds.hold(held, busyHost, now);
      if (hold) holds.recordHold(held, hold, now, now / 1_000);
    }
    expect(log.toArray()).toHaveLength(1);
    expect(log.toArray()[0]).toMatchObject({
      direction: 'hold',
      at: 1_000,
      until: 3_000,
      heldTicks: 3,
      held: { recommended: 63, since: 1_000 },
    });
    expect(holds.current('emails')?.since).toBe(1_000);

    holds.changed('emails');
    const after = decision(1, 1, 70, cut);
    const hold = holds.hold(after, busyHost, 4_000);
    if (hold) holds.recordHold(after, hold, 4_000, 4);
    expect(log.toArray()).toHaveLength(2);

    // The queue reaches its recommendation: no current hold any more.
    expect(holds.hold(decision(1, 2, 2, []), busyHost, 5_000)).toBeNull();
    expect(holds.current('emails')).toBeNull();
  });
});
