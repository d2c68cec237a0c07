import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { waitFor } from '@qscale/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { PoolEvents, WorkerPool } from '../src/index.js';
import { ALL_POOL_EVENTS, eventsNamed, fixture, Harness, recordEvents, WAIT } from './helpers.js';

let h: Harness;
afterEach(async () => {
  await h.cleanup();
});

/** Records when each spawn happened (monotonic ms), to compare with the announced backoffs. */
function spawnTimes(pool: WorkerPool): number[] {
  const times: number[] = [];
  pool.on('spawned', () => times.push(performance.now()));
  return times;
}

/** Longer than any node boot on a loaded machine: crash-now workers are always failed starts. */
const SLOW_START = { minUptimeMs: 5_000 };

const FAST_RESTARTS = {
  backoffInitialMs: 100,
  backoffMaxMs: 400,
  backoffJitterRatio: 0,
  maxFailedStarts: 4,
  coolOffMs: 60_000,
};

describe('crash loops', () => {
  it('backs off, then degrades after the failed starts in a row, spawning a bounded number of times', async () => {
    h = new Harness();
    const marker = h.marker('crash-now');
    const supervisor = await h.supervisor();
    // The first backoff is long enough for the whole first wave to fail inside it.
    const pool = await supervisor.createPool(
      h.options('broken', 'crash-now.mjs', marker, {
        spawn: SLOW_START,
        restart: { ...FAST_RESTARTS, backoffInitialMs: 2_000, backoffMaxMs: 8_000 },
      }),
    );
    const events = recordEvents<PoolEvents>(pool, ALL_POOL_EVENTS);
    const times = spawnTimes(pool);
    pool.scaleTo(3);
    await waitFor(() => eventsNamed(events, 'degraded').length === 1, {
      ...WAIT,
      what: 'degraded',
    });

    const crashed = eventsNamed(events, 'crashed');
    expect(crashed.length).toBeGreaterThanOrEqual(4);
    for (const crash of crashed) {
      expect(crash).toMatchObject({ failedStart: true, code: 1, signal: null });
      expect(crash.lastOutput).toEqual(['fatal: cannot connect to the queue']);
    }
    // The first wave (3) fails together: one incident, one backoff (on a loaded machine its
    // crashes may straddle a backoff: each later incident doubles it). After it, one probe at
    // a time: the 4th failed start in a row makes the queue degraded.
    const delays = eventsNamed(events, 'backoff').map((e) => e.delayMs);
    expect(delays.length).toBeGreaterThanOrEqual(1);
    expect(delays).toEqual([2_000, 4_000, 8_000].slice(0, delays.length));
    expect(times.length).toBe(4);
    expect((times[3] ?? 0) - (times[2] ?? 0)).toBeGreaterThanOrEqual(2_000);
    expect(eventsNamed(events, 'degraded')[0]).toMatchObject({
      failedStarts: 4,
      retryInMs: 60_000,
    });
    const status = pool.status();
    expect(status).toMatchObject({ health: 'degraded', failedStarts: 4, running: 0, starting: 0 });
    expect(status.retryInMs).toBeGreaterThan(0);
    expect(status.lastExit).toMatchObject({ outcome: 'failed-start', code: 1 });
    // A tick while degraded spawns nothing: the gate stays shut for the cool-off.
    pool.scaleTo(3);
    await new Promise((resolve) => setImmediate(resolve)); // scaleTo acts on the next turn
    await new Promise((resolve) => setImmediate(resolve));
    expect(times.length).toBe(4);
    expect(pool.pids()).toEqual([]);
  });

  it('probes one worker per cool-off while degraded, and recovers when the command is fixed', async () => {
    h = new Harness();
    const marker = h.marker('cool-off');
    const supervisor = await h.supervisor();
    const pool = await supervisor.createPool(
      h.options('flaky', 'crash-now.mjs', marker, {
        spawn: SLOW_START,
        restart: { ...FAST_RESTARTS, maxFailedStarts: 2, coolOffMs: 500 },
      }),
    );
    const events = recordEvents<PoolEvents>(pool, ALL_POOL_EVENTS);
    const times = spawnTimes(pool);
    pool.scaleTo(1);
    await waitFor(() => eventsNamed(events, 'degraded').length === 3, {
      ...WAIT,
      what: 'degraded three times',
    });
    // 2 failed starts, then exactly one probe per cool-off: bounded, whatever the pool size.
    expect(times.length).toBe(4);
    for (const [index, gap] of [
      [2, 500],
      [3, 500],
    ] as const) {
      expect((times[index] ?? 0) - (times[index - 1] ?? 0)).toBeGreaterThanOrEqual(gap);
    }

    const { replacing } = await pool.update(h.options('flaky', 'idle.mjs', marker));
    expect(replacing).toBe(0);
    await h.ready(pool, 1);
    expect(eventsNamed(events, 'recovered')).toEqual([{ queue: 'flaky' }]);
    expect(pool.status()).toMatchObject({ health: 'ok', failedStarts: 0 });
  });

  it('backs off with doubling delays when a worker keeps crashing after it ran', async () => {
    h = new Harness();
    const marker = h.marker('crash-after');
    const supervisor = await h.supervisor();
    const options = h.options('crashes-later', 'crash-after.mjs', marker, {
      spawn: { minUptimeMs: 200 },
      restart: { ...FAST_RESTARTS, backoffMaxMs: 800 },
    });
    const pool = await supervisor.createPool({ ...options, command: [...options.command, '500'] });
    const events = recordEvents<PoolEvents>(pool, ALL_POOL_EVENTS);
    const times = spawnTimes(pool);
    pool.scaleTo(1);
    await waitFor(() => eventsNamed(events, 'backoff').length === 5, {
      ...WAIT,
      what: '5 backoffs',
    });
    expect(eventsNamed(events, 'backoff').map((e) => e.delayMs)).toEqual([100, 200, 400, 800, 800]);
    for (const crash of eventsNamed(events, 'crashed')) {
      expect(crash).toMatchObject({ failedStart: false, code: 3, signal: null });
    }
    // Starts that succeed are not failed starts: never degraded.
    expect(eventsNamed(events, 'degraded')).toEqual([]);
    expect(pool.status().lastExit).toMatchObject({ outcome: 'crashed', code: 3 });
    expect(
      eventsNamed(events, 'spawned')
        .slice(1)
        .every((e) => e.reason === 'restart'),
    ).toBe(true);
    const delays = eventsNamed(events, 'backoff').map((e) => e.delayMs);
    // Each restart waited at least its announced delay after the crash (crash = spawn + 500).
    for (let index = 1; index < times.length; index++) {
      const gap = (times[index] ?? 0) - (times[index - 1] ?? 0);
      expect(gap).toBeGreaterThanOrEqual(500 + (delays[index - 1] ?? 0));
    }
    expect(times.length).toBeGreaterThanOrEqual(5);
  });

  it('starts the delays over for a worker that crashes after the reset uptime', async () => {
    h = new Harness();
    const marker = h.marker('reset');
    const supervisor = await h.supervisor();
    const options = h.options('long-runs', 'crash-after.mjs', marker, {
      spawn: { minUptimeMs: 100 },
      restart: { ...FAST_RESTARTS, backoffResetMs: 400 },
    });
    const pool = await supervisor.createPool({ ...options, command: [...options.command, '600'] });
    const events = recordEvents<PoolEvents>(pool, ALL_POOL_EVENTS);
    pool.scaleTo(1);
    await waitFor(() => eventsNamed(events, 'backoff').length === 3, {
      ...WAIT,
      what: '3 backoffs',
    });
    expect(eventsNamed(events, 'backoff').map((e) => e.delayMs)).toEqual([100, 100, 100]);
  });

  it('treats an exit 0 before the minimum uptime as a failed start, and after it as finished', async () => {
    h = new Harness();
    const quick = h.marker('exit-zero');
    const supervisor = await h.supervisor();
    const failing = await supervisor.createPool(
      h.options('exits-at-once', 'exit-zero.mjs', quick, {
        spawn: SLOW_START,
        restart: { ...FAST_RESTARTS },
      }),
    );
    const failingEvents = recordEvents<PoolEvents>(failing, ALL_POOL_EVENTS);
    failing.scaleTo(1);
    await waitFor(() => eventsNamed(failingEvents, 'degraded').length === 1, {
      ...WAIT,
      what: 'degraded',
    });
    expect(eventsNamed(failingEvents, 'exited').map((e) => [e.outcome, e.code])).toEqual(
      Array(4).fill(['failed-start', 0]),
    );

    const done = h.marker('finished');
    const options = h.options('max-jobs', 'crash-after.mjs', done, { spawn: { minUptimeMs: 100 } });
    const finishing = await supervisor.createPool({
      ...options,
      command: [...options.command, '300', '0'],
    });
    const events = recordEvents<PoolEvents>(finishing, ALL_POOL_EVENTS);
    finishing.scaleTo(1);
    await waitFor(() => eventsNamed(events, 'exited').length >= 3, { ...WAIT, what: '3 exits' });
    // Like `queue:work --max-jobs`: replaced at once, no backoff, not a crash.
    expect(eventsNamed(events, 'exited').every((e) => e.outcome === 'finished')).toBe(true);
    expect(eventsNamed(events, 'crashed')).toEqual([]);
    expect(eventsNamed(events, 'backoff')).toEqual([]);
  });

  it('reports a spawn error (program gone after the pool was created) as a failed start', async () => {
    h = new Harness();
    const marker = h.marker('enoent');
    const program = join(await h.stateFile(), '..', 'worker-binary');
    await mkdir(dirname(program), { recursive: true });
    await writeFile(program, '#!/bin/false\n', { mode: 0o755 });
    const supervisor = await h.supervisor();
    const pool = await supervisor.createPool({
      ...h.options('vanishing', 'idle.mjs', marker, { restart: { ...FAST_RESTARTS } }),
      command: [program, fixture('idle.mjs'), marker],
    });
    await rm(program);
    const events = recordEvents<PoolEvents>(pool, ALL_POOL_EVENTS);
    pool.scaleTo(1);
    await waitFor(() => eventsNamed(events, 'crashed').length >= 1, { ...WAIT, what: 'crash' });
    expect(eventsNamed(events, 'crashed')[0]).toMatchObject({
      failedStart: true,
      code: null,
      pid: null,
    });
    expect(eventsNamed(events, 'crashed')[0]?.error).toMatch(/ENOENT/);
    expect(eventsNamed(events, 'spawned')).toEqual([]);
  });
});

