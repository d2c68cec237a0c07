import { deleteKeys, redisUrl, uniquePrefix, waitFor } from '@qscale/testkit';
import { Queue, Worker } from 'bullmq';
import { describe, expect, it } from 'vitest';
import type { MetricsReaderOptions } from '../src/index.js';
import { nextSnapshot, readRates } from './helpers/reads.js';
import { redisFixture } from './helpers/setup.js';

// The BullMQ driver's event stream beyond one read and after a trim: the paths the accuracy
// load runs reach, here with a real BullMQ queue and worker and a few jobs.
const fixture = redisFixture();

function connection() {
  const url = new URL(redisUrl());
  return { host: url.hostname, port: Number(url.port || 6379) };
}

function setUp(name: string, options: Partial<MetricsReaderOptions> = {}) {
  const prefix = uniquePrefix('bull').slice(0, -1);
  fixture.cleanups.push(() => deleteKeys(fixture.redis, `${prefix}:*`));
  const queue = new Queue(name, { connection: connection(), prefix });
  fixture.cleanups.push(() => queue.close());
  const reader = fixture.reader('bullmq', prefix, [name], options);
  return { prefix, queue, reader };
}

/** A real worker that completes jobs until `count` are done. */
async function workUntil(prefix: string, name: string, count: number): Promise<void> {
  let done = 0;
  const worker = new Worker(
    name,
    async () => {
      done++;
    },
    { connection: connection(), prefix, concurrency: 2 },
  );
  fixture.cleanups.push(() => worker.close());
  await waitFor(() => done >= count, { timeoutMs: 60_000, intervalMs: 10, what: `${count} jobs` });
  await worker.close();
}

describe('BullMQ events beyond the stream', () => {
  it('after a trim past the last entry read, counts arrivals from the id counter and completions by conservation', async () => {
    const { prefix, queue, reader } = setUp('trimmed');
    // Seeded from the stream: 3 arrivals and 3 completions.
    for (let index = 0; index < 3; index++) await queue.add('job', { index });
    await workUntil(prefix, 'trimmed', 3);
    await reader.snapshot();
    // The stream loses the entries after the one read last, and 5 jobs are added.
    await fixture.redis.xtrim(`${prefix}:trimmed:events`, 'MAXLEN', 0);
    for (let index = 0; index < 5; index++) await queue.add('job', { index });
    const lost = await nextSnapshot(reader);
    expect(lost).toMatchObject({ pending: 5, active: 0 });
    expect(lost?.sources.completionRate).toBe('estimate');
    const snapshot = await readRates(reader);
    // id 3 -> 8: 5 added, all still there (5 - (5 - 0) = 0 completed): 8 arrivals, 3 completions.
    expect((snapshot?.arrivalRate ?? 0) / (snapshot?.completionRate ?? 1)).toBeCloseTo(8 / 3, 1);
  });

  it('reads more events than one read holds over several reads, each once', async () => {
    const { prefix, queue, reader } = setUp('long', { maxEventsPerTick: 4 });
    await reader.snapshot();
    for (let index = 0; index < 6; index++) await queue.add('job', { index });
    await workUntil(prefix, 'long', 6);
    // 6 arrivals and 6 completions in some 25 entries, three new ones a read (the fourth is the
    // last one read before): 15 reads take in every entry.
    let snapshot = await readRates(reader);
    for (let read = 0; read < 15; read++) snapshot = await nextSnapshot(reader);
    expect(snapshot).toMatchObject({ pending: 0, active: 0 });
    expect(snapshot?.arrivalRate).toBeGreaterThan(0);
    expect(snapshot?.completionRate).toBeCloseTo(snapshot?.arrivalRate ?? Number.NaN, 6);
    expect(snapshot?.serviceTimeMs).not.toBeNull();
    expect(snapshot?.pickupLatencyMs?.samples).toBe(6);
  });
});
