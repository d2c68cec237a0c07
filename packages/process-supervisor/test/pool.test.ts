import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readProc, waitFor } from '@qscale/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { PoolEvents, WorkerPool } from '../src/index.js';
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

/** Running, and ready: each worker has installed its signal handlers. */
function runningPids(pool: WorkerPool, count: number): Promise<number[]> {
  return h.ready(pool, count);
}

describe('spawning and counting', () => {
  it('scales up and down, youngest first, without blocking, and leaves nothing after stop()', async () => {
    h = new Harness();
    const marker = h.marker('scale');
    const supervisor = await h.supervisor();
    const pool = await supervisor.createPool(h.options('scale', 'idle.mjs', marker));
    const events = recordEvents<PoolEvents>(pool, ALL_POOL_EVENTS);

    pool.scaleTo(3);
    // scaleTo only records the wish: nothing has run yet, the slots count as starting.
    expect(pool.counts()).toEqual({ running: 0, starting: 3, stopping: 0, concurrency: 1 });
    expect(pool.pids()).toEqual([]);
    const pids = await runningPids(pool, 3);
    expect((await liveWithMarker(marker)).map((p) => p.pid).sort()).toEqual([...pids].sort());
    for (const pid of pids) {
      // Each worker leads its own process group (and session), so a stop reaches its children.
      expect((await readProc(pid))?.pgid).toBe(pid);
    }

    const spawned = eventsNamed(events, 'spawned');
    const youngest = spawned.at(-1)?.pid;
    pool.scaleTo(2);
    await waitFor(() => eventsNamed(events, 'exited').length === 1, {
      ...WAIT,
      what: 'one worker stopped',
    });
    expect(pool.pids()).toHaveLength(2);
    expect(eventsNamed(events, 'stopping').map((e) => [e.pid, e.reason])).toEqual([
      [youngest, 'scale-down'],
    ]);
    const exited = eventsNamed(events, 'exited');
    expect(exited).toMatchObject([{ pid: youngest, outcome: 'stopped', code: 0, signal: null }]);
    expect(pool.spawnLatency()?.samples).toBe(3);

    const summary = await pool.stop();
    expect(summary).toEqual({ stopped: 2, escalated: 0, unkillable: 0 });
    for (const pid of pids) expect(await readProc(pid)).toBeNull();
    expect(await liveWithMarker(marker)).toEqual([]);
    expect(() => pool.scaleTo(1)).toThrow(/stopped/);
  });

  it('gives workers only the configured environment plus PATH, and passes arguments literally', async () => {
    h = new Harness();
    const marker = h.marker('argv');
    const sentinel = join(await h.stateFile(), '..', 'injected');
    const hostile = [`a;touch ${sentinel} #`, `$(touch ${sentinel})`, `\`touch ${sentinel}\``];
    process.env.QSCALE_TEST_DAEMON_ONLY = 'must-not-leak';
    try {
      const supervisor = await h.supervisor();
      const pool = await supervisor.createPool({
        ...h.options(`queue ${hostile[0]}`, 'talk.mjs', marker),
        command: [
          process.execPath,
          join(h.options('x', 'talk.mjs', marker).cwd, 'talk.mjs'),
          marker,
          ...hostile,
        ],
        env: { APP_ENV: 'test', DB_PASSWORD: 'hunter2-very-secret' },
      });
      pool.scaleTo(1);
      const [pid] = await runningPids(pool, 1);
      const info = await readProc(pid ?? 0);
      expect(info?.argv.slice(2)).toEqual([marker, ...hostile]);
      const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0').filter(Boolean);
      // ...and the worker's own adoption token, which the supervisor adds.
      expect(environ.map((line) => line.split('=')[0]).sort()).toEqual([
        'APP_ENV',
        'DB_PASSWORD',
        'PATH',
        'QSCALE_WORKER_TOKEN',
      ]);
      expect(environ).toContain(`PATH=${process.env.PATH}`);
      expect(existsSync(sentinel)).toBe(false);
    } finally {
      delete process.env.QSCALE_TEST_DAEMON_ONLY;
    }
  });

  it('runs workers as the configured user and group', async () => {
    h = new Harness();
    const marker = h.marker('user');
    const supervisor = await h.supervisor({ refuseRoot: true });
    const pool = await supervisor.createPool({
      ...h.options('as-nobody', 'idle.mjs', marker),
      user: 'nobody',
    });
    pool.scaleTo(1);
    const [pid] = await runningPids(pool, 1);
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const ids = (key: string) =>
      status
        .split('\n')
        .find((line) => line.startsWith(`${key}:`))
        ?.split(/\s+/)
        .slice(1)
        .filter(Boolean);
    expect(ids('Uid')).toEqual(['65534', '65534', '65534', '65534']);
    expect(ids('Gid')).toEqual(['65534', '65534', '65534', '65534']);
    // root's supplementary groups are dropped too
    expect(ids('Groups')).toEqual([]);
  });

  it('warns when workers would run as root, and refuses with refuseRoot', async () => {
    h = new Harness();
    const marker = h.marker('root');
    const isRoot = process.getuid?.() === 0;
    const supervisor = await h.supervisor();
    await supervisor.createPool(h.options('as-root', 'idle.mjs', marker));
    expect(h.logger.lines.some((l) => l.level === 'warn' && /run as root/.test(l.message))).toBe(
      isRoot,
    );
    const strict = await h.supervisor({ stateFile: join(h.dir, 'strict.json'), refuseRoot: true });
    const attempt = strict.createPool(h.options('as-root', 'idle.mjs', marker));
    if (isRoot) await expect(attempt).rejects.toMatchObject({ code: 'ROOT_REFUSED' });
    else await expect(attempt).resolves.toBeDefined();
  });
});

