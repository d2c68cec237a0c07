import { join } from 'node:path';
import {
  connectRedis,
  deleteKeys,
  LaravelRedisQueue,
  readProc,
  redisUrl,
  startPrivateRedis,
  uniquePrefix,
  waitFor,
} from '@qscale/testkit';
import { Queue } from 'bullmq';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  BULLMQ_WORKER,
  Cleanups,
  FIXTURES,
  launchQscaled,
  markedProcesses,
  type QscaledProcess,
  running,
  scratch,
  writeConfig,
} from './helpers/qscaled.js';

// End to end: the real qscaled binary, a real Redis, real worker processes, checked through
// the status API, the daemon's own log lines and /proc. Durations are generous because the
// machine may be busy; nothing here asserts how fast anything is (bench/ does).

const redis = connectRedis();
const cleanups = new Cleanups();
afterEach(() => cleanups.run());
afterAll(async () => {
  await redis.quit();
});

/** The config of one BullMQ queue whose workers run the example worker. */
function bullmqConfig(options: {
  dir: string;
  url: string;
  prefix: string;
  marker: string;
  queue: string;
  min: number;
  max: number;
  extraQueues?: string;
}): string {
  return `
redis: { url: "${options.url}" }
tick: 1s
http: { port: 0 }
# The machine running the tests may be busy: CPU headroom must not decide these tests.
limits: { cpu: { enforce: false } }
supervision: { stateFile: ${join(options.dir, 'state.json')} }
queues:
  ${options.queue}:
    driver: bullmq
    prefix: ${options.prefix}
    command: [node, ${BULLMQ_WORKER}, ${options.queue}, "${options.marker}"]
    env: { REDIS_URL: "${options.url}", QUEUE_PREFIX: ${options.prefix} }
    slo: { pickup: 10s, percentile: 95 }
    workers: { min: ${options.min}, max: ${options.max} }
    stop: { grace: 5s }
    spawn: { latency: 1s, minUptime: 500ms }
    scaling: { cooldown: 2s, downStabilization: 3s }
${options.extraQueues ?? ''}`;
}

function launch(configPath: string, marker: string): Promise<QscaledProcess> {
  return launchQscaled(['--config', configPath], marker, cleanups);
}

async function bullmqQueue(name: string, prefix: string, url = redisUrl()) {
  const connection = connectRedis(url);
  const queue = new Queue(name, { connection, prefix });
  cleanups.add(async () => {
    await queue.close();
    await connection.quit();
  });
  return queue;
}

function percentile95(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(sorted.length * 0.95) - 1)] ?? Number.NaN;
}

