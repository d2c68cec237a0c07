import { readFile } from 'node:fs/promises';
import { readProc, waitFor } from '@qscale/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { PoolEvents, SupervisorEvents, WorkerPool } from '../src/index.js';
import {
  ALL_POOL_EVENTS,
  ALL_SUPERVISOR_EVENTS,
  eventsNamed,
  Harness,
  isAlive,
  liveWithMarker,
  type Recorded,
  recordEvents,
  WAIT,
} from './helpers.js';

let h: Harness;
afterEach(async () => {
  await h.cleanup();
});

async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return Number(kib) * 1024;
}

/** Running workers at each 'stopping' of a recycled worker: capacity must never dip. */
function runningAtEachRecycleStop(pool: WorkerPool): number[] {
  const seen: number[] = [];
  pool.on('stopping', (e) => {
    if (e.reason === 'recycle') seen.push(pool.counts().running);
  });
  return seen;
}

/** The order of spawns, runs and stops, labelled old/new against the given PIDs. */
function timeline(events: Recorded<PoolEvents>[], old: number[]): string[] {
  return events
    .filter((e) => ['spawned', 'running', 'stopping'].includes(e.name))
    .map((e) => `${e.name}:${old.includes((e.payload as { pid: number }).pid) ? 'old' : 'new'}`);
}

describe('recycling', () => {
  it('replaces a worker over the memory limit: the new one runs before the old one stops', async () => {
    h = new Harness();
    const marker = h.marker('memory');
    const supervisor = await h.supervisor();
    const pool = await supervisor.createPool(
      h.options('memory', 'idle.mjs', marker, { recycle: { maxRssBytes: 10_000_000 } }),
    );
    pool.scaleTo(2);
    await h.ready(pool, 2);
    const [heavy, light] = pool.pids() as [number, number];
    const events = recordEvents<PoolEvents>(pool, ALL_POOL_EVENTS);
    const capacity = runningAtEachRecycleStop(pool);

    // The resource monitor's figures: the real RSS of one (a node process is > 10 MB), a
    // small one for the other, which must be left alone.
    const measured = await rssBytes(heavy);
    expect(measured).toBeGreaterThan(10_000_000);
    supervisor.observeResources({
      [String(heavy)]: { rssBytes: measured },
      [String(light)]: { rssBytes: 5_000_000 },
    });
    await waitFor(async () => !(await isAlive(heavy)) && pool.counts().running === 2, {
      ...WAIT,
      what: 'heavy worker replaced',
    });
    expect(eventsNamed(events, 'recycled')).toEqual([
      expect.objectContaining({ pid: heavy, reason: 'memory', rssBytes: measured }),
    ]);
    expect(timeline(events, [heavy, light])).toEqual([
      'spawned:new',
      'running:new',
      'stopping:old',
    ]);
    expect(eventsNamed(events, 'spawned')[0]?.reason).toBe('replacement');
    expect(capacity).toEqual([2]);
    expect(pool.pids()).toContain(light);
    expect(pool.workers().find((w) => w.pid === light)?.rssBytes).toBe(5_000_000);
  });

  it('replaces a worker that lived past its maximum lifetime', async () => {
    h = new Harness();
    const marker = h.marker('lifetime');
    const supervisor = await h.supervisor();
    const pool = await supervisor.createPool(
      h.options('lifetime', 'idle.mjs', marker, {
        spawn: { minUptimeMs: 200 },
        recycle: { maxLifetimeMs: 1_500 },
      }),
    );
    const events = recordEvents<PoolEvents>(pool, ALL_POOL_EVENTS);
    const capacity = runningAtEachRecycleStop(pool);
    pool.scaleTo(1);
    await h.ready(pool, 1);
    const [first] = pool.pids() as [number];
    await waitFor(async () => !(await isAlive(first)) && pool.counts().running === 1, {
      ...WAIT,
      what: 'first worker replaced',
    });
    const recycled = eventsNamed(events, 'recycled')[0];
    expect(recycled).toMatchObject({ pid: first, reason: 'lifetime' });
    expect(recycled?.uptimeMs).toBeGreaterThanOrEqual(1_500);
    expect(timeline(events, [first]).slice(0, 4)).toEqual([
      'spawned:old',
      'running:old',
      'spawned:new',
      'running:new',
    ]);
    expect(capacity[0]).toBe(1);
  });
});

