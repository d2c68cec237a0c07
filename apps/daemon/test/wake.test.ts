import { join } from 'node:path';
import { connectRedis, deleteKeys, redisUrl, uniquePrefix } from '@qscale/testkit';
import { Queue } from 'bullmq';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { DaemonState } from '../src/index.js';
import { BULLMQ_WORKER, Cleanups, launchQscaled, scratch, writeConfig } from './helpers/qscaled.js';

const redis = connectRedis();
const cleanups = new Cleanups();
afterEach(() => cleanups.run());
afterAll(async () => {
  await redis.quit();
});

/** One BullMQ queue scaled to zero, with a 60 s tick: only a wake can start a worker sooner. */
async function start(wakePoll: string) {
  const { dir, marker, cleanup } = await scratch();
  const prefix = uniquePrefix('wake').slice(0, -1);
  cleanups.add(cleanup, () => deleteKeys(redis, `${prefix}:*`));
  const path = await writeConfig(
    dir,
    `
redis: { url: "${redisUrl()}" }
tick: 60s
wakePoll: ${wakePoll}
http: { port: 0 }
log: { level: debug }
limits: { cpu: { enforce: false } }
supervision: { stateFile: ${join(dir, 'state.json')} }
queues:
  mail:
    driver: bullmq
    prefix: ${prefix}
    command: [node, ${BULLMQ_WORKER}, mail, "${marker}"]
    env: { REDIS_URL: "${redisUrl()}", QUEUE_PREFIX: ${prefix} }
    workers: { min: 0, max: 2 }
    slo: { pickup: 5s }
    stop: { grace: 5s }
`,
  );
  const daemon = await launchQscaled(['--config', path], marker, cleanups);
  await daemon.until((state) => state.ticks >= 1, 'the first tick');
  const queue = new Queue('mail', { connection: redis, prefix });
  cleanups.add(() => queue.close());
  return { daemon, queue };
}

const started = (state: DaemonState) => {
  const workers = state.queues.find((entry) => entry.name === 'mail')?.workers;
  return (workers?.running ?? 0) + (workers?.starting ?? 0);
};

describe('waking a queue scaled to zero', () => {
  it('starts a worker for the first job between ticks, not at the next one', async () => {
    const { daemon, queue } = await start('100ms');
    expect(started(await daemon.state())).toBe(0);
    await queue.add('send', { ms: 10 });
    // The next regular tick is about a minute away.
    const woken = await daemon.until((state) => started(state) >= 1, 'a worker', 20_000);
    expect(woken.ticks).toBe(2);
    expect(daemon.hasLog('a first job for a queue without workers: ticking now')).toBe(true);
  });

  it('with wakePoll 0s, the first job waits for the next tick', async () => {
    const { daemon, queue } = await start('0s');
    await queue.add('send', { ms: 10 });
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const state = await daemon.state();
    expect(state.ticks).toBe(1);
    expect(started(state)).toBe(0);
  });
});

/**
 * A worker group of two RQ queues (`rq worker high default`, strict priority) scaled to zero,
 * with a 60 s tick. Its worker is a process that stays up (the jobs are never run): what is
 * tested is that the group's pool starts, not what RQ does with the job. The strategy is the
 * default `predictive`, asked at the wake for a lone job whose arrival rate is not known yet
 * (RQ's first read): the slot that runs it (it once asked for none).
 */
async function startGroup() {
  const { dir, marker, cleanup } = await scratch();
  const prefix = uniquePrefix('wake-group');
  cleanups.add(cleanup, () => deleteKeys(redis, `${prefix}*`));
  const path = await writeConfig(
    dir,
    `
redis: { url: "${redisUrl()}" }
tick: 60s
wakePoll: 100ms
http: { port: 0 }
log: { level: debug }
limits: { cpu: { enforce: false } }
supervision: { stateFile: ${join(dir, 'state.json')} }
queues:
  high: { driver: rq, prefix: "${prefix}", slo: { pickup: 5s } }
  default: { driver: rq, prefix: "${prefix}", slo: { pickup: 30s } }
groups:
  web:
    queues: [high, default]
    command: [node, -e, "process.on('SIGTERM', () => process.exit(0)); setInterval(() => {}, 1000)", --, "${marker}"]
    workers: { min: 0, max: 2 }
    stop: { grace: 5s }
`,
  );
  const daemon = await launchQscaled(['--config', path], marker, cleanups);
  await daemon.until((state) => state.ticks >= 1, 'the first tick');
  /** Enqueues one job on `queue` as RQ does: its hash, then its id on the queue's list. */
  const enqueue = async (queue: string) => {
    const id = `job-${Date.now()}`;
    await redis.hset(`${prefix}rq:job:${id}`, 'enqueued_at', new Date().toISOString());
    await redis.rpush(`${prefix}rq:queue:${queue}`, id);
  };
  return { daemon, enqueue };
}

const groupStarted = (state: DaemonState) => {
  const workers = state.queues.find((entry) => entry.name === 'web')?.workers;
  return (workers?.running ?? 0) + (workers?.starting ?? 0);
};

describe('waking a worker group scaled to zero', () => {
  // The second member, not the first: any member's first job must wake the group's pool.
  it('starts the pool for a first job on any member queue between ticks', async () => {
    const { daemon, enqueue } = await startGroup();
    const before = await daemon.state();
    expect(before.ticks).toBe(1);
    expect(groupStarted(before)).toBe(0);
    await enqueue('default');
    const woken = await daemon.until((state) => groupStarted(state) >= 1, 'a worker', 20_000);
    // The next regular tick is about a minute away: the wake ran the second tick.
    expect(woken.ticks).toBe(2);
    const wake = daemon.logs.find(
      (line) => line.msg === 'a first job for a queue without workers: ticking now',
    );
    expect(wake?.queues).toEqual(['default']);
    const web = woken.queues.find((entry) => entry.name === 'web');
    expect(web?.group?.members.map((member) => [member.name, member.snapshot?.pending])).toEqual([
      ['high', 0],
      ['default', 1],
    ]);
  });
});
