import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { readProc, waitFor } from '@qscale/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { PoolOptions, SupervisorEvents } from '../src/index.js';
import { startSupervisor } from '../src/index.js';
import {
  ALL_SUPERVISOR_EVENTS,
  eventsNamed,
  fixture,
  Harness,
  isAlive,
  liveWithMarker,
  recordEvents,
  WAIT,
} from './helpers.js';

interface HostLine {
  type: 'event' | 'ready' | 'stopped' | 'log' | 'unclaimed-stopped';
  name?: keyof SupervisorEvents;
  payload?: Record<string, unknown>;
  pids?: number[];
  summary?: Record<string, number>;
}

/** The supervisor host script (a stand-in daemon) running as a child process. */
class Host {
  readonly lines: HostLine[] = [];
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(config: {
    stateFile: string;
    policy: 'adopt' | 'stop';
    count: number;
    pool: PoolOptions;
    stopUnclaimed?: boolean;
  }) {
    this.child = spawn(process.execPath, [fixture('host.mjs'), JSON.stringify(config)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let buffered = '';
    this.child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const part of parts) if (part) this.lines.push(JSON.parse(part) as HostLine);
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  async ready(): Promise<number[]> {
    await waitFor(() => this.lines.some((l) => l.type === 'ready'), {
      ...WAIT,
      what: 'the host to report its workers running',
    });
    return [...(this.lines.find((l) => l.type === 'ready')?.pids ?? [])].sort();
  }

  events(name: keyof SupervisorEvents): Record<string, unknown>[] {
    return this.lines
      .filter((l) => l.type === 'event' && l.name === name)
      .map((l) => l.payload ?? {});
  }

  async kill(signal: NodeJS.Signals): Promise<number | null> {
    this.child.kill(signal);
    return this.exited;
  }
}

let h: Harness;
let hosts: Host[] = [];
afterEach(async () => {
  // A clean stop, as the daemon would: its workers must go with it.
  for (const host of hosts) if (host.child.exitCode === null) await host.kill('SIGTERM');
  hosts = [];
  await h.cleanup();
});

function startHost(config: ConstructorParameters<typeof Host>[0]): Host {
  const host = new Host(config);
  hosts.push(host);
  return host;
}

/** Quiet workers: one that writes after its supervisor was SIGKILLed dies of EPIPE (see README). */
function poolOptions(name: string, marker: string, env: Record<string, string> = {}): PoolOptions {
  return {
    name,
    command: [process.execPath, fixture('quiet.mjs'), marker],
    env,
    cwd: dirname(fixture('quiet.mjs')),
    spawn: { minUptimeMs: 200 },
    stop: { graceMs: 5_000 },
  };
}

describe('a supervisor killed with SIGKILL and started again', () => {
  it('adopts the workers of the previous run: none duplicated, none orphaned', async () => {
    h = new Harness();
    const marker = h.marker('adopt');
    const stateFile = await h.stateFile();
    const config = {
      stateFile,
      policy: 'adopt' as const,
      count: 3,
      pool: poolOptions('adopt', marker),
    };

    const first = startHost(config);
    const pids = await first.ready();
    expect(pids).toHaveLength(3);
    // While it lives, nobody else may take its state file.
    await expect(startSupervisor({ stateFile })).rejects.toMatchObject({
      code: 'STATE_FILE_IN_USE',
    });
    await waitFor(
      async () => {
        const doc = JSON.parse(await readFile(stateFile, 'utf8')) as { workers: { pid: number }[] };
        return doc.workers.length === 3;
      },
      { ...WAIT, what: 'three workers recorded' },
    );

    expect(await first.kill('SIGKILL')).toBeNull();
    // Nothing ran after the SIGKILL: the workers live on as orphans of init.
    for (const pid of pids) {
      await waitFor(async () => (await readProc(pid))?.ppid !== first.child.pid, {
        ...WAIT,
        what: `worker ${pid} re-parented`,
      });
      expect(await isAlive(pid)).toBe(true);
    }

    const second = startHost(config);
    expect(await second.ready()).toEqual(pids);
    expect(
      second
        .events('adopted')
        .map((e) => e.pid)
        .sort(),
    ).toEqual(pids);
    expect(second.events('adopted').every((e) => e.outdated === false)).toBe(true);
    expect(second.events('spawned')).toEqual([]);
    expect((await liveWithMarker(marker)).map((p) => p.pid).sort()).toEqual(pids);

    // The adopted workers are stopped like any other: nothing left afterwards.
    expect(await second.kill('SIGTERM')).toBe(0);
    expect(second.lines.find((l) => l.type === 'stopped')?.summary).toEqual({
      stopped: 3,
      escalated: 0,
      unkillable: 0,
    });
    expect(await liveWithMarker(marker)).toEqual([]);
    const final = JSON.parse(await readFile(stateFile, 'utf8')) as { workers: unknown[] };
    expect(final.workers).toEqual([]);
  });

  it('replaces adopted workers of an older configuration one by one', async () => {
    h = new Harness();
    const marker = h.marker('outdated');
    const stateFile = await h.stateFile();
    const first = startHost({
      stateFile,
      policy: 'adopt',
      count: 2,
      pool: poolOptions('outdated', marker, { RELEASE: 'v1' }),
    });
    const old = await first.ready();
    await waitFor(
      async () =>
        (JSON.parse(await readFile(stateFile, 'utf8')) as { workers: unknown[] }).workers.length ===
        2,
      { ...WAIT, what: 'two workers recorded' },
    );
    await first.kill('SIGKILL');

    const second = startHost({
      stateFile,
      policy: 'adopt',
      count: 2,
      pool: poolOptions('outdated', marker, { RELEASE: 'v2' }),
    });
    const fresh = await second.ready();
    expect(second.events('adopted').map((e) => e.outdated)).toEqual([true, true]);
    expect(second.events('recycled').map((e) => e.reason)).toEqual(['config', 'config']);
    expect(fresh.filter((pid) => old.includes(pid))).toEqual([]);
    // Rolling: one replacement at a time (surge 1), and an old worker stops only once a new
    // one runs, so the queue never has fewer than 2 running.
    const order = second.lines
      .filter(
        (l) => l.type === 'event' && ['spawned', 'running', 'stopping'].includes(l.name ?? ''),
      )
      .map((l) => `${l.name}:${old.includes(l.payload?.pid as number) ? 'old' : 'new'}`)
      .filter((step) => step !== 'running:old');
    expect(order).toEqual([
      'spawned:new',
      'running:new',
      'stopping:old',
      'spawned:new',
      'running:new',
      'stopping:old',
    ]);
    for (const pid of fresh) {
      expect(await readFile(`/proc/${pid}/environ`, 'utf8')).toContain('RELEASE=v2');
    }
    for (const pid of old) expect(await isAlive(pid)).toBe(false);
  });

  it('stops the previous workers instead, with previousWorkers: stop', async () => {
    h = new Harness();
    const marker = h.marker('stop-previous');
    const stateFile = await h.stateFile();
    const first = startHost({
      stateFile,
      policy: 'adopt',
      count: 2,
      pool: poolOptions('q', marker),
    });
    const old = await first.ready();
    await waitFor(
      async () =>
        (JSON.parse(await readFile(stateFile, 'utf8')) as { workers: unknown[] }).workers.length ===
        2,
      { ...WAIT, what: 'two workers recorded' },
    );
    await first.kill('SIGKILL');

    const second = startHost({
      stateFile,
      policy: 'stop',
      count: 2,
      pool: poolOptions('q', marker),
    });
    const fresh = await second.ready();
    expect(fresh.filter((pid) => old.includes(pid))).toEqual([]);
    await waitFor(() => second.events('exited').length === 2, { ...WAIT, what: 'old ones exited' });
    expect(
      second
        .events('stopping')
        .map((e) => [e.pid, e.reason])
        .sort(),
    ).toEqual(old.map((pid) => [pid, 'previous-run']));
    for (const pid of old) expect(await isAlive(pid)).toBe(false);
    expect((await liveWithMarker(marker)).map((p) => p.pid).sort()).toEqual(fresh);
  });

  it('stops adopted workers whose queue is gone from the configuration', async () => {
    h = new Harness();
    const marker = h.marker('gone-queue');
    const stateFile = await h.stateFile();
    const first = startHost({
      stateFile,
      policy: 'adopt',
      count: 1,
      pool: poolOptions('old-queue', marker),
    });
    const [old] = await first.ready();
    await waitFor(
      async () =>
        (JSON.parse(await readFile(stateFile, 'utf8')) as { workers: unknown[] }).workers.length ===
        1,
      { ...WAIT, what: 'one worker recorded' },
    );
    await first.kill('SIGKILL');
    const second = startHost({
      stateFile,
      policy: 'adopt',
      count: 1,
      pool: poolOptions('new-queue', marker),
      stopUnclaimed: true,
    });
    await second.ready();
    await waitFor(() => second.lines.some((l) => l.type === 'unclaimed-stopped'), {
      ...WAIT,
      what: 'unclaimed stopped',
    });
    expect(await isAlive(old ?? 0)).toBe(false);
    expect(second.events('adopted')).toEqual([]);
  });
});

describe('the state file', () => {
  it('never touches a process whose PID was reused, nor one from another boot', async () => {
    h = new Harness();
    const marker = h.marker('decoy');
    const stateFile = await h.stateFile();
    // An unrelated process, leading its own group, that happens to hold a recorded PID.
    const decoy = spawn(process.execPath, [fixture('idle.mjs'), marker], {
      detached: true,
      stdio: 'ignore',
    });
    try {
      const pid = decoy.pid ?? 0;
      await waitFor(async () => (await readProc(pid))?.argv.includes(marker) ?? false, {
        ...WAIT,
        what: 'decoy started',
      });
      const info = await readProc(pid);
      const bootId = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
      const entry = {
        queue: 'q',
        pid,
        pgid: pid,
        startTicks: info?.startTicks ?? 0,
        bootId,
        commandHash: 'x',
        argv0: process.execPath,
        spawnedAt: Date.now(),
        stopSignals: ['SIGTERM'],
        graceMs: 1_000,
      };
      const absent = 4_194_304; // above any pid_max: cannot exist
      await mkdir(dirname(stateFile), { recursive: true });
      await writeFile(
        stateFile,
        JSON.stringify({
          version: 1,
          supervisor: { pid: absent, startTicks: 1, bootId },
          updatedAt: Date.now(),
          workers: [
            { ...entry, startTicks: entry.startTicks + 1 },
            { ...entry, bootId: 'another-boot' },
            { ...entry, pid: absent, pgid: absent },
          ],
        }),
      );

      for (const previousWorkers of ['stop', 'adopt'] as const) {
        const supervisor = await h.supervisor({ previousWorkers });
        const events = recordEvents<SupervisorEvents>(supervisor, ALL_SUPERVISOR_EVENTS);
        await waitFor(() => eventsNamed(events, 'previous-skipped').length > 0, {
          ...WAIT,
          what: 'previous run announced',
        });
        expect(eventsNamed(events, 'previous-skipped').map((e) => e.reason)).toEqual(
          previousWorkers === 'stop' ? ['pid-reused', 'other-boot', 'gone'] : ['pid-reused'],
        );
        expect(supervisor.previousRun).toMatchObject({ unclaimed: 0, stopping: 0 });
        const pool = await supervisor.createPool(h.options('q', 'idle.mjs', h.marker('q')));
        await supervisor.stopUnclaimed();
        expect(pool.workers()).toEqual([]);
        expect(eventsNamed(events, 'adopted')).toEqual([]);
        expect(eventsNamed(events, 'stopping')).toEqual([]);
        await supervisor.stop();
        expect(await isAlive(pid)).toBe(true);
        if (previousWorkers === 'stop') {
          // Write the same entries again for the adopt round.
          await writeFile(
            stateFile,
            JSON.stringify({
              version: 1,
              supervisor: { pid: absent, startTicks: 1, bootId },
              updatedAt: Date.now(),
              workers: [{ ...entry, startTicks: entry.startTicks + 1 }],
            }),
          );
        }
      }
    } finally {
      decoy.kill('SIGKILL');
    }
  });

  it('refuses a state file that is not one, naming the problem', async () => {
    h = new Harness();
    const stateFile = await h.stateFile();
    await mkdir(dirname(stateFile), { recursive: true });
    await writeFile(stateFile, '{"version": 2, "workers": []}');
    await expect(h.supervisor()).rejects.toMatchObject({ code: 'STATE_FILE_INVALID' });
    await expect(h.supervisor()).rejects.toThrow(/not a version 1 supervisor state file: version/);
    await writeFile(stateFile, 'not json');
    await expect(h.supervisor()).rejects.toThrow(/is not JSON/);
  });
});
