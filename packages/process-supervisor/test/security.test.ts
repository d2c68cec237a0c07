import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { chmod, chown, lstat, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { readProc, waitFor } from '@qscale/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { SupervisorEvents } from '../src/index.js';
import {
  ALL_SUPERVISOR_EVENTS,
  eventsNamed,
  fixture,
  Harness,
  isAlive,
  recordEvents,
  WAIT,
} from './helpers.js';

const run = promisify(execFile);
const isRoot = process.geteuid?.() === 0;
/** A user that owns nothing of ours (nobody). */
const NOBODY = 65_534;

let h: Harness;
let strangers: ChildProcess[] = [];
afterEach(async () => {
  for (const child of strangers) child.kill('SIGKILL');
  strangers = [];
  await h.cleanup();
});

/** A process qscale did not start: a `sleep` leading its own group, found running in /proc. */
async function startStranger(env: Record<string, string> = {}): Promise<number> {
  const child = spawn('sleep', ['1000'], {
    detached: true,
    stdio: 'ignore',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
  });
  strangers.push(child);
  await once(child, 'spawn');
  const pid = child.pid ?? 0;
  await waitFor(async () => (await readProc(pid))?.argv[0] === 'sleep', {
    ...WAIT,
    what: `sleep ${pid} running`,
  });
  return pid;
}

async function bootId(): Promise<string> {
  return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
}

/** A state file entry naming `pid` with its true start time and this boot's id. */
async function forgedEntry(pid: number, extra: Record<string, unknown> = {}) {
  const info = await readProc(pid);
  return {
    queue: 'q',
    pid,
    pgid: pid,
    startTicks: info?.startTicks ?? 0,
    bootId: await bootId(),
    commandHash: 'forged',
    argv0: 'sleep',
    spawnedAt: Date.now(),
    stopSignals: ['SIGTERM'],
    graceMs: 200,
    ...extra,
  };
}

async function writeState(path: string, workers: unknown[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(
    path,
    JSON.stringify({
      version: 1,
      supervisor: { pid: 4_194_304, startTicks: 1, bootId: await bootId() },
      updatedAt: Date.now(),
      workers,
    }),
    { mode: 0o600 },
  );
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const canUnshare =
  isRoot && spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']).status === 0;

describe('adoption needs proof from the process itself', () => {
  it.skipIf(!canUnshare)(
    'never adopts PID 1 named in a forged state file: canaries of a PID namespace survive',
    async () => {
      h = new Harness();
      const stateFile = await h.stateFile();
      const { stdout } = await run(
        'unshare',
        [
          '--pid',
          '--fork',
          '--mount-proc',
          process.execPath,
          fixture('pid-namespace.mjs'),
          stateFile,
        ],
        { timeout: 45_000 },
      );
      const lines = stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line));
      const result = lines.find((line) => line.type === 'result');
      expect(result?.canaries).toHaveLength(3);
      for (const canary of result?.canaries ?? []) {
        expect(canary).toMatchObject({ alive: true, exit: null });
      }
      expect(result?.supervisor).toEqual([
        expect.objectContaining({
          type: 'done',
          previousRun: expect.objectContaining({ unclaimed: 0, stopping: 0 }),
          skipped: [{ queue: 'q', pid: 1, reason: 'protected-pid' }],
          stopping: [],
        }),
      ]);
    },
    60_000,
  );

  it('leaves alone a process it did not start, even named with its true start time', async () => {
    h = new Harness();
    const stateFile = await h.stateFile();
    const plain = await startStranger();
    // Carries the variable, but not the token whose hash the state file records.
    const guessing = await startStranger({ QSCALE_WORKER_TOKEN: 'a-guess' });
    const workers = [
      await forgedEntry(plain),
      await forgedEntry(guessing, { tokenHash: sha256('the-real-token') }),
    ];

    for (const previousWorkers of ['adopt', 'stop'] as const) {
      await writeState(stateFile, workers);
      const supervisor = await h.supervisor({ previousWorkers });
      const events = recordEvents<SupervisorEvents>(supervisor, ALL_SUPERVISOR_EVENTS);
      await waitFor(() => eventsNamed(events, 'previous-skipped').length === 2, {
        ...WAIT,
        what: 'both forged entries reported',
      });
      expect(eventsNamed(events, 'previous-skipped')).toEqual([
        { queue: 'q', pid: plain, reason: 'unproven' },
        { queue: 'q', pid: guessing, reason: 'unproven' },
      ]);
      expect(supervisor.previousRun).toMatchObject({ unclaimed: 0, stopping: 0 });
      const pool = await supervisor.createPool(h.options('q', 'idle.mjs', h.marker('q')));
      expect(await supervisor.stopUnclaimed({ graceMs: 200 })).toEqual({
        stopped: 0,
        escalated: 0,
        unkillable: 0,
      });
      expect(pool.workers()).toEqual([]);
      await supervisor.stop({ graceMs: 200 });
      expect(eventsNamed(events, 'adopted')).toEqual([]);
      expect(eventsNamed(events, 'stopping')).toEqual([]);
      expect(
        h.logger.lines.filter((line) => line.level === 'warn' && line.fields.pid === plain),
      ).toHaveLength(previousWorkers === 'adopt' ? 1 : 2);
      expect(await isAlive(plain)).toBe(true);
      expect(await isAlive(guessing)).toBe(true);
    }
  });

  it('gives each worker a secret token and records only its hash', async () => {
    h = new Harness();
    const marker = h.marker('token');
    const stateFile = await h.stateFile();
    const supervisor = await h.supervisor();
    const pool = await supervisor.createPool(h.options('q', 'idle.mjs', marker));
    pool.scaleTo(2);
    await waitFor(() => pool.counts().running === 2, { ...WAIT, what: 'two workers running' });
    await waitFor(
      async () =>
        (JSON.parse(await readFile(stateFile, 'utf8')) as { workers: unknown[] }).workers.length ===
        2,
      { ...WAIT, what: 'two workers recorded' },
    );
    const text = await readFile(stateFile, 'utf8');
    const recorded = (JSON.parse(text) as { workers: { pid: number; tokenHash: string }[] })
      .workers;
    const tokens = new Set<string>();
    for (const entry of recorded) {
      const environ = (await readFile(`/proc/${entry.pid}/environ`, 'utf8')).split('\0');
      const token = environ
        .find((pair) => pair.startsWith('QSCALE_WORKER_TOKEN='))
        ?.slice('QSCALE_WORKER_TOKEN='.length);
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(entry.tokenHash).toBe(sha256(token ?? ''));
      expect(text).not.toContain(token);
      tokens.add(token ?? '');
    }
    expect(tokens.size).toBe(2);

    // The same entries with another hash: a second supervisor leaves the workers alone.
    const forgedFile = join(dirname(stateFile), 'forged.json');
    await writeState(
      forgedFile,
      recorded.map((entry) => ({ ...entry, tokenHash: sha256('not-their-token') })),
    );
    const second = await h.supervisor({ stateFile: forgedFile, previousWorkers: 'stop' });
    const events = recordEvents<SupervisorEvents>(second, ALL_SUPERVISOR_EVENTS);
    await waitFor(() => eventsNamed(events, 'previous-skipped').length === 2, {
      ...WAIT,
      what: 'both entries reported',
    });
    expect(eventsNamed(events, 'previous-skipped').map((e) => e.reason)).toEqual([
      'unproven',
      'unproven',
    ]);
    await second.stop({ graceMs: 200 });
    expect(eventsNamed(events, 'stopping')).toEqual([]);
    expect(pool.counts().running).toBe(2);
    for (const entry of recorded) expect(await isAlive(entry.pid)).toBe(true);
  });

  it('never logs a worker token its worker prints', async () => {
    h = new Harness();
    const marker = h.marker('print-token');
    const supervisor = await h.supervisor();
    const pool = await supervisor.createPool(h.options('q', 'print-token.mjs', marker));
    pool.scaleTo(1);
    const logged = () => h.logger.lines.filter((line) => line.message.startsWith('token '));
    await waitFor(() => logged().length === 1, { ...WAIT, what: 'the token line logged' });
    const [pid] = pool.pids();
    const environ = await readFile(`/proc/${pid}/environ`, 'utf8');
    const token = /QSCALE_WORKER_TOKEN=([^\0]+)/.exec(environ)?.[1] ?? '';
    expect(token).toHaveLength(43);
    expect(logged()[0]?.message).toBe('token [redacted]');
    expect(JSON.stringify(h.logger.lines)).not.toContain(token);
  });

  it('refuses a worker environment that sets QSCALE_WORKER_TOKEN itself', async () => {
    h = new Harness();
    const supervisor = await h.supervisor();
    await expect(
      supervisor.createPool(
        h.options('q', 'idle.mjs', h.marker('q'), { env: { QSCALE_WORKER_TOKEN: 'mine' } }),
      ),
    ).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
      message: expect.stringContaining('QSCALE_WORKER_TOKEN'),
    });
  });
});