describe('bad input', () => {
  it('rejects bad pool options with a message naming each problem, and starts nothing', async () => {
    h = new Harness();
    const marker = h.marker('bad');
    const supervisor = await h.supervisor();
    const good = h.options('bad', 'idle.mjs', marker);
    const cases: [unknown, string, RegExp][] = [
      [{ ...good, command: 'php artisan queue:work' }, 'INVALID_OPTIONS', /command: .*argv array/],
      [{ ...good, command: [] }, 'INVALID_OPTIONS', /command: expected at least the program/],
      [{ ...good, stop: { graceMs: -1 } }, 'INVALID_OPTIONS', /stop\.graceMs: .*0 ms or more/],
      [
        { ...good, stop: { signals: ['SIGKILL'] } },
        'INVALID_OPTIONS',
        /stop\.signals\.0: .*SIGTERM/,
      ],
      [{ ...good, env: { 'BAD-NAME': 'x' } }, 'INVALID_OPTIONS', /env\.BAD-NAME/],
      [
        { ...good, command: ['no-such-program-qscale'] },
        'COMMAND_NOT_FOUND',
        /no-such-program-qscale.*PATH/,
      ],
      [
        { ...good, command: ['./missing.sh'] },
        'COMMAND_NOT_FOUND',
        /missing\.sh.*not an executable/,
      ],
      [{ ...good, cwd: '/no/such/dir' }, 'CWD_NOT_FOUND', /\/no\/such\/dir does not exist/],
      [{ ...good, user: 'no-such-user-qscale' }, 'ACCOUNT_NOT_FOUND', /no-such-user-qscale/],
      [
        { ...good, user: 'nobody', group: 'no-such-group-qscale' },
        'ACCOUNT_NOT_FOUND',
        /no-such-group/,
      ],
    ];
    for (const [options, code, message] of cases) {
      const attempt = supervisor.createPool(options as Parameters<typeof supervisor.createPool>[0]);
      await expect(attempt, JSON.stringify(options)).rejects.toMatchObject({
        code,
        name: 'SupervisorError',
      });
      await expect(supervisor.createPool(options as never)).rejects.toThrow(message);
    }
    expect(supervisor.pools()).toEqual([]);

    const pool = await supervisor.createPool(good);
    await expect(supervisor.createPool(good)).rejects.toMatchObject({ code: 'POOL_EXISTS' });
    expect(() => pool.scaleTo(-1)).toThrow(/whole number of workers of 0 or more, got -1/);
    expect(() => pool.scaleTo(1.5)).toThrow(/got 1.5/);
    await expect(pool.update({ ...good, name: 'other' })).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
    });
    expect(pool.pids()).toEqual([]);
  });

  it('rejects bad supervisor options', async () => {
    h = new Harness();
    await expect(h.supervisor({ previousWorkers: 'keep' as never })).rejects.toThrow(
      /previousWorkers: expected previousWorkers to be adopt or stop/,
    );
    await expect(h.supervisor({ stateFile: '' })).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
    });
    // A regular file where the folder should be: nothing can be written there, even by root.
    const blocker = join(dirname(await h.stateFile()), '..', 'blocker');
    await writeFile(blocker, '');
    await expect(h.supervisor({ stateFile: join(blocker, 'state.json') })).rejects.toMatchObject({
      code: 'STATE_FILE_UNWRITABLE',
    });
  });
});
