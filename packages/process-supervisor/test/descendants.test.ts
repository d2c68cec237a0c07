import { readProc, waitFor } from '@qscale/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { PoolEvents } from '../src/index.js';
import {
  ALL_POOL_EVENTS,
  eventsNamed,
  Harness,
  isAlive,
  liveWithMarker,
  recordEvents,
  WAIT,
} from './helpers.js';

let h: Harness;
afterEach(async () => {
  await h.cleanup();
});

/** The child PID a setsid-child.mjs worker announced in its ready line. */
async function childOf(worker: number): Promise<number> {
  const match = await h.line(new RegExp(`^ready ${worker} child (\\d+)$`));
  const child = Number(match[1]);
  // The child's own handlers are installed too.
  await h.line(new RegExp(`^child ready ${child}$`));
  return child;
}

describe('descendants that leave the worker group', () => {
  it('leaves a child in its own session to its worker during the grace (RQ’s warm shutdown)', async () => {
    h = new Harness();
    const marker = h.marker('setsid-mixed');
    const supervisor = await h.supervisor();
    // The worker waits for its child on SIGTERM, as RQ's warm shutdown waits for its work
    // horse; the child would die of a SIGTERM ("exit" mode), failing its job.
    const pool = await supervisor.createPool({
      ...h.options('horse', 'setsid-child.mjs', marker, { stop: { graceMs: 60_000 } }),
      command: h.options('x', 'setsid-child.mjs', marker).command.concat(['wait', 'exit']),
    });
    pool.scaleTo(1);
    const [worker = 0] = await h.ready(pool, 1);
    const child = await childOf(worker);
    const info = await readProc(child);
    expect(info?.ppid).toBe(worker);
    expect(info?.pgid).toBe(child); // its own group (and session), out of the worker's

    const stopped = pool.stop();
    await h.line(new RegExp(`^worker got SIGTERM ${worker}$`));
    // The job ends on its own within the grace; then the worker exits by itself.
    process.kill(child, 'SIGUSR1');
    expect(await stopped).toEqual({ stopped: 1, escalated: 0, unkillable: 0 });
    const messages = h.logger.lines.map((l) => l.message);
    // The child printed exactly one of the two before exiting: it never saw the SIGTERM.
    expect(messages).toContain(`child finished its job ${child}`);
    expect(messages).not.toContain(`child got SIGTERM ${child}`);
    expect(await liveWithMarker(marker)).toEqual([]);
  });

  it('SIGKILLs a child in its own session that ignores SIGTERM, with its worker, after the grace', async () => {
    h = new Harness();
    const marker = h.marker('setsid-kill');
    const supervisor = await h.supervisor();
    const pool = await supervisor.createPool({
      ...h.options('stubborn-horse', 'setsid-child.mjs', marker, { stop: { graceMs: 1_000 } }),
      command: h.options('x', 'setsid-child.mjs', marker).command.concat(['wait', 'ignore']),
    });
    const events = recordEvents<PoolEvents>(pool, ALL_POOL_EVENTS);
    pool.scaleTo(1);
    const [worker = 0] = await h.ready(pool, 1);
    const child = await childOf(worker);

    expect(await pool.stop()).toEqual({ stopped: 1, escalated: 1, unkillable: 0 });
    expect(eventsNamed(events, 'exited')).toMatchObject([{ pid: worker, signal: 'SIGKILL' }]);
    // Stopped means stopped: nothing of the tree runs once stop() resolves.
    expect(await isAlive(child)).toBe(false);
    expect(await liveWithMarker(marker)).toEqual([]);
  });

  it('kills what a worker left outside its group when it exits, on scale-down and supervisor stop', async () => {
    h = new Harness();
    const marker = h.marker('setsid-leftover');
    const supervisor = await h.supervisor();
    // The worker exits at once on SIGTERM; its child ignores SIGTERM and would run on.
    const pool = await supervisor.createPool({
      ...h.options('leaver', 'setsid-child.mjs', marker, { stop: { graceMs: 30_000 } }),
      command: h.options('x', 'setsid-child.mjs', marker).command.concat(['exit', 'ignore']),
    });
    const events = recordEvents<PoolEvents>(pool, ALL_POOL_EVENTS);
    pool.scaleTo(2);
    const workers = await h.ready(pool, 2);
    const children = await Promise.all(workers.map(childOf));
    const youngest = eventsNamed(events, 'spawned').at(-1)?.pid;
    const kept = workers.find((pid) => pid !== youngest) ?? 0;

    pool.scaleTo(1);
    await waitFor(() => eventsNamed(events, 'exited').length === 1, { ...WAIT, what: 'exit' });
    expect(eventsNamed(events, 'exited')).toMatchObject([
      { pid: youngest, outcome: 'stopped', code: 0 },
    ]);
    const [left, stays] = youngest === workers[0] ? children : [...children].reverse();
    expect(await isAlive(left ?? 0)).toBe(false);
    expect(await isAlive(stays ?? 0)).toBe(true);
    expect(await isAlive(kept)).toBe(true);

    expect(await supervisor.stop()).toEqual({ stopped: 1, escalated: 0, unkillable: 0 });
    expect(await isAlive(stays ?? 0)).toBe(false);
    expect(await liveWithMarker(marker)).toEqual([]);
  });

  it('remembers a double-forked grandchild re-parented to init, and kills it with its worker', async () => {
    h = new Harness();
    const marker = h.marker('double-fork');
    const supervisor = await h.supervisor({ treeScanMs: 100 });
    const pool = await supervisor.createPool(h.options('daemonizer', 'double-fork.mjs', marker));
    pool.scaleTo(1);
    const [worker = 0] = await h.ready(pool, 1);
    const forked = await h.line(/^middle (\d+) grandchild (\d+)$/);
    const middle = Number(forked[1]);
    const grandchild = Number(forked[2]);
    await h.line(new RegExp(`^child ready ${grandchild}$`));
    // The supervisor has seen the grandchild while its parent lived...
    await waitFor(
      () =>
        h.logger.lines.some(
          (l) => l.message === 'worker descendant found' && l.fields.descendant === grandchild,
        ),
      { ...WAIT, what: 'the grandchild tracked' },
    );
    // ...then the middle process exits: the grandchild, in a session of its own, is now a
    // child of init (or of the nearest subreaper), no longer linked to the worker at all.
    process.kill(middle, 'SIGUSR2');
    await waitFor(async () => (await readProc(grandchild))?.ppid !== middle, {
      ...WAIT,
      what: 'grandchild re-parented',
    });
    const orphan = await readProc(grandchild);
    expect(orphan?.pgid).toBe(grandchild);
    expect(orphan?.pgid).not.toBe(worker);

    // The worker exits on SIGTERM at once; the grandchild ignores it and goes at the exit.
    expect(await pool.stop()).toEqual({ stopped: 1, escalated: 0, unkillable: 0 });
    expect(await isAlive(grandchild)).toBe(false);
    expect(await liveWithMarker(marker)).toEqual([]);
  });
});