describe('stopping', () => {
  it('escalates to SIGKILL of the group when a worker ignores SIGTERM', async () => {
    h = new Harness();
    const marker = h.marker('ignore-term');
    const supervisor = await h.supervisor();
    const pool = await supervisor.createPool(
      h.options('stubborn', 'ignore-term.mjs', marker, { stop: { graceMs: 1_000 } }),
    );
    const events = recordEvents<PoolEvents>(pool, ALL_POOL_EVENTS);
    pool.scaleTo(2);
    const pids = await runningPids(pool, 2);
    const summary = await pool.stop();
    expect(summary).toEqual({ stopped: 2, escalated: 2, unkillable: 0 });
    expect(
      eventsNamed(events, 'escalated')
        .map((e) => e.pid)
        .sort(),
    ).toEqual([...pids].sort());
    for (const e of eventsNamed(events, 'escalated'))
      expect(e.afterMs).toBeGreaterThanOrEqual(1_000);
    expect(eventsNamed(events, 'exited').map((e) => e.signal)).toEqual(['SIGKILL', 'SIGKILL']);
    for (const pid of pids) expect(await readProc(pid)).toBeNull();
  });

  it('sends a list of stop signals in order (e.g. TSTP then TERM)', async () => {
    h = new Harness();
    const marker = h.marker('signals');
    const supervisor = await h.supervisor();
    const pool = await supervisor.createPool(
      h.options('sidekiq-like', 'quiet-then-term.mjs', marker, {
        stop: { signals: ['TSTP', 'SIGTERM'], graceMs: 10_000, signalGapMs: 200 },
      }),
    );
    const events = recordEvents<PoolEvents>(pool, ALL_POOL_EVENTS);
    pool.scaleTo(1);
    await runningPids(pool, 1);
    const summary = await pool.stop();
    expect(eventsNamed(events, 'stopping')[0]?.signal).toBe('SIGTSTP');
    const said = h.logger.lines.map((l) => l.message).filter((m) => m.startsWith('got '));
    expect(said).toEqual(['got SIGTSTP: quiet', 'got SIGTERM: exiting']);
    expect(summary.escalated).toBe(0);
    expect(eventsNamed(events, 'exited')[0]).toMatchObject({
      outcome: 'stopped',
      code: 0,
      signal: null,
    });
  });

  it('stops a stopped (SIGSTOP) worker with SIGTERM, without waiting for SIGKILL', async () => {
    h = new Harness();
    const marker = h.marker('sigstop');
    const supervisor = await h.supervisor();
    const pool = await supervisor.createPool(
      h.options('frozen', 'idle.mjs', marker, { stop: { graceMs: 15_000 } }),
    );
    pool.scaleTo(1);
    const [pid] = await runningPids(pool, 1);
    process.kill(pid ?? 0, 'SIGSTOP');
    await waitFor(async () => (await readProc(pid ?? 0))?.state === 'T', {
      ...WAIT,
      what: 'stopped',
    });
    const summary = await pool.stop();
    expect(summary).toEqual({ stopped: 1, escalated: 0, unkillable: 0 });
    expect(pool.status().lastExit).toMatchObject({ code: 0, outcome: 'stopped' });
  });

  it('kills a grandchild that ignores SIGTERM with its worker on stop', async () => {
    h = new Harness();
    const marker = h.marker('grandchild');
    const supervisor = await h.supervisor();
    const pool = await supervisor.createPool(
      h.options('family', 'grandchild.mjs', marker, { stop: { graceMs: 5_000 } }),
    );
    pool.scaleTo(1);
    const [worker] = await runningPids(pool, 1);
    await waitFor(async () => (await liveWithMarker(marker)).length === 2, {
      ...WAIT,
      what: 'worker and grandchild',
    });
    const grandchild = (await liveWithMarker(marker)).find((p) => p.pid !== worker);
    // It ignores SIGTERM from here on.
    await h.line(new RegExp(`^ready ${grandchild?.pid}$`));
    expect(grandchild?.pgid).toBe(worker);
    expect(grandchild?.ppid).toBe(worker);

    // The worker exits on SIGTERM well within the grace; the grandchild, which ignored it,
    // goes with the group SIGKILL that follows the worker's exit.
    await pool.stop();
    await waitFor(async () => !(await isAlive(grandchild?.pid ?? 0)), {
      ...WAIT,
      what: 'grandchild gone',
    });
    expect(await readProc(worker ?? 0)).toBeNull();
    // A killed grandchild may linger as a zombie until init reaps it: it is init's child
    // now, never ours, and runs nothing.
    const left = await readProc(grandchild?.pid ?? 0);
    if (left) expect(left).toMatchObject({ state: 'Z', ppid: 1 });
  });

  it('kills what a crashed worker left in its group', async () => {
    h = new Harness();
    const marker = h.marker('orphan');
    const supervisor = await h.supervisor();
    const options = h.options('crashy-family', 'grandchild.mjs', marker, {
      restart: { backoffInitialMs: 60_000 },
    });
    const pool = await supervisor.createPool({
      ...options,
      command: [...options.command, '1500'],
    });
    const crashed: PoolEvents['crashed'][] = [];
    pool.on('crashed', (e) => crashed.push(e));
    const spawned: number[] = [];
    pool.on('spawned', (e) => spawned.push(e.pid));
    pool.scaleTo(1);
    // Both PIDs from what the processes said, not from /proc scans that a loaded machine may
    // finish only after the worker's 1.5 s crash (its grandchild then gone with it).
    const grandchild = Number((await h.line(/^grandchild (\d+)$/))[1]);
    await waitFor(() => crashed.length === 1, { ...WAIT, what: 'the crash' });
    const [worker] = spawned;
    expect(grandchild).toBeGreaterThan(0);
    expect(grandchild).not.toBe(worker);
    expect(crashed[0]).toMatchObject({ pid: worker, code: 1, failedStart: false });
    // The backoff (60 s) holds the restart back, so nothing with the marker may run now.
    await waitFor(async () => !(await isAlive(grandchild)), {
      ...WAIT,
      what: 'orphaned grandchild killed',
    });
    expect(await liveWithMarker(marker)).toEqual([]);
    expect(pool.counts()).toMatchObject({ running: 0, starting: 1 });
  });
});

