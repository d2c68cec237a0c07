import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { connectRedis, deleteKeys, redisUrl, uniquePrefix, waitFor } from '@qscale/testkit';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { DaemonState } from '../src/index.js';
import {
  BULLMQ_WORKER,
  Cleanups,
  launchQscaled,
  markedProcesses,
  type QscaledProcess,
  running,
  scratch,
  writeConfig,
} from './helpers/qscaled.js';

// A reload is all or nothing: a refused one leaves the queues, their settings, their workers
// and the status API exactly as they were, and the daemon running.

const redis = connectRedis();
const cleanups = new Cleanups();
afterEach(() => cleanups.run());
afterAll(async () => {
  await redis.quit();
});

const REFUSED = 'configuration not reloaded; the running one stays';

function config(options: { dir: string; prefix: string; port?: number; queues: string }): string {
  return `
redis: { url: "${redisUrl()}" }
tick: 500ms
http: { port: ${options.port ?? 0} }
limits: { cpu: { enforce: false } }
supervision: { stateFile: ${join(options.dir, 'state.json')} }
defaults:
  driver: bullmq
  prefix: ${options.prefix}
  env: { REDIS_URL: "${redisUrl()}", QUEUE_PREFIX: ${options.prefix} }
  stop: { grace: 5s }
  spawn: { minUptime: 300ms }
  scaling: { cooldown: 1s, downStabilization: 1s }
queues:
${options.queues}`;
}

function queue(name: string, marker: string, workers: string, program = 'node'): string {
  return `  ${name}:
    command: [${program}, ${BULLMQ_WORKER}, ${name}, "${marker}"]
    workers: ${workers}
`;
}

async function livePids(marker: string): Promise<number[]> {
  return (await markedProcesses(marker)).live.map((info) => info.pid).sort();
}

/** Sends SIGHUP and waits for the daemon to log the refusal (the n-th one), which it returns. */
async function refusedReload(daemon: QscaledProcess, nth: number) {
  daemon.child.kill('SIGHUP');
  const refusals = () => daemon.logs.filter((line) => line.msg === REFUSED);
  await waitFor(() => refusals().length >= nth || daemon.child.exitCode !== null, {
    timeoutMs: 60_000,
    what: 'the reload refused',
  });
  expect(daemon.child.exitCode).toBeNull();
  return { problems: refusals()[nth - 1]?.problems as string[] };
}

/** What a refused reload must leave as it was. */
function summary(state: DaemonState) {
  return state.queues.map((entry) => ({
    name: entry.name,
    bounds: entry.bounds,
    running: entry.workers.running,
  }));
}

describe('qscaled: a refused reload changes nothing', () => {
  it('a missing worker program (a new queue, or a changed command) leaves queues, settings and workers as they were', async () => {
    const { dir, marker, cleanup } = await scratch();
    const prefix = uniquePrefix('atomic').slice(0, -1);
    cleanups.add(cleanup, () => deleteKeys(redis, `${prefix}:*`));
    const path = await writeConfig(
      dir,
      config({
        dir,
        prefix,
        queues:
          queue('first', marker, '{ min: 1, max: 3 }') +
          queue('second', marker, '{ min: 1, max: 3 }'),
      }),
    );
    const daemon = await launchQscaled(['--config', path], marker, cleanups);
    const before = summary(
      await daemon.until(
        (state) => running(state, 'first') === 1 && running(state, 'second') === 1,
        'one worker per queue',
      ),
    );
    const pids = await livePids(marker);
    expect(pids).toHaveLength(2);

    // first's bounds change and second goes away, in a file whose new queue cannot start.
    await writeFile(
      path,
      config({
        dir,
        prefix,
        queues:
          queue('first', marker, '{ min: 2, max: 3 }') +
          queue('third', marker, '{ min: 1, max: 2 }', '/nonexistent/qscale-node'),
      }),
    );
    const added = await refusedReload(daemon, 1);
    expect(added.problems).toEqual([
      expect.stringMatching(
        /^queues\.third\.command: command "\/nonexistent\/qscale-node" is not an executable file .*qscale\.yml:\d+:\d+\)$/,
      ),
    ]);
    await expectUnchanged(daemon, before, pids, marker);

    // first's command now names a missing program, and second goes away.
    await writeFile(
      path,
      config({
        dir,
        prefix,
        queues: queue('first', marker, '{ min: 1, max: 3 }', '/nonexistent/qscale-node'),
      }),
    );
    const changed = await refusedReload(daemon, 2);
    expect(changed.problems).toEqual([
      expect.stringMatching(/^queues\.first\.command: command "\/nonexistent\/qscale-node"/),
    ]);
    await expectUnchanged(daemon, before, pids, marker);

    daemon.child.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
    expect(await markedProcesses(marker)).toEqual({ live: [], zombies: [] });
  }, 120_000);

  it('a new http.port already in use: the daemon keeps running, listening where it was; a free port then applies', async () => {
    const { dir, marker, cleanup } = await scratch();
    const prefix = uniquePrefix('atomic-http').slice(0, -1);
    cleanups.add(cleanup, () => deleteKeys(redis, `${prefix}:*`));
    const queues = queue('jobs', marker, '{ min: 1, max: 2 }');
    const path = await writeConfig(dir, config({ dir, prefix, queues }));
    const daemon = await launchQscaled(['--config', path], marker, cleanups);
    const before = summary(
      await daemon.until((state) => running(state, 'jobs') === 1, 'one worker'),
    );
    const pids = await livePids(marker);
    const oldUrl = daemon.url;

    const taken = await occupyPort();
    cleanups.add(() => new Promise((resolve) => taken.server.close(resolve)));
    await writeFile(path, config({ dir, prefix, port: taken.port, queues }));
    const refusal = await refusedReload(daemon, 1);
    expect(refusal.problems).toEqual([
      `http: cannot listen on 127.0.0.1:${taken.port} (listen EADDRINUSE: address already in use 127.0.0.1:${taken.port})`,
    ]);
    await expectUnchanged(daemon, before, pids, marker);
    expect(daemon.url).toBe(oldUrl);

    // Once the port is free, the same file applies: the API moves to it.
    await new Promise((resolve) => taken.server.close(resolve));
    daemon.child.kill('SIGHUP');
    await waitFor(() => daemon.hasLog('configuration reloaded'), { what: 'the reload applied' });
    const applied = daemon.logs.find((line) => line.msg === 'configuration reloaded');
    expect(applied).toMatchObject({ changed: ['http'], http: `http://127.0.0.1:${taken.port}` });
    daemon.url = `http://127.0.0.1:${taken.port}`;
    expect(summary(await daemon.state())).toEqual(before);
    await waitFor(
      () =>
        fetch(`${oldUrl}/healthz`).then(
          () => false,
          () => true,
        ),
      { what: 'the old listener closed' },
    );
    expect(await livePids(marker)).toEqual(pids);

    daemon.child.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
  }, 120_000);
});

/**
 * The queues, bounds, worker counts and worker processes are those of `before`, and stay so
 * over the next ticks (a half-applied reload shows there: a queue scaling to new bounds).
 */
async function expectUnchanged(
  daemon: QscaledProcess,
  before: ReturnType<typeof summary>,
  pids: number[],
  marker: string,
): Promise<void> {
  const now = await daemon.state();
  await daemon.until((state) => state.ticks >= now.ticks + 4, 'four more ticks');
  const after = await daemon.state();
  expect(summary(after)).toEqual(before);
  expect(after.decisions.filter((decision) => decision.at > now.now)).toEqual([]);
  expect(await livePids(marker)).toEqual(pids);
}

async function occupyPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { server, port: address.port };
}