describe('the state file is trusted only when it is ours', () => {
  it.skipIf(!isRoot)('refuses a state file owned by another user', async () => {
    h = new Harness();
    const stateFile = await h.stateFile();
    const stranger = await startStranger();
    await writeState(stateFile, [await forgedEntry(stranger)]);
    await chown(stateFile, NOBODY, NOBODY);
    const error = await h.supervisor().catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'SupervisorError', code: 'STATE_FILE_UNSAFE' });
    expect((error as Error).message).toContain(stateFile);
    expect((error as Error).message).toMatch(/owned by uid 65534.*expected.*uid 0/);
    expect(await isAlive(stranger)).toBe(true);

    // Ours again, but in a folder another user owns (and so may empty and refill at will).
    await chown(stateFile, 0, 0);
    await chown(dirname(stateFile), NOBODY, NOBODY);
    await expect(h.supervisor()).rejects.toMatchObject({
      code: 'STATE_FILE_UNSAFE',
      message: expect.stringMatching(/folder .* is owned by another user \(owner uid 65534/),
    });
    expect(await isAlive(stranger)).toBe(true);
  });

  it('refuses a state file writable by group or others, and a folder writable by others', async () => {
    h = new Harness();
    const stateFile = await h.stateFile();
    await writeState(stateFile, []);
    await chmod(stateFile, 0o666);
    await expect(h.supervisor()).rejects.toMatchObject({
      code: 'STATE_FILE_UNSAFE',
      message: expect.stringMatching(/mode 0666.*expected.*not writable by group or others/),
    });
    await chmod(stateFile, 0o620);
    await expect(h.supervisor()).rejects.toMatchObject({ code: 'STATE_FILE_UNSAFE' });

    await chmod(stateFile, 0o600);
    await chmod(dirname(stateFile), 0o777);
    await expect(h.supervisor()).rejects.toMatchObject({
      code: 'STATE_FILE_UNSAFE',
      message: expect.stringContaining(`folder ${dirname(stateFile)}`),
    });
    // Sticky (like /tmp): others may add files but not replace ours.
    await chmod(dirname(stateFile), 0o1777);
    const supervisor = await h.supervisor();
    await supervisor.stop();
  });

  it('creates a missing folder 0700 and the file 0600', async () => {
    h = new Harness();
    const stateFile = await h.stateFile();
    const supervisor = await h.supervisor();
    expect((await stat(dirname(stateFile))).mode & 0o777).toBe(0o700);
    expect((await stat(stateFile)).mode & 0o777).toBe(0o600);
    await supervisor.stop();
  });

  it('never follows a symbolic link at the state file path', async () => {
    h = new Harness();
    const stateFile = await h.stateFile();
    const target = join(h.dir, 'root-only');
    await writeFile(target, 'precious\n', { mode: 0o600 });
    await mkdir(dirname(stateFile), { recursive: true, mode: 0o700 });
    await symlink(target, stateFile);
    await expect(h.supervisor()).rejects.toMatchObject({
      code: 'STATE_FILE_UNSAFE',
      message: expect.stringContaining('symbolic link'),
    });
    expect(await readFile(target, 'utf8')).toBe('precious\n');
    expect((await lstat(stateFile)).isSymbolicLink()).toBe(true);
  });

  it('never writes through a symbolic link planted at a temporary file name', async () => {
    h = new Harness();
    const stateFile = await h.stateFile();
    const target = join(h.dir, 'root-only');
    await writeFile(target, 'precious\n', { mode: 0o600 });
    await mkdir(dirname(stateFile), { recursive: true, mode: 0o700 });
    // The names an attacker could predict: the state file's, with this process's PID.
    for (const name of [
      `${stateFile}.${process.pid}.tmp`,
      `${stateFile}.tmp`,
      `${stateFile}~`,
      join(dirname(stateFile), `.workers.json.${process.pid}.tmp`),
    ]) {
      await symlink(target, name);
    }
    const supervisor = await h.supervisor();
    const pool = await supervisor.createPool(h.options('q', 'idle.mjs', h.marker('q')));
    pool.scaleTo(1);
    await waitFor(() => pool.counts().running === 1, { ...WAIT, what: 'a worker running' });
    await supervisor.stop();
    expect(await readFile(target, 'utf8')).toBe('precious\n');
    expect((await lstat(stateFile)).isFile()).toBe(true);
    expect(JSON.parse(await readFile(stateFile, 'utf8'))).toMatchObject({ version: 1 });
  });
});
