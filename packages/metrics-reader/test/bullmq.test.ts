import { connectRedis, deleteKeys, redisUrl, uniquePrefix, waitFor } from '@qscale/testkit';
import { Queue as Queue6, Worker as Worker6 } from 'bullmq';
import { Queue as Queue5 } from 'bullmq5';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMetricsReader, type MetricsReader } from '../src/index.js';

let redis: Redis;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(() => {
  redis = connectRedis();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await redis.quit();
});

function connection() {
  const url = new URL(redisUrl());
  return { host: url.hostname, port: Number(url.port || 6379) };
}

function reader(prefix: string, queues: string[]): MetricsReader {
  const created = createMetricsReader({
    sources: queues.map((name) => ({
      queue: name,
      driver: 'bullmq' as const,
      backendName: name,
      prefix,
      redis: { url: redisUrl() },
    })),
    minSamples: 1,
  });
  cleanups.push(() => created.close());
  return created;
}

/** What the tests need of a Queue, common to both major versions. */
interface AnyQueue {
  add(
    name: string,
    data: unknown,
    opts?: { priority?: number; delay?: number; timestamp?: number },
  ): Promise<unknown>;
  pause(): Promise<void>;
  close(): Promise<void>;
}

const versions: [string, (name: string, prefix: string) => AnyQueue][] = [
  ['v6', (name, prefix) => new Queue6(name, { connection: connection(), prefix })],
  ['v5', (name, prefix) => new Queue5(name, { connection: connection(), prefix })],
];

describe.each(versions)('BullMQ %s', (_label, makeQueue) => {
  it('counts waiting, prioritized, delayed, due and failed jobs exactly, and reads the oldest age', async () => {
    const prefix = uniquePrefix('bull').slice(0, -1);
    cleanups.push(() => deleteKeys(redis, `${prefix}:*`));
    const queue = makeQueue('emails', prefix);
    cleanups.push(() => queue.close());
    const before = Date.now();
    for (let index = 0; index < 7; index++) await queue.add('send', { index });
    await queue.add('urgent', {}, { priority: 1 });
    await queue.add('urgent', {}, { priority: 2 });
    await queue.add('later', {}, { delay: 60_000 });
    await queue.add('later', {}, { delay: 120_000 });
    // Due but not promoted: with no worker running, it waits in the delayed set.
    await queue.add('due', {}, { delay: 1 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    // A failed job, written where BullMQ keeps them.
    await redis.zadd(`${prefix}:emails:failed`, Date.now(), 'x1', Date.now(), 'x2');

    const [snapshot] = await reader(prefix, ['emails']).snapshot();
    expect(snapshot).toMatchObject({
      queue: 'emails',
      backend: 'bullmq',
      pending: 10,
      delayed: 2,
      active: 0,
      failed: 2,
      paused: false,
    });
    expect(snapshot?.error).toBeUndefined();
    expect(snapshot?.oldestPendingAgeMs).toBeGreaterThanOrEqual(20);
    expect(snapshot?.oldestPendingAgeMs).toBeLessThanOrEqual(Date.now() - before);
    expect(snapshot?.sources).toMatchObject({ pending: 'counter', oldestPendingAgeMs: 'counter' });
  });

  it('reads the oldest age from the longest-due delayed job when it waited longer than the waiting ones', async () => {
    const prefix = uniquePrefix('bull').slice(0, -1);
    cleanups.push(() => deleteKeys(redis, `${prefix}:*`));
    const queue = makeQueue('exports', prefix);
    cleanups.push(() => queue.close());
    // Created 5.4 s ago with a 200 ms delay: due for 5.2 s, never promoted (no worker runs).
    const dueSince = Date.now() - 5_200;
    await queue.add('due', {}, { delay: 200, timestamp: dueSince - 200 });
    // Waiting since just now: the newer of the two candidates for the oldest pending job.
    await queue.add('fresh', {});
    const [snapshot] = await reader(prefix, ['exports']).snapshot();
    expect(snapshot?.pending).toBe(2);
    expect(snapshot?.oldestPendingAgeMs).toBeGreaterThanOrEqual(5_200);
    expect(snapshot?.oldestPendingAgeMs).toBeLessThanOrEqual(Date.now() - dueSince);
  });

  it('reports a paused queue and still counts its jobs as pending', async () => {
    const prefix = uniquePrefix('bull').slice(0, -1);
    cleanups.push(() => deleteKeys(redis, `${prefix}:*`));
    const queue = makeQueue('reports', prefix);
    cleanups.push(() => queue.close());
    await queue.add('a', {});
    await queue.add('b', {});
    await queue.pause();
    const [snapshot] = await reader(prefix, ['reports']).snapshot();
    expect(snapshot).toMatchObject({ paused: true, pending: 2 });
  });
});

describe('BullMQ with a real worker', () => {
  it('measures pickups and run times of jobs a worker processed, from the event stream', async () => {
    const prefix = uniquePrefix('bull').slice(0, -1);
    cleanups.push(() => deleteKeys(redis, `${prefix}:*`));
    const queue = new Queue6('work', { connection: connection(), prefix });
    cleanups.push(() => queue.close());
    const metrics = reader(prefix, ['work']);
    await metrics.snapshot();
    for (let index = 0; index < 12; index++) await queue.add('job', { index });
    const runs: number[] = [];
    const worker = new Worker6(
      'work',
      async (job) => {
        await new Promise((resolve) => setTimeout(resolve, 60));
        runs.push((job.processedOn ?? 0) - job.timestamp);
      },
      { connection: connection(), prefix, concurrency: 3 },
    );
    cleanups.push(() => worker.close());
    // A processor returns before BullMQ records the job completed (and writes its event):
    // wait for the record, not for the processors.
    await waitFor(async () => (await queue.getCompletedCount()) === 12, {
      timeoutMs: 30_000,
      what: '12 jobs recorded completed',
    });
    const [snapshot] = await metrics.snapshot();
    expect(snapshot?.pending).toBe(0);
    expect(snapshot?.pickupLatencyMs?.samples).toBe(12);
    // Each job sleeps 60 ms; how long they ran on a busy machine is what BullMQ stamped.
    const completed = await queue.getJobs(['completed']);
    const ranMs = completed.map((job) => (job.finishedOn ?? 0) - (job.processedOn ?? 0));
    const meanRanMs = ranMs.reduce((sum, ms) => sum + ms, 0) / ranMs.length;
    expect(ranMs).toHaveLength(12);
    expect(snapshot?.serviceTimeMs?.mean).toBeGreaterThanOrEqual(55);
    expect(snapshot?.serviceTimeMs?.mean).toBeGreaterThan(meanRanMs * 0.8);
    expect(snapshot?.serviceTimeMs?.mean).toBeLessThan(meanRanMs * 1.2 + 20);
    const longest = Math.max(...runs);
    expect(snapshot?.pickupLatencyMs?.p99).toBeGreaterThan(longest * 0.8);
    expect(snapshot?.pickupLatencyMs?.p99).toBeLessThan(longest * 1.2 + 20);
    expect(snapshot?.sources).toMatchObject({
      serviceTimeMs: 'observed',
      pickupLatencyMs: 'observed',
    });
  });
});
