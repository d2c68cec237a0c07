import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findProcessesWithArg, type ProcInfo, waitFor } from '@qscale/testkit';
import type { DaemonState } from '../../src/index.js';

export const QSCALED = fileURLToPath(new URL('../../dist/bin.js', import.meta.url));
export const BULLMQ_WORKER = fileURLToPath(
  new URL('../../../../examples/bullmq/worker.mjs', import.meta.url),
);
export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A real `qscaled` process, its JSON log lines and its status API. */
export class QscaledProcess {
  readonly logs: LogLine[] = [];
  url: string | null = null;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly child: ChildProcess) {
    let buffer = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let newline = buffer.indexOf('\n');
      while (newline !== -1) {
        const text = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        newline = buffer.indexOf('\n');
        try {
          const line = JSON.parse(text) as LogLine;
          this.logs.push(line);
          if (line.msg === 'qscale daemon started') this.url = line.http as string;
        } catch {
          this.logs.push({ level: 60, msg: `unparsed: ${text}` });
        }
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.logs.push({ level: 60, msg: `stderr: ${chunk.toString()}` });
    });
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
  }

  async started(): Promise<void> {
    await waitFor(() => this.url !== null || this.child.exitCode !== null, {
      timeoutMs: 30_000,
      what: 'qscaled to start',
    });
    if (this.url === null) {
      throw new Error(`qscaled did not start:\n${this.logs.map((l) => l.msg).join('\n')}`);
    }
  }

  async state(): Promise<DaemonState> {
    const response = await fetch(`${this.url}/api/state`);
    return (await response.json()) as DaemonState;
  }

  /** Waits until the status API satisfies `predicate`. */
  async until(
    predicate: (state: DaemonState) => boolean,
    what: string,
    timeoutMs = 60_000,
  ): Promise<DaemonState> {
    let last: DaemonState | undefined;
    await waitFor(
      async () => {
        last = await this.state();
        return predicate(last);
      },
      { timeoutMs, intervalMs: 200, what },
    );
    return last as DaemonState;
  }

  hasLog(msg: string | RegExp): boolean {
    return this.logs.some((line) =>
      typeof msg === 'string' ? line.msg === msg : msg.test(line.msg),
    );
  }
}

/** Work to undo after each test, newest first; one failing step does not skip the others. */
export class Cleanups {
  readonly #steps: (() => Promise<unknown>)[] = [];

  add(...steps: (() => Promise<unknown>)[]): void {
    this.#steps.push(...steps);
  }

  async run(): Promise<void> {
    for (const step of this.#steps.splice(0).reverse()) await step().catch(() => {});
  }
}

/**
 * Starts `qscaled args...` and waits until it listens. Whatever happens to the test, the
 * daemon and every process carrying `marker` are killed afterwards. With QSCALE_E2E_DEBUG set,
 * the daemon's decisions and last state are printed first.
 */
export async function launchQscaled(
  args: readonly string[],
  marker: string,
  cleanups: Cleanups,
): Promise<QscaledProcess> {
  const child = spawn(process.execPath, [QSCALED, ...args], {
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const daemon = new QscaledProcess(child);
  cleanups.add(async () => {
    if (process.env.QSCALE_E2E_DEBUG) await printDebug(daemon);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await daemon.exited;
    }
    await killMarked(marker);
  });
  await daemon.started();
  return daemon;
}

async function printDebug(daemon: QscaledProcess): Promise<void> {
  for (const line of daemon.logs) {
    if ('stream' in line) continue;
    const { msg, from, to, reason, time, recommended, edits } = line;
    console.log('LOG', JSON.stringify({ time, msg, from, to, reason, recommended, edits }));
  }
  const state = await daemon.state().catch(() => null);
  const queues = state?.queues.map((queue) => [queue.snapshot, queue.workers, queue.lastDecision]);
  console.log('STATE', JSON.stringify(queues).slice(0, 3_000));
}

/** A scratch folder for one test's configuration and state file. */
export async function scratch(): Promise<{
  dir: string;
  marker: string;
  cleanup(): Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'qscaled-e2e-'));
  return {
    dir,
    // Every worker of the test gets this argument, so /proc tells its processes apart.
    marker: `--qscale-e2e=${randomUUID()}`,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

export async function writeConfig(dir: string, yaml: string): Promise<string> {
  const path = join(dir, 'qscale.yml');
  await writeFile(path, yaml);
  return path;
}

/** Live (non-zombie) processes carrying the marker, and zombies separately. */
export async function markedProcesses(
  marker: string,
): Promise<{ live: ProcInfo[]; zombies: ProcInfo[] }> {
  const all = await findProcessesWithArg(marker);
  return {
    live: all.filter((info) => info.state !== 'Z'),
    zombies: all.filter((info) => info.state === 'Z'),
  };
}

/** Kills whatever a failed test left behind, so one failure does not leak into the next. */
export async function killMarked(marker: string): Promise<void> {
  for (const info of await findProcessesWithArg(marker)) {
    try {
      process.kill(info.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

export function running(state: DaemonState, queue: string): number {
  return state.queues.find((entry) => entry.name === queue)?.workers.running ?? -1;
}