describe('qscaled end to end', () => {
  it('BullMQ: scales up within two ticks of a spike, holds the SLO, scales back down', async () => {
    const { dir, marker, cleanup } = await scratch();
    const prefix = uniquePrefix('e2e-bullmq').slice(0, -1);
    cleanups.add(cleanup, () => deleteKeys(redis, `${prefix}:*`));
    const config = await writeConfig(
      dir,
      bullmqConfig({ dir, url: redisUrl(), prefix, marker, queue: 'emails', min: 1, max: 8 }),
    );
    const daemon = await launch(config, marker);
    const queue = await bullmqQueue('emails', prefix);
    await daemon.until((state) => running(state, 'emails') === 1, 'the minimum worker running');

    // Steady traffic one worker handles: 2 jobs/s of 200 ms for 6 s.
    for (let second = 0; second < 6; second++) {
      await queue.addBulk([0, 1].map(() => ({ name: 'e', data: { ms: 200 } })));
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    // The spike: 120 jobs of 200 ms at once, 24 worker-seconds of work.
    const before = await daemon.state();
    await queue.addBulk(Array.from({ length: 120 }, () => ({ name: 'e', data: { ms: 200 } })));
    // Read once the spike is in Redis: on a busy machine the push can take ticks of its own.
    const pushed = await daemon.state();
    const scaled = await daemon.until(
      (state) => state.decisions.some((d) => d.direction === 'up' && d.tick >= before.ticks),
      'a scale-up decision after the spike',
    );
    const first = scaled.decisions.find((d) => d.direction === 'up' && d.tick >= before.ticks);
    // Tick `pushed.ticks` is the next to finish after that read (it may have read Redis before
    // the push ended): the spike is seen at that tick or the one after.
    expect(first?.tick).toBeLessThanOrEqual(pushed.ticks + 1);
    expect(first?.to).toBeGreaterThan(1);

    // Every job done, then the pickups the jobs themselves recorded.
    await waitFor(async () => (await queue.getJobCounts('completed')).completed === 132, {
      timeoutMs: 60_000,
      what: 'every job completed',
    });
    const jobs = await queue.getJobs(['completed'], 0, 200);
    const pickups = jobs.map((job) => (job.processedOn ?? 0) - job.timestamp);
    expect(pickups).toHaveLength(132);
    expect(percentile95(pickups)).toBeLessThanOrEqual(10_000);

    // Idle again: back to the minimum.
    const settled = await daemon.until(
      (state) => running(state, 'emails') === 1 && state.queues[0]?.workers.stopping === 0,
      'workers back to the minimum after the spike',
    );
    expect(settled.decisions.some((d) => d.direction === 'down')).toBe(true);
    daemon.child.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
  }, 150_000);

  it('Laravel: scales workers that pop, reserve and delete jobs as Laravel does', async () => {
    const { dir, marker, cleanup } = await scratch();
    const prefix = uniquePrefix('e2e-laravel');
    cleanups.add(cleanup, () => deleteKeys(redis, `${prefix}*`));
    const config = await writeConfig(
      dir,
      `
redis: { url: "${redisUrl()}" }
tick: 1s
http: { port: 0 }
# The machine running the tests may be busy: CPU headroom must not decide these tests.
limits: { cpu: { enforce: false } }
supervision: { stateFile: ${join(dir, 'state.json')} }
queues:
  invoices:
    driver: laravel
    prefix: "${prefix}"
    cwd: ${FIXTURES}
    command: [node, --import, tsx, laravel-worker.ts, invoices, "${marker}"]
    env: { REDIS_URL: "${redisUrl()}", LARAVEL_PREFIX: "${prefix}", JOB_MS: 200 }
    slo: { pickup: 10s }
    workers: { min: 1, max: 8 }
    stop: { grace: 5s }
    spawn: { latency: 2s, minUptime: 500ms }
    scaling: { cooldown: 2s, downStabilization: 3s }
`,
    );
    const daemon = await launch(config, marker);
    const laravel = new LaravelRedisQueue(redis, { prefix, queue: 'invoices' });
    await daemon.until((state) => running(state, 'invoices') === 1, 'the minimum worker running');

    const before = await daemon.state();
    // A hundred round trips: on a busy machine ticks pass while they are pushed.
    for (let i = 0; i < 100; i++) await laravel.push();
    const pushed = await daemon.state();
    const scaled = await daemon.until(
      (state) => state.decisions.some((d) => d.direction === 'up' && d.tick >= before.ticks),
      'a scale-up decision after the spike',
    );
    const first = scaled.decisions.find((d) => d.direction === 'up' && d.tick >= before.ticks);
    expect(first?.tick).toBeLessThanOrEqual(pushed.ticks + 1);
    // The reader saw the Laravel backlog as the workers left it: reserved while running.
    await waitFor(
      async () =>
        (await redis.llen(laravel.key)) === 0 &&
        (await redis.zcard(`${laravel.key}:reserved`)) === 0,
      { timeoutMs: 60_000, what: 'every Laravel job popped, run and deleted' },
    );
    // The snapshot below must come from a tick that read Redis after the drain: tick
    // `drained.ticks` may have read it before, the one after cannot have.
    const drained = await daemon.state();
    const settled = await daemon.until(
      (state) =>
        running(state, 'invoices') === 1 &&
        state.queues[0]?.workers.stopping === 0 &&
        state.ticks >= drained.ticks + 2,
      'workers back to the minimum, and a tick read after the drain',
    );
    expect(settled.queues[0]?.snapshot?.pending).toBe(0);
    daemon.child.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
  }, 150_000);

  it('Redis restarted mid-run: workers are kept, the outage is reported, then recovery', async () => {
    const server = await startPrivateRedis();
    cleanups.add(() => server.stop());
    const { dir, marker, cleanup } = await scratch();
    cleanups.add(cleanup);
    const config = await writeConfig(
      dir,
      bullmqConfig({
        dir,
        url: server.url,
        prefix: 'outage',
        marker,
        queue: 'jobs',
        min: 2,
        max: 4,
      }),
    );
    const daemon = await launch(config, marker);
    const up = await daemon.until((state) => running(state, 'jobs') === 2, 'two workers running');
    const pids = up.queues[0]?.pool?.workers.map((worker) => worker.pid) ?? [];

    await server.stop();
    const down = await daemon.until(
      (state) => state.health.status === 'degraded',
      'the outage reported on /api/state',
    );
    expect(down.health.reasons).toEqual(['queue jobs cannot be read']);
    // Several ticks without Redis: the workers stay, the same processes.
    await daemon.until((state) => state.ticks >= down.ticks + 3, 'three more ticks');
    const during = await daemon.state();
    expect(running(during, 'jobs')).toBe(2);
    expect(during.queues[0]?.pool?.workers.map((worker) => worker.pid)).toEqual(pids);
    for (const pid of pids) expect((await readProc(pid ?? -1))?.state).not.toBe('Z');
    expect(daemon.hasLog('cannot read queue; keeping its workers until it can be read')).toBe(true);

    await server.start();
    await daemon.until((state) => state.health.status === 'ok', 'recovery after Redis is back');
    expect(daemon.hasLog('queue readable again')).toBe(true);
    expect(running(await daemon.state(), 'jobs')).toBe(2);
    daemon.child.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
  }, 150_000);

  it('SIGTERM: every worker gone (a stubborn one killed after its grace), exit code 0', async () => {
    const { dir, marker, cleanup } = await scratch();
    const prefix = uniquePrefix('e2e-sigterm').slice(0, -1);
    cleanups.add(cleanup, () => deleteKeys(redis, `${prefix}:*`));
    const config = await writeConfig(
      dir,
      bullmqConfig({
        dir,
        url: redisUrl(),
        prefix,
        marker,
        queue: 'polite',
        min: 2,
        max: 2,
        extraQueues: `
  stubborn:
    driver: bullmq
    prefix: ${prefix}
    command: [node, ${join(FIXTURES, 'stubborn-worker.mjs')}, "${marker}"]
    workers: { min: 1, max: 1 }
    stop: { grace: 2s }
    spawn: { minUptime: 500ms }
`,
      }),
    );
    const daemon = await launch(config, marker);
    await daemon.until(
      (state) => running(state, 'polite') === 2 && running(state, 'stubborn') === 1,
      'three workers running',
    );
    expect((await markedProcesses(marker)).live).toHaveLength(3);

    daemon.child.kill('SIGTERM');
    const exit = await daemon.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(await markedProcesses(marker)).toEqual({ live: [], zombies: [] });
    const escalated = daemon.logs.filter((line) => /SIGKILL/.test(line.msg));
    expect(escalated.map((line) => line.queue)).toEqual(['stubborn']);
    const stopped = daemon.logs.find((line) => line.msg === 'qscale daemon stopped');
    expect(stopped).toMatchObject({ stopped: 3, escalated: 1, unkillable: 0 });
  }, 120_000);

  it('SIGKILL, then a new start: the workers are adopted, none duplicated, none orphaned', async () => {
    const { dir, marker, cleanup } = await scratch();
    const prefix = uniquePrefix('e2e-sigkill').slice(0, -1);
    cleanups.add(cleanup, () => deleteKeys(redis, `${prefix}:*`));
    const config = await writeConfig(
      dir,
      bullmqConfig({ dir, url: redisUrl(), prefix, marker, queue: 'jobs', min: 3, max: 3 }),
    );
    const first = await launch(config, marker);
    await first.until((state) => running(state, 'jobs') === 3, 'three workers running');
    const before = (await markedProcesses(marker)).live.map((info) => info.pid).sort();
    expect(before).toHaveLength(3);

    first.child.kill('SIGKILL');
    await first.exited;
    // The workers outlive the daemon for now; nothing has been spawned again.
    expect((await markedProcesses(marker)).live.map((info) => info.pid).sort()).toEqual(before);

    const second = await launch(config, marker);
    const adopted = await second.until(
      (state) => running(state, 'jobs') === 3,
      'the previous workers adopted',
    );
    const workers = adopted.queues[0]?.pool?.workers ?? [];
    expect(workers.every((worker) => worker.adopted)).toBe(true);
    expect(workers.map((worker) => worker.pid).sort()).toEqual(before);
    // A few more ticks: still exactly those three processes.
    await second.until((state) => state.ticks >= adopted.ticks + 3, 'three more ticks');
    expect((await markedProcesses(marker)).live.map((info) => info.pid).sort()).toEqual(before);

    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
    expect(await markedProcesses(marker)).toEqual({ live: [], zombies: [] });
  }, 150_000);
});
