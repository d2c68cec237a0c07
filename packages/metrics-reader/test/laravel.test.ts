import {
  connectRedis,
  deleteKeys,
  type LaravelPayloadVersion,
  LaravelRedisQueue,
  redisUrl,
  uniquePrefix,
  waitFor,
} from '@qscale/testkit';
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

function setUp(label: string) {
  const prefix = uniquePrefix(label);
  cleanups.push(() => deleteKeys(redis, `${prefix}*`));
  return prefix;
}

function reader(
  prefix: string,
  queues: string[],
  options: { maxJobsPerTick?: number } = {},
): MetricsReader {
  const created = createMetricsReader({
    ...options,
    sources: queues.map((name) => ({
      queue: name,
      driver: 'laravel' as const,
      backendName: name,
      prefix,
      redis: { url: redisUrl() },
    })),
    minSamples: 1,
  });
  cleanups.push(() => created.close());
  return created;
}

describe('Laravel depth', () => {
  it('counts ready, due-but-unmigrated, delayed, reserved and expired reservations exactly', async () => {
    const prefix = setUp('laravel');
    const queue = new LaravelRedisQueue(redis, { prefix, queue: 'emails' });
    for (let index = 0; index < 5; index++) await queue.push();
    await queue.pop();
    await queue.pop();
    await queue.later(60);
    await queue.later(120);
    // A worker whose retry_after already passed: its reservation is expired (a crashed worker).
    const crashed = new LaravelRedisQueue(redis, {
      prefix,
      queue: 'emails',
      retryAfterSeconds: -10,
    });
    await crashed.pop();
    // Due five seconds ago but not migrated: no worker has popped since.
    await queue.later(-5);
    // The expired reservation's expiry, in whole seconds as Laravel scores it (the lowest).
    const [, expiredScore] = await redis.zrange(`${queue.key}:reserved`, 0, 0, 'WITHSCORES');
    const expiredAtMs = Number(expiredScore) * 1000;

    const beforeRead = Date.now();
    const [snapshot] = await reader(prefix, ['emails']).snapshot();
    const afterRead = Date.now();
    // Ready: 2 in the list + 1 due delayed + 1 expired reservation (Laravel re-runs it).
    expect(snapshot).toMatchObject({ pending: 4, delayed: 2, active: 2, backend: 'laravel' });
    expect(snapshot).not.toHaveProperty('failed');
    // The expired reservation became available again (ten seconds before its pop) as of the
    // read: the oldest, however long the pushes and the read took.
    expect(beforeRead - expiredAtMs).toBeGreaterThanOrEqual(10_000);
    expect(snapshot?.oldestPendingAgeMs).toBeGreaterThanOrEqual(beforeRead - expiredAtMs);
    expect(snapshot?.oldestPendingAgeMs).toBeLessThanOrEqual(afterRead - expiredAtMs);
    expect(snapshot?.error).toBeUndefined();
  });

  it.each([
    ['12', 'createdAt in whole seconds'],
    ['horizon', "Horizon's pushedAt"],
  ] as const)('reads the oldest age from %s payloads (%s)', async (version, _what) => {
    const prefix = setUp('laravel');
    const queue = new LaravelRedisQueue(redis, { prefix, queue: 'default', version });
    const beforePush = Date.now();
    await queue.push();
    const afterPush = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    await queue.push();
    const beforeRead = Date.now();
    const [snapshot] = await reader(prefix, ['default']).snapshot();
    const afterRead = Date.now();
    expect(snapshot?.pending).toBe(2);
    // The age of the first push as of the read, however long the sleep and the read took:
    // exact to the millisecond from pushedAt; createdAt's whole second is read as its middle.
    const slackMs = version === 'horizon' ? 1 : 500;
    expect(snapshot?.oldestPendingAgeMs).toBeGreaterThanOrEqual(beforeRead - afterPush - slackMs);
    expect(snapshot?.oldestPendingAgeMs).toBeLessThanOrEqual(afterRead - beforePush + slackMs);
    expect(snapshot?.sources.oldestPendingAgeMs).toBe('counter');
  });

  it('ages Laravel 10-12.10 payloads, which carry no timestamp, from when the reader saw them arrive', async () => {
    const prefix = setUp('laravel');
    const version: LaravelPayloadVersion = '11';
    const queue = new LaravelRedisQueue(redis, { prefix, queue: 'legacy', version });
    const metrics = reader(prefix, ['legacy']);
    const beforeLastEmpty = Date.now();
    await metrics.snapshot();
    await queue.push();
    await queue.push();
    await metrics.snapshot();
    const afterSeen = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const beforeRead = Date.now();
    const [snapshot] = await metrics.snapshot();
    const afterRead = Date.now();
    expect(snapshot?.pending).toBe(2);
    expect(snapshot?.sources.oldestPendingAgeMs).toBe('estimate');
    // The arrival is placed between the read that saw the list empty and the one that saw
    // the jobs: the age is within those two reads, however long they took on a busy machine.
    expect(snapshot?.oldestPendingAgeMs).toBeGreaterThanOrEqual(beforeRead - afterSeen);
    expect(snapshot?.oldestPendingAgeMs).toBeLessThanOrEqual(afterRead - beforeLastEmpty);
  });

  it('says the age of a pre-existing timestamp-less backlog is unknown rather than inventing one', async () => {
    const prefix = setUp('laravel');
    const queue = new LaravelRedisQueue(redis, { prefix, queue: 'legacy', version: '11' });
    await queue.push();
    const [snapshot] = await reader(prefix, ['legacy']).snapshot();
    expect(snapshot?.pending).toBe(1);
    expect(snapshot?.oldestPendingAgeMs).toBeNull();
    expect(snapshot?.error?.code).toBe('MISSING_TIMESTAMP');
  });
});

