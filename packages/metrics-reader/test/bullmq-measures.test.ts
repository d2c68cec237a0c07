import { deleteKeys, redisUrl, uniquePrefix, waitFor } from '@qscale/testkit';
import { Queue, Worker } from 'bullmq';
import { Queue as Queue5 } from 'bullmq5';
import { describe, expect, it } from 'vitest';
import { redisFixture } from './helpers/setup.js';

// What the BullMQ driver measures beyond depth: rates from the event stream, and the oldest
// age from job hashes when the stream no longer holds the job's `waiting` entry.
const fixture = redisFixture();

function connection() {
  const url = new URL(redisUrl());
  return { host: url.hostname, port: Number(url.port || 6379) };
}

function setUp(name: string) {
  const prefix = uniquePrefix('bull').slice(0, -1);
  fixture.cleanups.push(() => deleteKeys(fixture.redis, `${prefix}:*`));
  const queue = new Queue(name, { connection: connection(), prefix });
  fixture.cleanups.push(() => queue.close());
  const reader = fixture.reader('bullmq', prefix, [name]);
  return { prefix, queue, reader };
}

describe('BullMQ rates', () => {
  it('counts every job once as an arrival and once as a completion', async () => {
    const { prefix, queue, reader } = setUp('rated');
    await reader.snapshot();
    for (let index = 0; index < 12; index++) await queue.add('job', { index });
    const worker = new Worker('rated', async () => {}, {
      connection: connection(),
      prefix,
      concurrency: 3,
    });
    fixture.cleanups.push(() => worker.close());
    // Completed is recorded (with its event) after the processor returns: wait for the record.
    await waitFor(async () => (await queue.getCompletedCount()) === 12, {
      timeoutMs: 30_000,
      what: '12 jobs recorded completed',
    });
    const [snapshot] = await reader.snapshot();
    expect(snapshot?.arrivalRate).toBeGreaterThan(0);
    expect(snapshot?.completionRate).toBeCloseTo(snapshot?.arrivalRate ?? Number.NaN, 6);
    expect(snapshot?.sources).toMatchObject({ arrivalRate: 'counter', completionRate: 'counter' });
    // Nothing new: the same jobs are not counted again on the next read.
    const [later] = await reader.snapshot();
    expect(later?.arrivalRate).toBeLessThanOrEqual(snapshot?.arrivalRate ?? 0);
    expect(later?.completionRate).toBeCloseTo(later?.arrivalRate ?? Number.NaN, 6);
  });
});

describe('BullMQ oldest age from the job hash (event stream trimmed)', () => {
  const createdAgo = 5_000;

  it.each([
    ['waiting', {}],
    ['prioritized', { priority: 3 }],
  ] as const)('reads the age of the oldest %s job from its timestamp', async (_what, opts) => {
    const { prefix, queue, reader } = setUp('aged');
    const createdAt = Date.now() - createdAgo;
    await queue.add('old', {}, { ...opts, timestamp: createdAt });
    await queue.add('new', {}, opts);
    await fixture.redis.xtrim(`${prefix}:aged:events`, 'MAXLEN', 0);
    // The prioritized set's head is read from the second tick on (once it was seen non-empty).
    await reader.snapshot();
    const [snapshot] = await reader.snapshot();
    expect(snapshot?.pending).toBe(2);
    expect(snapshot?.oldestPendingAgeMs).toBeGreaterThanOrEqual(createdAgo);
    expect(snapshot?.oldestPendingAgeMs).toBeLessThanOrEqual(Date.now() - createdAt);
  });

  it('reads the age of the oldest job of a paused queue (BullMQ 5 keeps it in a paused list)', async () => {
    const { prefix, reader } = setUp('held');
    const queue = new Queue5('held', { connection: connection(), prefix });
    fixture.cleanups.push(() => queue.close());
    const createdAt = Date.now() - createdAgo;
    await queue.pause();
    await queue.add('old', {}, { timestamp: createdAt });
    await queue.add('new', {});
    await fixture.redis.xtrim(`${prefix}:held:events`, 'MAXLEN', 0);
    await reader.snapshot();
    const [snapshot] = await reader.snapshot();
    expect(snapshot).toMatchObject({ paused: true, pending: 2 });
    expect(snapshot?.oldestPendingAgeMs).toBeGreaterThanOrEqual(createdAgo);
  });
});