describe('applying new settings', () => {
  it('rolls a new environment out one worker at a time, never below the wanted count', async () => {
    h = new Harness();
    const marker = h.marker('rollout');
    const supervisor = await h.supervisor();
    const pool = await supervisor.createPool(
      h.options('rollout', 'idle.mjs', marker, { env: { RELEASE: 'v1' } }),
    );
    pool.scaleTo(3);
    await h.ready(pool, 3);
    const old = pool.pids();
    const events = recordEvents<PoolEvents>(pool, ALL_POOL_EVENTS);
    const capacity = runningAtEachRecycleStop(pool);
    let mostAlive = 0;
    pool.on('spawned', () => {
      // Stopping workers only finish their current job; they take no new ones.
      const alive = pool.workers().filter((w) => w.state === 'starting' || w.state === 'running');
      mostAlive = Math.max(mostAlive, alive.length);
    });

    expect(
      await pool.update(h.options('rollout', 'idle.mjs', marker, { env: { RELEASE: 'v2' } })),
    ).toEqual({
      replacing: 3,
    });
    await waitFor(
      async () =>
        pool.counts().running === 3 &&
        pool.pids().every((pid) => !old.includes(pid)) &&
        (await Promise.all(old.map(isAlive))).every((alive) => !alive),
      { ...WAIT, what: 'all replaced' },
    );
    for (const pid of pool.pids()) {
      expect(await readFile(`/proc/${pid}/environ`, 'utf8')).toContain('RELEASE=v2');
    }
    expect(capacity).toEqual([3, 3, 3]);
    expect(mostAlive).toBeLessThanOrEqual(4);
    expect(eventsNamed(events, 'recycled').map((e) => e.reason)).toEqual([
      'config',
      'config',
      'config',
    ]);
  });

  it('keeps the old workers running when the new command cannot start', async () => {
    h = new Harness();
    const marker = h.marker('bad-rollout');
    const supervisor = await h.supervisor();
    const restart = {
      backoffInitialMs: 100,
      backoffJitterRatio: 0,
      maxFailedStarts: 2,
      coolOffMs: 60_000,
    };
    const pool = await supervisor.createPool(
      h.options('bad-rollout', 'idle.mjs', marker, { restart }),
    );
    pool.scaleTo(2);
    await h.ready(pool, 2);
    const old = pool.pids();
    const events = recordEvents<PoolEvents>(pool, ALL_POOL_EVENTS);
    await pool.update(
      h.options('bad-rollout', 'crash-now.mjs', marker, { restart, spawn: { minUptimeMs: 5_000 } }),
    );
    await waitFor(() => eventsNamed(events, 'degraded').length === 1, {
      ...WAIT,
      what: 'degraded',
    });
    expect(pool.status()).toMatchObject({ health: 'degraded', running: 2 });
    expect(pool.pids().sort()).toEqual([...old].sort());
    for (const pid of old) expect(await isAlive(pid)).toBe(true);
    expect(eventsNamed(events, 'stopping')).toEqual([]);
  });

  it('applies stop and recycle settings without replacing anyone', async () => {
    h = new Harness();
    const marker = h.marker('soft-update');
    const supervisor = await h.supervisor();
    const pool = await supervisor.createPool(h.options('soft', 'ignore-term.mjs', marker));
    pool.scaleTo(1);
    await h.ready(pool, 1);
    const [pid] = pool.pids();
    const events = recordEvents<PoolEvents>(pool, ALL_POOL_EVENTS);
    const soft = h.options('soft', 'ignore-term.mjs', marker, { stop: { graceMs: 300 } });
    expect(await pool.update(soft)).toEqual({ replacing: 0 });
    expect(pool.pids()).toEqual([pid]);
    // The new grace applies to the next stop: SIGKILL after 300 ms, not 5 s.
    expect(await pool.stop()).toEqual({ stopped: 1, escalated: 1, unkillable: 0 });
    expect(eventsNamed(events, 'spawned')).toEqual([]);
  });
});

describe('supervisor shutdown', () => {
  it('stops every pool in parallel within one deadline', async () => {
    h = new Harness();
    const marker = h.marker('shutdown');
    const supervisor = await h.supervisor();
    const events = recordEvents<SupervisorEvents>(supervisor, ALL_SUPERVISOR_EVENTS);
    const pools = await Promise.all(
      ['a', 'b'].map((name) =>
        supervisor.createPool(
          h.options(name, 'ignore-term.mjs', marker, { stop: { graceMs: 60_000 } }),
        ),
      ),
    );
    for (const pool of pools) pool.scaleTo(2);
    await Promise.all(pools.map((p) => h.ready(p, 2)));
    const pids = pools.flatMap((p) => p.pids());

    // The daemon's deadline (500 ms) caps every pool's 60 s grace.
    expect(await supervisor.stop({ graceMs: 500 })).toEqual({
      stopped: 4,
      escalated: 4,
      unkillable: 0,
    });
    const order = events.map((e) => e.name).filter((n) => n === 'stopping' || n === 'escalated');
    // All four were told to stop before the first SIGKILL: stops run in parallel.
    expect(order).toEqual([
      'stopping',
      'stopping',
      'stopping',
      'stopping',
      'escalated',
      'escalated',
      'escalated',
      'escalated',
    ]);
    for (const pid of pids) expect(await readProc(pid)).toBeNull();
    const state = JSON.parse(await readFile(supervisor.stateFile, 'utf8')) as {
      workers: unknown[];
    };
    expect(state.workers).toEqual([]);
    expect(supervisor.pools()).toEqual([]);
    await expect(supervisor.createPool(h.options('c', 'idle.mjs', marker))).rejects.toMatchObject({
      code: 'STOPPED',
    });
  });

  it('kills every worker group synchronously for the daemon exit handler', async () => {
    h = new Harness();
    const marker = h.marker('kill-sync');
    const supervisor = await h.supervisor();
    const pool = await supervisor.createPool(
      h.options('last-resort', 'grandchild.mjs', marker, { restart: { backoffInitialMs: 60_000 } }),
    );
    pool.scaleTo(2);
    await waitFor(async () => (await liveWithMarker(marker)).length === 4, {
      ...WAIT,
      what: 'two workers and their grandchildren',
    });
    expect(supervisor.killAllSync()).toBe(2);
    await waitFor(async () => (await liveWithMarker(marker)).length === 0, {
      ...WAIT,
      what: 'all killed, grandchildren included',
    });
  });
});