describe('Laravel garbage', () => {
  it('gives a non-JSON head payload an error and a null age, and keeps the other figures', async () => {
    const prefix = setUp('laravel');
    const queue = new LaravelRedisQueue(redis, { prefix, queue: 'broken' });
    await queue.pushRaw('this is not { json');
    await queue.push();
    const [snapshot] = await reader(prefix, ['broken']).snapshot();
    expect(snapshot?.pending).toBe(2);
    expect(snapshot?.oldestPendingAgeMs).toBeNull();
    expect(snapshot?.error?.code).toBe('BAD_PAYLOAD');
    expect(snapshot?.error?.message).toContain(`${prefix}queues:broken`);
    // The size, never the text: a job's arguments may be secrets.
    expect(snapshot?.error?.message).toContain('18 bytes that are not JSON');
    expect(snapshot?.error?.message).not.toContain('this is not');
  });

  it('refuses to parse a 5 MB payload and says how large it was', async () => {
    const prefix = setUp('laravel');
    const queue = new LaravelRedisQueue(redis, { prefix, queue: 'huge' });
    const payload = queue.createPayload();
    payload.data = { blob: 'x'.repeat(5 * 1024 * 1024) };
    await queue.pushRaw(JSON.stringify(payload));
    const [snapshot] = await reader(prefix, ['huge']).snapshot();
    expect(snapshot?.pending).toBe(1);
    expect(snapshot?.oldestPendingAgeMs).toBeNull();
    expect(snapshot?.error?.code).toBe('PAYLOAD_TOO_LARGE');
    expect(snapshot?.error?.message).toMatch(/52\d{5} bytes, above maxPayloadBytes \(1048576\)/);
  });

  it('reads a 5 MB job alone in the list once, not every tick, and reads the head again once it is taken', async () => {
    const prefix = setUp('laravel');
    const queue = new LaravelRedisQueue(redis, { prefix, queue: 'huge' });
    const payload = queue.createPayload();
    payload.data = { blob: 'x'.repeat(5 * 1024 * 1024) };
    await queue.pushRaw(JSON.stringify(payload));
    const metrics = reader(prefix, ['huge']);
    const received = async () => {
      const [snapshot] = await metrics.snapshot();
      return { snapshot, bytes: metrics.stats().last?.receivedBytes ?? Number.NaN };
    };

    // The first read fetches it (as the oldest and as the newest job), then only counts.
    expect((await received()).bytes).toBeGreaterThan(5 * 1024 * 1024);
    for (let tick = 0; tick < 3; tick++) {
      const { snapshot, bytes } = await received();
      expect(bytes).toBeLessThan(10_000);
      expect(snapshot).toMatchObject({ pending: 1, oldestPendingAgeMs: null });
      expect(snapshot?.error?.message).toMatch(/52\d{5} bytes, above maxPayloadBytes/);
    }

    // A job behind it: the head is read once more (a lone job gives no marker to prove it
    // stayed), then not again while the job behind it stays put.
    await queue.push();
    expect((await received()).bytes).toBeGreaterThan(5 * 1024 * 1024);
    for (let tick = 0; tick < 2; tick++) {
      const { snapshot, bytes } = await received();
      expect(bytes).toBeLessThan(10_000);
      expect(snapshot).toMatchObject({ pending: 2, oldestPendingAgeMs: null });
      expect(snapshot?.error?.code).toBe('PAYLOAD_TOO_LARGE');
    }

    // A worker takes the big job: the job behind it is the head, read and aged at once. (The
    // big job, now reserved, is refused there in turn until it finishes.)
    const taken = await queue.pop();
    expect(taken?.payload.uuid).toBe(payload.uuid);
    const { snapshot } = await received();
    expect(snapshot?.pending).toBe(1);
    expect(snapshot?.oldestPendingAgeMs).not.toBeNull();
    expect(snapshot?.error?.message).not.toContain('LINDEX');
    if (taken) await queue.delete(taken);
    expect((await received()).snapshot?.error).toBeUndefined();
  });

  it('reads a 5 MB head with a backlog behind it once while it stays the head', async () => {
    const prefix = setUp('laravel');
    const queue = new LaravelRedisQueue(redis, { prefix, queue: 'huge' });
    const payload = queue.createPayload();
    payload.data = { blob: 'x'.repeat(5 * 1024 * 1024) };
    await queue.pushRaw(JSON.stringify(payload));
    for (let index = 0; index < 3; index++) await queue.push();
    const metrics = reader(prefix, ['huge']);
    await metrics.snapshot();
    expect(metrics.stats().last?.receivedBytes).toBeGreaterThan(5 * 1024 * 1024);
    for (let tick = 0; tick < 3; tick++) {
      // Jobs keep arriving behind it; none is taken.
      await queue.push();
      const [snapshot] = await metrics.snapshot();
      expect(metrics.stats().last?.receivedBytes).toBeLessThan(10_000);
      expect(snapshot).toMatchObject({ pending: 5 + tick, oldestPendingAgeMs: null });
      expect(snapshot?.error?.code).toBe('PAYLOAD_TOO_LARGE');
    }
    // Another job in front of it (not how Laravel pushes, but nothing may hide it).
    const urgent = queue.createPayload();
    await redis.lpush(`${prefix}queues:huge`, JSON.stringify(urgent));
    const [snapshot] = await metrics.snapshot();
    expect(snapshot?.error).toBeUndefined();
    expect(snapshot?.oldestPendingAgeMs).not.toBeNull();
  });

  it('names the type of a key that is a hash where a list is expected, and reads the other queues', async () => {
    const prefix = setUp('laravel');
    await redis.hset(`${prefix}queues:wrong`, 'field', 'value');
    const good = new LaravelRedisQueue(redis, { prefix, queue: 'good' });
    await good.push();
    const [wrong, fine] = await reader(prefix, ['wrong', 'good']).snapshot();
    expect(wrong?.pending).toBeNull();
    expect(wrong?.oldestPendingAgeMs).toBeNull();
    expect(wrong?.error).toEqual({
      code: 'WRONG_TYPE',
      message: expect.stringContaining(`${prefix}queues:wrong is a hash, expected a list`),
    });
    expect(fine?.pending).toBe(1);
    expect(fine?.error).toBeUndefined();
  });

  it('flags a payload whose createdAt is not a number', async () => {
    const prefix = setUp('laravel');
    const queue = new LaravelRedisQueue(redis, { prefix, queue: 'odd' });
    const payload = queue.createPayload();
    payload.createdAt = 'yesterday';
    await queue.pushRaw(JSON.stringify(payload));
    const [snapshot] = await reader(prefix, ['odd']).snapshot();
    expect(snapshot?.error?.code).toBe('BAD_PAYLOAD');
    expect(snapshot?.error?.message).toContain('createdAt');
    expect(snapshot?.pending).toBe(1);
  });
});