describe('output', () => {
  it('reads a 10 MB burst without blocking the worker, with bounded logging', async () => {
    h = new Harness();
    const marker = h.marker('chatty');
    const done = join(await h.stateFile(), '..', 'chatty-done');
    const supervisor = await h.supervisor();
    const pool = await supervisor.createPool({
      ...h.options('chatty', 'chatty.mjs', marker),
      command: [
        process.execPath,
        join(h.options('x', 'chatty.mjs', marker).cwd, 'chatty.mjs'),
        marker,
        done,
      ],
      output: { linesPerSecond: 50, burstLines: 100, tailLines: 5 },
    });
    const dropped: number[] = [];
    pool.on('output-dropped', (e) => dropped.push(e.lines));
    pool.scaleTo(1);
    // The worker writes everything and records it: the pipe never blocked for good.
    await waitFor(() => existsSync(done), { ...WAIT, what: 'chatty worker finished writing' });
    expect(Number(await readFile(done, 'utf8'))).toBeGreaterThanOrEqual(10 * 1024 * 1024);
    await waitFor(() => dropped.reduce((a, b) => a + b, 0) > 100_000, {
      ...WAIT,
      what: 'dropped lines reported',
    });
    const logged = h.logger.lines.filter((l) => l.fields.stream === 'stdout');
    // 100 lines of burst plus 50 per second of the run, far from the 110 000 written.
    expect(logged.length).toBeLessThan(2_000);
    expect(logged[0]?.fields).toMatchObject({ queue: 'chatty', pid: pool.pids()[0] });
    expect(logged[0]?.fields.worker).toMatch(/^chatty#\d+$/);
  });

  it('redacts configured secrets and token patterns from output lines', async () => {
    h = new Harness();
    const marker = h.marker('redact');
    const supervisor = await h.supervisor();
    const pool = await supervisor.createPool({
      ...h.options('secrets', 'talk.mjs', marker),
      env: { DB_PASSWORD: 'hunter2-very-secret' },
    });
    pool.scaleTo(1);
    await waitFor(() => h.logger.lines.some((l) => l.fields.stream === 'stderr'), {
      ...WAIT,
      what: 'stderr line',
    });
    await waitFor(() => h.logger.lines.some((l) => /password/.test(l.message)), {
      ...WAIT,
      what: 'password line',
    });
    const text = h.logger.lines.map((l) => l.message).join('\n');
    expect(text).not.toContain('hunter2-very-secret');
    expect(text).not.toContain('abcdefghijklmnop0123456789');
    expect(text).toContain('connecting with password [redacted]');
    expect(text).toContain('Bearer [redacted]');
  });
});
