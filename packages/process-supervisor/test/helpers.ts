import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LogFields, Logger } from '@qscale/contracts';
import { findProcessesWithArg, type ProcInfo, readProc, waitFor } from '@qscale/testkit';
import type {
  PoolEvents,
  PoolOptions,
  Supervisor,
  SupervisorEvents,
  WorkerPool,
} from '../src/index.js';
import { startSupervisor } from '../src/index.js';

export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** Generous: the machine is shared with other engineers' test suites. */
export const WAIT = { timeoutMs: 20_000 } as const;

export function fixture(name: string): string {
  return join(FIXTURES, name);
}

/** A unique argument given to every process of one test, to find them in /proc. */
export function newMarker(label: string): string {
  return `qscale-supervisor-test-${label}-${randomUUID().slice(0, 8)}`;
}

/** Processes carrying the marker that still run (a zombie runs nothing and holds no job). */
export async function liveWithMarker(marker: string): Promise<ProcInfo[]> {
  return (await findProcessesWithArg(marker)).filter((p) => p.state !== 'Z');
}

export async function isAlive(pid: number): Promise<boolean> {
  const info = await readProc(pid);
  return info !== null && info.state !== 'Z';
}

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields: LogFields;
}

export function recordingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at =
    (level: LogLine['level']) =>
    (message: string, fields: LogFields = {}) => {
      lines.push({ level, message, fields });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export interface Recorded<Events> {
  name: keyof Events;
  payload: Events[keyof Events];
}

/** Records every event of the given names, in order. */
export function recordEvents<Events extends object>(
  target: { on<N extends keyof Events>(name: N, listener: (payload: Events[N]) => void): unknown },
  names: readonly (keyof Events)[],
): Recorded<Events>[] {
  const events: Recorded<Events>[] = [];
  for (const name of names) {
    target.on(name, (payload) => events.push({ name, payload }));
  }
  return events;
}

export const ALL_POOL_EVENTS: readonly (keyof PoolEvents)[] = [
  'spawned',
  'running',
  'exited',
  'crashed',
  'backoff',
  'degraded',
  'recovered',
  'adopted',
  'recycled',
  'stopping',
  'escalated',
  'output-dropped',
];

export const ALL_SUPERVISOR_EVENTS: readonly (keyof SupervisorEvents)[] = [
  ...ALL_POOL_EVENTS,
  'previous-skipped',
  'state-file-error',
];

export function eventsNamed<Events, N extends keyof Events>(
  events: Recorded<Events>[],
  name: N,
): Events[N][] {
  return events.filter((e) => e.name === name).map((e) => e.payload as Events[N]);
}

/**
 * One test's world: a temporary state file, a supervisor, and the markers of every process
 * the test starts. `cleanup` stops the supervisor, asserts through /proc that nothing with
 * a marker is left running, and kills leftovers even when that assertion fails.
 */
export class Harness {
  readonly logger = recordingLogger();
  readonly markers: string[] = [];
  supervisors: Supervisor[] = [];
  dir = '';

  async stateFile(): Promise<string> {
    if (!this.dir) this.dir = await mkdtemp(join(tmpdir(), 'qscale-supervisor-'));
    return join(this.dir, 'state', 'workers.json');
  }

  marker(label: string): string {
    const marker = newMarker(label);
    this.markers.push(marker);
    return marker;
  }

  async supervisor(
    options: Partial<Parameters<typeof startSupervisor>[0]> = {},
  ): Promise<Supervisor> {
    const supervisor = await startSupervisor({
      stateFile: await this.stateFile(),
      logger: this.logger,
      ...options,
    });
    this.supervisors.push(supervisor);
    return supervisor;
  }

  /** Pool options for a node fixture carrying `marker`, fast to start and stop. */
  options(name: string, script: string, marker: string, extra: Partial<PoolOptions> = {}) {
    return {
      name,
      command: [process.execPath, fixture(script), marker],
      cwd: FIXTURES,
      stop: { graceMs: 5_000 },
      spawn: { minUptimeMs: 300 },
      ...extra,
    } satisfies PoolOptions;
  }

  /**
   * PIDs of workers whose `ready <pid>` line reached the logger: every fixture prints it once
   * its signal handlers are installed, so a stop sent after it is handled, whatever the load.
   */
  readyPids(): Set<number> {
    const pids = new Set<number>();
    for (const line of this.logger.lines) {
      const pid = /^ready (\d+)/.exec(line.message)?.[1];
      if (pid && line.fields.stream === 'stdout' && line.fields.pid === Number(pid)) {
        pids.add(Number(pid));
      }
    }
    return pids;
  }

  /**
   * Waits until the pool has `count` running workers and every one of them has said it is
   * ready (the pool's `running` is only a timer, `minUptimeMs`); returns their PIDs.
   */
  async ready(pool: WorkerPool, count: number): Promise<number[]> {
    await waitFor(
      () => {
        const pids = pool.pids();
        const ready = this.readyPids();
        return (
          pool.counts().running === count &&
          pids.length === count &&
          pids.every((pid) => ready.has(pid))
        );
      },
      { ...WAIT, what: `${count} workers running and ready` },
    );
    return pool.pids();
  }

  /** Waits for an output line matching `pattern`; returns the match. */
  async line(pattern: RegExp): Promise<RegExpExecArray> {
    let match: RegExpExecArray | null = null;
    await waitFor(
      () => {
        for (const line of this.logger.lines) {
          match = pattern.exec(line.message);
          if (match) return true;
        }
        return false;
      },
      { ...WAIT, what: `a line matching ${pattern}` },
    );
    return match as unknown as RegExpExecArray;
  }

  async cleanup(): Promise<void> {
    try {
      await Promise.all(this.supervisors.map((s) => s.stop({ graceMs: 2_000 })));
      for (const marker of this.markers) {
        await waitFor(async () => (await liveWithMarker(marker)).length === 0, {
          ...WAIT,
          what: `no process left with marker ${marker}`,
        });
      }
    } finally {
      for (const marker of this.markers) {
        for (const info of await liveWithMarker(marker)) {
          try {
            process.kill(info.pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
      if (this.dir) await rm(this.dir, { recursive: true, force: true });
    }
  }
}