describe('Laravel sub-tick probe', () => {
  /** Waits until the reader's probe has read Redis `count` more times (what it saw is in). */
  async function probesPass(metrics: MetricsReader, count: number): Promise<void> {
    const target = metrics.stats().probes.count + count;
    await waitFor(() => metrics.stats().probes.count >= target, {
      timeoutMs: 60_000,
      intervalMs: 20,
      what: `${count} more probes`,
    });
  }

  function probingReader(prefix: string, probeIntervalMs: number): MetricsReader {
    const created = createMetricsReader({
      sources: [
        {
          queue: 'mail',
          driver: 'laravel',
          backendName: 'mail',
          prefix,
          redis: { url: redisUrl() },
          laravel: { retryAfter: 90, probeIntervalMs },
        },
      ],
      minSamples: 1,
    });
    cleanups.push(() => created.close());
    return created;
  }

  it('sees a job that arrives, runs and finishes between two snapshots', async () => {
    const prefix = setUp('laravel');
    // Laravel 8-11 payloads: no timestamp, every time comes from sightings.
    const queue = new LaravelRedisQueue(redis, { prefix, queue: 'mail', version: '11' });
    const metrics = probingReader(prefix, 20);
    await metrics.snapshot();
    await queue.push();
    await probesPass(metrics, 2);
    const job = await queue.pop();
    await probesPass(metrics, 2);
    if (job) await queue.delete(job);
    // Rates need half a second of sightings behind them: 30 probes of 20 ms.
    await probesPass(metrics, 30);
    const [snapshot] = await metrics.snapshot();
    expect(snapshot).toMatchObject({ pending: 0, active: 0 });
    expect(snapshot?.arrivalRate).toBeGreaterThan(0);
    expect(snapshot?.completionRate).toBeGreaterThan(0);
    expect(snapshot?.sources).toMatchObject({
      arrivalRate: 'observed',
      completionRate: 'observed',
      serviceTimeMs: 'observed',
      pickupLatencyMs: 'observed',
    });
    expect(snapshot?.serviceTimeMs?.mean).toBeGreaterThan(0);
    expect(snapshot?.pickupLatencyMs?.samples).toBe(1);
    expect(metrics.stats().probes.commands).toBeGreaterThanOrEqual(18);
  });

  it.each([
    [0, 10_000],
    [4, 6_000],
  ])(
    'times a Horizon job picked up from pushedAt (+ a %i s delay), not from when it was seen',
    async (delaySeconds, waitMs) => {
      const prefix = setUp('laravel');
      // Pushed by a producer 10 s ago (its clock); the worker's pop uses the real time.
      const producer = new LaravelRedisQueue(redis, {
        prefix,
        queue: 'mail',
        version: 'horizon',
        now: () => Date.now() - 10_000,
      });
      const worker = new LaravelRedisQueue(redis, { prefix, queue: 'mail', version: 'horizon' });
      const metrics = probingReader(prefix, 20);
      await metrics.snapshot();
      const beforePush = Date.now();
      if (delaySeconds === 0) await producer.push();
      else await producer.later(delaySeconds);
      await probesPass(metrics, 2);
      await worker.pop();
      await probesPass(metrics, 2);
      const afterSeen = Date.now();
      const [snapshot] = await metrics.snapshot();
      expect(snapshot?.pickupLatencyMs?.samples).toBe(1);
      // The sighting only bounds the reservation's moment: no later than the probe that saw
      // it, however long the probes took on a busy machine (the sketch is within 1 %).
      expect(snapshot?.pickupLatencyMs?.p50).toBeGreaterThanOrEqual(waitMs - 100);
      expect(snapshot?.pickupLatencyMs?.p50).toBeLessThanOrEqual(
        (waitMs + afterSeen - beforePush) * 1.01,
      );
    },
  );

  it('reports at the next snapshot a bad reserved payload that only a probe saw', async () => {
    const prefix = setUp('laravel');
    const queue = new LaravelRedisQueue(redis, { prefix, queue: 'mail', version: '11' });
    const metrics = probingReader(prefix, 20);
    await metrics.snapshot();
    await redis.zadd(`${queue.key}:reserved`, Math.floor(Date.now() / 1000) + 90, 'not json');
    await probesPass(metrics, 2);
    // The tick sees the member already held: only the probe parsed it.
    const [snapshot] = await metrics.snapshot();
    expect(snapshot?.active).toBe(1);
    expect(snapshot?.error?.code).toBe('BAD_PAYLOAD');
    expect(snapshot?.error?.message).toContain(`ZREVRANGE ${queue.key}:reserved`);
  });

  it('with the probe off, leaves the run time and pickup unknown rather than tick-wide guesses', async () => {
    const prefix = setUp('laravel');
    // Laravel 8-11 payloads: no timestamp, every time comes from sightings.
    const queue = new LaravelRedisQueue(redis, { prefix, queue: 'mail', version: '11' });
    const metrics = probingReader(prefix, 0);
    await metrics.snapshot();
    await queue.push();
    // More than MAX_SPAN_MS between sightings: too wide to time a job by.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await metrics.snapshot();
    const job = await queue.pop();
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await metrics.snapshot();
    if (job) await queue.delete(job);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const [snapshot] = await metrics.snapshot();
    expect(snapshot?.completionRate).toBeGreaterThan(0);
    expect(snapshot?.sources.completionRate).toBe('estimate');
    expect(snapshot?.serviceTimeMs).toBeNull();
    expect(snapshot?.pickupLatencyMs).toBeNull();
    expect(metrics.stats().probes.count).toBe(0);
  });

  it('pauses while more than 64 KiB of payloads are reserved, and leaves the gap out of the rates', async () => {
    const prefix = setUp('laravel');
    const queue = new LaravelRedisQueue(redis, { prefix, queue: 'mail', version: '11' });
    const big = queue.createPayload();
    big.data = { blob: 'x'.repeat(70_000) };
    await queue.pushRaw(JSON.stringify(big));
    await queue.pop();
    const metrics = probingReader(prefix, 20);
    await metrics.snapshot();
    // Paused: wider than MAX_SPAN_MS between the two ticks and no probe in between.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const [snapshot] = await metrics.snapshot();
    expect(snapshot).toMatchObject({ active: 1, arrivalRate: null, completionRate: null });
    expect(metrics.stats().probes.count).toBe(0);
  });

  it('rejects Laravel settings on another driver and a probe interval out of range', () => {
    const source = {
      queue: 'q',
      backendName: 'q',
      prefix: null,
      redis: { url: redisUrl() },
    };
    expect(() =>
      createMetricsReader({ sources: [{ ...source, driver: 'rq', laravel: { retryAfter: 90 } }] }),
    ).toThrow(/sources\[0\]\.laravel.*only valid on a source whose driver is laravel/);
    expect(() =>
      createMetricsReader({
        sources: [{ ...source, driver: 'laravel', laravel: { probeIntervalMs: 5 } }],
      }),
    ).toThrow(/probeIntervalMs.*0 \(off\) or a whole number of ms from 20 to 1000/);
  });
});

