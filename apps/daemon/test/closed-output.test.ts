import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { redisUrl, uniquePrefix, waitFor } from '@qscale/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { DaemonState } from '../src/index.js';
import {
  Cleanups,
  FIXTURES,
  killMarked,
  markedProcesses,
  QSCALED,
  running,
  scratch,
  writeConfig,
} from './helpers/qscaled.js';

// `qscaled | head` and Ctrl-C on `qscaled | tee`: the reader of the daemon's output goes away
// while the daemon runs. It must lose its logs, not its life, and never leave a worker behind.

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/**
 * A real qscaled whose stdout and stderr are pipes that this test closes: after the first line
 * (`head -1`) or when it calls `closeOutput()`. Answers through its status API only, on a port
 * chosen beforehand.
 */
async function startPiped(options: { closeAtFirstLine: boolean; chatty: boolean }) {
  const { dir, marker, cleanup } = await scratch();
  const port = await freePort();
  const path = await writeConfig(
    dir,
    `
redis: { url: "${redisUrl()}" }
tick: 1s
http: { port: ${port} }
# Chatty: every tick logs (debug), and so does the worker, into the closed pipe. Quiet: the
# first line written after the close is the one about stopping.
log: { level: ${options.chatty ? 'debug' : 'info'} }
limits: { cpu: { enforce: false } }
supervision: { stateFile: ${join(dir, 'state.json')} }
queues:
  mail:
    driver: bullmq
    prefix: ${uniquePrefix('closed').slice(0, -1)}
    command: [node, ${join(FIXTURES, 'chatty-worker.mjs')}, "${marker}"${options.chatty ? '' : ', --quiet'}]
    workers: { min: 1, max: 1 }
    stop: { grace: 10s }
`,
  );
  const child: ChildProcess = spawn(process.execPath, [QSCALED, '--config', path], {
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  cleanups.add(cleanup, async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    await killMarked(marker);
  });

  // The reader goes away: the daemon's next write to either pipe fails with EPIPE.
  const closeOutput = () => {
    child.stdout?.destroy();
    child.stderr?.destroy();
  };
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (!output.includes('\n')) return;
      if (options.closeAtFirstLine) closeOutput();
      resolve();
    });
    child.once('exit', (code) => reject(new Error(`qscaled exited (${code}): ${output}`)));
  });

  const url = `http://127.0.0.1:${port}`;
  const state = async (): Promise<DaemonState | null> => {
    try {
      const response = await fetch(`${url}/api/state`);
      return response.ok ? ((await response.json()) as DaemonState) : null;
    } catch {
      return null;
    }
  };
  const until = async (predicate: (state: DaemonState) => boolean, what: string) => {
    let last: DaemonState | null = null;
    await waitFor(
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`qscaled died: ${JSON.stringify(await exited)}`);
        }
        last = await state();
        return last !== null && predicate(last);
      },
      { timeoutMs: 30_000, intervalMs: 100, what },
    );
    return last as unknown as DaemonState;
  };
  return { child, exited, marker, url, until, closeOutput };
}

describe('a daemon whose output pipe is closed', () => {
  it('keeps supervising, answers /healthz, and stops its workers cleanly on SIGTERM', async () => {
    const daemon = await startPiped({ closeAtFirstLine: true, chatty: true });
    const { ticks } = await daemon.until((state) => running(state, 'mail') === 1, 'a worker');
    // Two more ticks, each logged, with the worker's output: writes into the closed pipe.
    await daemon.until((state) => state.ticks >= ticks + 2, 'two more ticks');
    const health = await fetch(`${daemon.url}/healthz`);
    expect(health.status).toBe(200);
    expect((await markedProcesses(daemon.marker)).live).toHaveLength(1);

    daemon.child.kill('SIGTERM');
    expect(await daemon.exited).toEqual({ code: 0, signal: null });
    expect(await markedProcesses(daemon.marker)).toEqual({ live: [], zombies: [] });
  });

  it('leaves no worker behind after SIGINT (Ctrl-C on `qscaled | tee`)', async () => {
    const daemon = await startPiped({ closeAtFirstLine: false, chatty: false });
    await daemon.until((state) => running(state, 'mail') === 1, 'a worker');
    // Ctrl-C signals the whole foreground group: tee exits (closing the pipe), then the daemon
    // logs that it is stopping, into the closed pipe.
    daemon.closeOutput();
    daemon.child.kill('SIGINT');
    const exit = await daemon.exited;
    // Not one process of the test's workers is left, reparented to PID 1 or otherwise.
    expect(await markedProcesses(daemon.marker)).toEqual({ live: [], zombies: [] });
    expect(exit).toEqual({ code: 0, signal: null });
  });
});