describe('Laravel ages and counts from every key', () => {
  /** Whole seconds since a ZSET score (Laravel's availableAt), as the reader measures it. */
  const sinceScore = async (key: string) => {
    const [, score] = await redis.zrange(key, 0, 0, 'WITHSCORES');
    return Date.now() - Number(score) * 1000;
  };

  it('is 0 for an empty queue, and ages a due delayed job not yet migrated by its score', async () => {
    const prefix = setUp('laravel');
    const queue = new LaravelRedisQueue(redis, { prefix, queue: 'mail' });
    const [empty] = await reader(prefix, ['mail']).snapshot();
    expect(empty).toMatchObject({ pending: 0, oldestPendingAgeMs: 0 });
    // Due 5 s ago (found by a reader that starts now), plus a job just pushed: the due one is
    // the oldest. (A job that becomes due while the reader runs has waited less than a tick:
    // once a tick saw none due, the next one does not look for the oldest due job.)
    await queue.later(-5);
    await queue.push();
    const before = await sinceScore(`${queue.key}:delayed`);
    const [snapshot] = await reader(prefix, ['mail']).snapshot();
    expect(snapshot).toMatchObject({ pending: 2, delayed: 0 });
    expect(snapshot?.oldestPendingAgeMs).toBeGreaterThanOrEqual(before);
    expect(snapshot?.oldestPendingAgeMs).toBeLessThan(before + 5_000);
  });

  it('ages an expired reservation when it is all that waits', async () => {
    const prefix = setUp('laravel');
    const queue = new LaravelRedisQueue(redis, { prefix, queue: 'mail' });
    const crashed = new LaravelRedisQueue(redis, {
      prefix,
      queue: 'mail',
      retryAfterSeconds: -10,
    });
    await queue.push();
    await crashed.pop();
    const before = await sinceScore(`${queue.key}:reserved`);
    const [snapshot] = await reader(prefix, ['mail']).snapshot();
    expect(snapshot).toMatchObject({ pending: 1, active: 0 });
    expect(snapshot?.oldestPendingAgeMs).toBeGreaterThanOrEqual(before);
    expect(snapshot?.oldestPendingAgeMs).toBeLessThan(before + 5_000);
  });

  it('counts a reserved set larger than one read exactly, from the tick after it outgrew it', async () => {
    const prefix = setUp('laravel');
    const queue = new LaravelRedisQueue(redis, { prefix, queue: 'mail' });
    const crashed = new LaravelRedisQueue(redis, {
      prefix,
      queue: 'mail',
      retryAfterSeconds: -10,
    });
    const metrics = reader(prefix, ['mail'], { maxJobsPerTick: 3 });
    await queue.push();
    await queue.pop();
    expect((await metrics.snapshot())[0]).toMatchObject({ pending: 0, active: 1 });
    for (let index = 0; index < 4; index++) await queue.push();
    for (let index = 0; index < 4; index++) await queue.pop();
    // Five reserved, read three at a time: this tick cannot know, and says so.
    expect((await metrics.snapshot())[0]).toMatchObject({ pending: null, active: null });
    // A worker that crashed holds a sixth: expired, so pending again.
    await queue.push();
    await crashed.pop();
    const before = await sinceScore(`${queue.key}:reserved`);
    const [snapshot] = await metrics.snapshot();
    expect(snapshot).toMatchObject({ pending: 1, active: 5 });
    expect(snapshot?.oldestPendingAgeMs).toBeGreaterThanOrEqual(before);
    expect(snapshot?.oldestPendingAgeMs).toBeLessThan(before + 5_000);
  });

  it('ages a retried job from when it re-entered the list, or from its creation if that was not seen', async () => {
    const prefix = setUp('laravel');
    // Created 20 s ago (the producer's clock); popped, released and migrated back now.
    const producer = new LaravelRedisQueue(redis, {
      prefix,
      queue: 'mail',
      now: () => Date.now() - 20_000,
    });
    const worker = new LaravelRedisQueue(redis, { prefix, queue: 'mail' });
    const retry = async () => {
      await producer.push();
      const job = await worker.pop();
      if (!job) throw new Error('the job was not popped');
      await worker.release(job, 0);
    };
    // Not seen re-entering: aged from createdAt, as an estimate.
    await retry();
    await worker.migrate();
    const [unseen] = await reader(prefix, ['mail']).snapshot();
    expect(unseen?.sources.oldestPendingAgeMs).toBe('estimate');
    expect(unseen?.oldestPendingAgeMs).toBeGreaterThanOrEqual(19_000);
    await redis.del(worker.key);

    // Seen in the delayed set, then in the list: aged from its re-entry, not its creation.
    const metrics = reader(prefix, ['mail']);
    await retry();
    await metrics.snapshot();
    await worker.migrate();
    const [seen] = await metrics.snapshot();
    expect(seen?.pending).toBe(1);
    expect(seen?.sources.oldestPendingAgeMs).toBe('estimate');
    expect(seen?.oldestPendingAgeMs).toBeLessThan(19_000);
  });

  it('nulls what a wrong-type delayed set hides, and keeps the rest', async () => {
    const prefix = setUp('laravel');
    const queue = new LaravelRedisQueue(redis, { prefix, queue: 'mail' });
    await queue.push();
    await queue.push();
    await queue.pop();
    await redis.set(`${queue.key}:delayed`, 'not a set');
    const [snapshot] = await reader(prefix, ['mail']).snapshot();
    expect(snapshot).toMatchObject({ pending: null, delayed: null, active: 1 });
    expect(snapshot?.oldestPendingAgeMs).toBeNull();
    expect(snapshot?.error).toEqual({
      code: 'WRONG_TYPE',
      message: expect.stringContaining(`${queue.key}:delayed is a string, expected a sorted set`),
    });
  });
});
