import { waitFor } from '@qscale/testkit';
import { describe, expect, it } from 'vitest';
import { nextSnapshot, readRates } from './helpers/reads.js';
import { enqueueRq, rqTime, scheduleRq, workRq } from './helpers/rq.js';
import { redisFixture } from './helpers/setup.js';

const fixture = redisFixture();

describe('RQ', () => {
  it('counts queued, due scheduled, started and failed jobs exactly and reads enqueued_at', async () => {
    const prefix = fixture.prefix('rq');
    const redis = fixture.redis;
    const enqueuedAt = Date.now() - 4_000;
    await enqueueRq(redis, prefix, 'default', enqueuedAt);
    await enqueueRq(redis, prefix, 'default');
    await enqueueRq(redis, prefix, 'default');
    await scheduleRq(redis, prefix, 'default', Date.now() - 2_000);
    await scheduleRq(redis, prefix, 'default', Date.now() + 60_000);
    await redis.zadd(`${prefix}rq:wip:default`, Math.floor(Date.now() / 1000) + 60, 'job-a:exec1');
    await redis.lpush(`${prefix}rq:queue:default:intermediate`, 'job-b');
    await redis.zadd(
      `${prefix}rq:failed:default`,
      Math.floor(Date.now() / 1000) + 1000,
      'f1',
      Math.floor(Date.now() / 1000) + 1000,
      'f2',
    );

    const [snapshot] = await fixture.reader('rq', prefix, ['default']).snapshot();
    const afterRead = Date.now();
    expect(snapshot).toMatchObject({ pending: 4, delayed: 1, active: 2, failed: 2, paused: false });
    expect(snapshot?.oldestPendingAgeMs).toBeGreaterThanOrEqual(3_990);
    // The oldest job's age as of the read, however long the writes and the read took.
    expect(snapshot?.oldestPendingAgeMs).toBeLessThanOrEqual(afterRead - enqueuedAt);
    expect(snapshot?.error).toBeUndefined();
  });

  it('reports the global suspension as paused', async () => {
    const prefix = fixture.prefix('rq');
    await fixture.redis.set(`${prefix}rq:suspended`, '1');
    const [snapshot] = await fixture.reader('rq', prefix, ['default']).snapshot();
    expect(snapshot).toMatchObject({ paused: true, pending: 0, oldestPendingAgeMs: 0 });
  });

  it('names the job whose enqueued_at is missing or unreadable, and the key of the wrong type', async () => {
    const prefix = fixture.prefix('rq');
    const redis = fixture.redis;
    await redis.rpush(`${prefix}rq:queue:lost`, 'ghost');
    await redis.hset(`${prefix}rq:job:ghost`, { status: 'queued' });
    const id = await enqueueRq(redis, prefix, 'odd');
    await redis.hset(`${prefix}rq:job:${id}`, 'enqueued_at', 'yesterday');
    await redis.set(`${prefix}rq:queue:stringy`, 'not a list');
    const [lost, odd, stringy] = await fixture
      .reader('rq', prefix, ['lost', 'odd', 'stringy'])
      .snapshot();
    expect(lost).toMatchObject({ pending: 1, oldestPendingAgeMs: null });
    expect(lost?.error).toEqual({
      code: 'MISSING_TIMESTAMP',
      message: `${prefix}rq:job:ghost (the oldest queued job) has no enqueued_at`,
    });
    expect(odd?.error?.code).toBe('BAD_PAYLOAD');
    // Described, not quoted: what a job's fields hold is never echoed.
    expect(odd?.error?.message).toContain('has enqueued_at a string of 9 bytes');
    expect(odd?.error?.message).not.toContain('yesterday');
    expect(stringy?.error?.message).toContain(
      `${prefix}rq:queue:stringy is a string, expected a list`,
    );
  });

  it('times the pickup of a job seen in flight once, and of a job only seen finished when it finishes', async () => {
    const prefix = fixture.prefix('rq');
    const redis = fixture.redis;
    const reader = fixture.reader('rq', prefix, ['default']);
    await reader.snapshot();
    // Seen in flight by one read, finished by the next: one pickup, not two.
    await enqueueRq(redis, prefix, 'default', Date.now() - 3_000);
    const running = workRq(redis, prefix, 'default', 400);
    await waitFor(async () => (await redis.zcard(`${prefix}rq:wip:default`)) === 1, {
      intervalMs: 10,
      what: 'the job to start',
    });
    await reader.snapshot();
    await running;
    // Started and finished between two reads: never seen in flight.
    await enqueueRq(redis, prefix, 'default', Date.now() - 3_000);
    await workRq(redis, prefix, 'default', 10);
    const [snapshot] = await reader.snapshot();
    expect(snapshot?.pickupLatencyMs?.samples).toBe(2);
    // Both waited about 3 s (the reader's sketch is within 1 %).
    expect(snapshot?.pickupLatencyMs?.p50).toBeGreaterThanOrEqual(2_900);
    expect(snapshot?.pickupLatencyMs?.p95).toBeLessThan(4_000);
  });
});

/**
 * A job's end as RQ's `Job._handle_success` / `_handle_failure` write it: its hash gets
 * `started_at` and `ended_at`, its id goes to the finished (or failed) registry scored by the
 * expiry of its result, in whole seconds (`current_timestamp() + ttl`).
 */
async function endRq(
  prefix: string,
  queue: string,
  id: string,
  registry: 'finished' | 'failed',
  score: number,
  startedMs: number,
  endedMs: number,
) {
  await fixture.redis
    .multi()
    .hset(`${prefix}rq:job:${id}`, {
      status: registry,
      started_at: rqTime(startedMs),
      ended_at: rqTime(endedMs),
    })
    .zadd(`${prefix}rq:${registry}:${queue}`, score, id)
    .exec();
}

describe('RQ completions, arrivals and times', () => {
  it('counts finished and failed jobs as completions, arrivals by conservation, and times their runs', async () => {
    const prefix = fixture.prefix('rq');
    const redis = fixture.redis;
    const enqueuedAt = Date.now() - 3_000;
    for (let index = 0; index < 6; index++) await enqueueRq(redis, prefix, 'default', enqueuedAt);
    const reader = fixture.reader('rq', prefix, ['default']);
    await reader.snapshot();
    // Between two reads: 5 taken, 3 finish in 200 ms, 1 fails after 100 ms, 1 still runs; 2 arrive.
    const now = Date.now();
    const score = Math.floor(now / 1000) + 500;
    for (let index = 0; index < 4; index++) {
      const id = String(await redis.lpop(`${prefix}rq:queue:default`));
      if (index < 3) await endRq(prefix, 'default', id, 'finished', score, now - 200, now);
      else await endRq(prefix, 'default', id, 'failed', score, now - 100, now);
    }
    const running = String(await redis.lpop(`${prefix}rq:queue:default`));
    await redis.hset(`${prefix}rq:job:${running}`, { status: 'started', started_at: rqTime(now) });
    await redis.zadd(`${prefix}rq:wip:default`, score, `${running}:e1`);
    await enqueueRq(redis, prefix, 'default');
    await enqueueRq(redis, prefix, 'default');

    const snapshot = await readRates(reader);
    expect(snapshot).toMatchObject({ pending: 3, active: 1, failed: 1 });
    expect(snapshot?.sources).toMatchObject({
      pending: 'counter',
      delayed: 'counter',
      active: 'counter',
      failed: 'counter',
      oldestPendingAgeMs: 'counter',
      completionRate: 'counter',
      pickupLatencyMs: 'observed',
      serviceTimeMs: 'observed',
    });
    // 4 completions; arrivals: (3 + 1) - (6 + 0) + 4 = 2.
    expect((snapshot?.arrivalRate ?? 0) / (snapshot?.completionRate ?? 1)).toBeCloseTo(0.5, 1);
    // Runs from the hashes: three of 200 ms, one of 100 ms.
    expect(snapshot?.serviceTimeMs?.mean).toBeGreaterThan(170);
    expect(snapshot?.serviceTimeMs?.mean).toBeLessThan(180);
    // Every pickup once: the four seen ended and the one seen running, each about 3 s (from
    // 3 s plus the writes before \`now\`: the longest is the running one's, now - enqueuedAt).
    expect(snapshot?.pickupLatencyMs?.samples).toBe(5);
    expect(snapshot?.pickupLatencyMs?.p50).toBeGreaterThan(2_700);
    expect(snapshot?.pickupLatencyMs?.p99).toBeLessThanOrEqual((now - enqueuedAt) * 1.01);
  });

  it('leaves out a start before the enqueue (a clock step), a missing start, end or enqueue', async () => {
    const prefix = fixture.prefix('rq');
    const redis = fixture.redis;
    const reader = fixture.reader('rq', prefix, ['default']);
    await reader.snapshot();
    const now = Date.now();
    const early = await enqueueRq(redis, prefix, 'default', now);
    await redis.lpop(`${prefix}rq:queue:default`);
    await endRq(prefix, 'default', early, 'finished', 1_000, now - 5_000, now);
    // Failed before it started (ended, never started); and one with no end written.
    const never = await enqueueRq(redis, prefix, 'default', now);
    await redis.lpop(`${prefix}rq:queue:default`);
    await redis.hset(`${prefix}rq:job:${never}`, { status: 'failed', ended_at: rqTime(now) });
    await redis.zadd(`${prefix}rq:failed:default`, 1_000, never);
    const unended = await enqueueRq(redis, prefix, 'default', now + 5_000);
    await redis.lpop(`${prefix}rq:queue:default`);
    await redis.hset(`${prefix}rq:job:${unended}`, { started_at: rqTime(now) });
    await redis.zadd(`${prefix}rq:failed:default`, 1_000, unended);
    // Its hash lost enqueued_at: a start alone is no pickup.
    const unqueued = await enqueueRq(redis, prefix, 'default', now);
    await redis.lpop(`${prefix}rq:queue:default`);
    await endRq(prefix, 'default', unqueued, 'finished', 1_000, now + 100, now + 5_100);
    await redis.hdel(`${prefix}rq:job:${unqueued}`, 'enqueued_at');
    const [snapshot] = await reader.snapshot();
    expect(snapshot?.pickupLatencyMs).toBeNull();
    expect(snapshot?.serviceTimeMs?.mean).toBeCloseTo(5_000, -1);
  });

  it('counts members sharing a score once, and more ends than one read by their count', async () => {
    const prefix = fixture.prefix('rq');
    const redis = fixture.redis;
    const key = `${prefix}rq:finished:default`;
    const reader = fixture.reader('rq', prefix, ['default'], { maxJobsPerTick: 3 });
    // Before the first read: 2 ended in the same second. They are history, not completions.
    await redis.zadd(key, 5_000, 'old-a', 5_000, 'old-b');
    await reader.snapshot();
    // Then: 2 more in that second, 2 in the next, 3 in the one after: 7 completions.
    await redis.zadd(key, 5_000, 'tie-a', 5_000, 'tie-b', 5_001, 'b1', 5_001, 'b2');
    await redis.zadd(key, 5_002, 'c1', 5_002, 'c2', 5_002, 'c3');
    // And 7 jobs are queued: arrivals are 7 + the completions counted.
    for (let index = 0; index < 7; index++) await enqueueRq(redis, prefix, 'default');
    await readRates(reader);
    // Later reads see no change: a completion counted again would show in the ratio.
    let snapshot = await nextSnapshot(reader);
    for (let index = 0; index < 4; index++) snapshot = await nextSnapshot(reader);
    expect(snapshot?.pending).toBe(7);
    // 14 arrivals for 7 completions (4 counted, or the ties again, give 11 / 4 or less than 2).
    expect((snapshot?.arrivalRate ?? 0) / (snapshot?.completionRate ?? 1)).toBeCloseTo(2, 1);
  });

  it('takes the members of a second with more ends than one read as they are, and counts what comes after', async () => {
    const prefix = fixture.prefix('rq');
    const redis = fixture.redis;
    const key = `${prefix}rq:failed:default`;
    const reader = fixture.reader('rq', prefix, ['default'], { maxJobsPerTick: 3 });
    await redis.zadd(key, 5_000, 'old-a', 5_000, 'old-b', 5_000, 'old-c', 5_000, 'old-d');
    await reader.snapshot();
    await redis.zadd(key, 5_001, 'new-a', 5_001, 'new-b', 5_002, 'new-c');
    for (let index = 0; index < 3; index++) await enqueueRq(redis, prefix, 'default');
    await readRates(reader);
    let snapshot = await nextSnapshot(reader);
    for (let index = 0; index < 4; index++) snapshot = await nextSnapshot(reader);
    expect(snapshot?.failed).toBe(7);
    // 3 completions and 3 + 3 arrivals.
    expect((snapshot?.arrivalRate ?? 0) / (snapshot?.completionRate ?? 1)).toBeCloseTo(2, 1);
  });
  it('counts the ends added at the last score read, after a page of several scores', async () => {
    const prefix = fixture.prefix('rq');
    const redis = fixture.redis;
    const key = `${prefix}rq:finished:default`;
    const reader = fixture.reader('rq', prefix, ['default']);
    await redis.zadd(key, 6_000, 'a', 6_001, 'b');
    await reader.snapshot();
    // One more ends in the second of the newest; one job is queued. Nothing after that.
    await redis.zadd(key, 6_001, 'c');
    await enqueueRq(redis, prefix, 'default');
    await readRates(reader);
    let snapshot = await nextSnapshot(reader);
    for (let index = 0; index < 4; index++) snapshot = await nextSnapshot(reader);
    // 1 completion and 1 + 1 arrivals.
    expect((snapshot?.arrivalRate ?? 0) / (snapshot?.completionRate ?? 0)).toBeCloseTo(2, 1);
  });

  it('times no pickup for jobs already running at the first read', async () => {
    const prefix = fixture.prefix('rq');
    const redis = fixture.redis;
    const now = Date.now();
    const id = await enqueueRq(redis, prefix, 'default', now - 10_000);
    await redis.lpop(`${prefix}rq:queue:default`);
    await redis.hset(`${prefix}rq:job:${id}`, { status: 'started', started_at: rqTime(now) });
    await redis.zadd(`${prefix}rq:wip:default`, 9_000, `${id}:e1`);
    const reader = fixture.reader('rq', prefix, ['default']);
    expect((await reader.snapshot())[0]).toMatchObject({ active: 1, pickupLatencyMs: null });
    expect((await reader.snapshot())[0]).toMatchObject({ active: 1, pickupLatencyMs: null });
  });

  it('counts the pickup of a job that ends in the read another starts in once', async () => {
    const prefix = fixture.prefix('rq');
    const redis = fixture.redis;
    const reader = fixture.reader('rq', prefix, ['default']);
    await reader.snapshot();
    const now = Date.now();
    const first = await enqueueRq(redis, prefix, 'default', now - 2_000);
    const second = await enqueueRq(redis, prefix, 'default', now - 2_000);
    await redis.lpop(`${prefix}rq:queue:default`);
    await redis.hset(`${prefix}rq:job:${first}`, { status: 'started', started_at: rqTime(now) });
    await redis.zadd(`${prefix}rq:wip:default`, 9_000, `${first}:e1`);
    expect((await reader.snapshot())[0]?.pickupLatencyMs?.samples).toBe(1);
    // The first ends as the second starts: two pickups in all, not three.
    await redis.zrem(`${prefix}rq:wip:default`, `${first}:e1`);
    await endRq(prefix, 'default', first, 'finished', 9_000, now, now + 50);
    await redis.lpop(`${prefix}rq:queue:default`);
    await redis.hset(`${prefix}rq:job:${second}`, { status: 'started', started_at: rqTime(now) });
    await redis.zadd(`${prefix}rq:wip:default`, 9_000, `${second}:e1`);
    expect((await reader.snapshot())[0]?.pickupLatencyMs?.samples).toBe(2);
  });

  it('reads at most maxJobsPerTick job hashes in a read', async () => {
    const prefix = fixture.prefix('rq');
    const redis = fixture.redis;
    const reader = fixture.reader('rq', prefix, ['default'], { maxJobsPerTick: 2 });
    await reader.snapshot();
    const now = Date.now();
    for (const registry of ['finished', 'finished', 'failed', 'failed'] as const) {
      const id = await enqueueRq(redis, prefix, 'default', now - 100);
      await redis.lpop(`${prefix}rq:queue:default`);
      await endRq(prefix, 'default', id, registry, 9_000, now, now + 10);
    }
    const [snapshot] = await reader.snapshot();
    expect(snapshot?.pickupLatencyMs?.samples).toBe(2);
    expect(snapshot?.pickupLatencyMs?.p50).toBeCloseTo(100, -1);
  });
});

describe('RQ oldest age and in-flight count', () => {
  it('ages the queue from a due scheduled job that waited longer than the head', async () => {
    const prefix = fixture.prefix('rq');
    const redis = fixture.redis;
    await enqueueRq(redis, prefix, 'default', Date.now() - 1_000);
    await scheduleRq(redis, prefix, 'default', Date.now() - 5_000);
    await scheduleRq(redis, prefix, 'default', Date.now() + 60_000);
    const reader = fixture.reader('rq', prefix, ['default']);
    for (let read = 0; read < 2; read++) {
      const [snapshot] = await reader.snapshot();
      expect(snapshot).toMatchObject({ pending: 2, delayed: 1 });
      // Scheduled in whole seconds: due between 5 and 6 s ago.
      expect(snapshot?.oldestPendingAgeMs).toBeGreaterThanOrEqual(4_990);
      expect(snapshot?.oldestPendingAgeMs).toBeLessThan(7_000);
    }
    // The head alone, read from its hash (a new head after the old one left).
    await redis.del(`${prefix}rq:scheduled:default`);
    await redis.lpop(`${prefix}rq:queue:default`);
    await enqueueRq(redis, prefix, 'default', Date.now() - 2_000);
    const [head] = await reader.snapshot();
    expect(head).toMatchObject({ pending: 1, delayed: 0 });
    expect(head?.oldestPendingAgeMs).toBeGreaterThanOrEqual(1_990);
    expect(head?.oldestPendingAgeMs).toBeLessThan(3_000);
  });

  it('ages the queue from a due scheduled job alone', async () => {
    const prefix = fixture.prefix('rq');
    await scheduleRq(fixture.redis, prefix, 'default', Date.now() - 3_000);
    const [snapshot] = await fixture.reader('rq', prefix, ['default']).snapshot();
    expect(snapshot).toMatchObject({ pending: 1, delayed: 0 });
    expect(snapshot?.oldestPendingAgeMs).toBeGreaterThanOrEqual(2_990);
    expect(snapshot?.oldestPendingAgeMs).toBeLessThan(5_000);
  });

  it('reads the enqueue time of a job that comes back to the head again (a requeue)', async () => {
    const prefix = fixture.prefix('rq');
    const redis = fixture.redis;
    const queue = `${prefix}rq:queue:default`;
    const reader = fixture.reader('rq', prefix, ['default']);
    const id = await enqueueRq(redis, prefix, 'default', Date.now() - 8_000);
    expect((await reader.snapshot())[0]?.oldestPendingAgeMs).toBeGreaterThanOrEqual(7_990);
    await redis.lpop(queue);
    await enqueueRq(redis, prefix, 'default', Date.now() - 500);
    expect((await reader.snapshot())[0]?.oldestPendingAgeMs).toBeLessThan(2_000);
    // RQ's requeue writes a new enqueued_at and puts the job back at the head.
    await redis.lpop(queue);
    await redis.hset(`${prefix}rq:job:${id}`, 'enqueued_at', rqTime(Date.now() - 1_000));
    await redis.lpush(queue, id);
    const [requeued] = await reader.snapshot();
    expect(requeued?.oldestPendingAgeMs).toBeGreaterThanOrEqual(990);
    expect(requeued?.oldestPendingAgeMs).toBeLessThan(3_000);
  });

  it.each([
    ['rq:queue:default', 'list', ['pending', 'oldestPendingAgeMs', 'arrivalRate']],
    ['rq:queue:default:intermediate', 'list', ['active', 'arrivalRate']],
    ['rq:wip:default', 'sorted set', ['active', 'arrivalRate', 'pickupLatencyMs']],
    ['rq:scheduled:default', 'sorted set', ['pending', 'delayed', 'oldestPendingAgeMs']],
    ['rq:failed:default', 'sorted set', ['failed', 'completionRate']],
  ] as const)(
    'a %s of the wrong type leaves only its own figures unknown',
    async (key, expected, unknown) => {
      const prefix = fixture.prefix('rq');
      const redis = fixture.redis;
      await enqueueRq(redis, prefix, 'default', Date.now() - 1_000);
      const reader = fixture.reader('rq', prefix, ['default']);
      await reader.snapshot();
      await redis.del(`${prefix}${key}`);
      await redis.set(`${prefix}${key}`, 'x');
      const snapshot = await nextSnapshot(reader);
      expect(snapshot?.error?.message).toContain(
        `${prefix}${key} is a string, expected a ${expected}`,
      );
      const figures = ['pending', 'delayed', 'active', 'failed', 'oldestPendingAgeMs'] as const;
      for (const figure of figures) {
        if ((unknown as readonly string[]).includes(figure)) expect(snapshot?.[figure]).toBeNull();
        else expect(snapshot?.[figure]).not.toBeNull();
      }
    },
  );

  it('counts jobs in flight from the registry size when they outgrow one read, from the members when they fit', async () => {
    const prefix = fixture.prefix('rq');
    const redis = fixture.redis;
    const wip = `${prefix}rq:wip:default`;
    const reader = fixture.reader('rq', prefix, ['default'], { maxJobsPerTick: 2 });
    await redis.zadd(wip, 9_000, 'a:1', 9_000, 'b:1', 9_000, 'c:1');
    await redis.lpush(`${prefix}rq:queue:default:intermediate`, 'd');
    expect((await reader.snapshot())[0]?.active).toBe(4);
    expect((await reader.snapshot())[0]?.active).toBe(4);
    await redis.zrem(wip, 'a:1', 'b:1');
    expect((await reader.snapshot())[0]?.active).toBe(2);
    expect((await reader.snapshot())[0]?.active).toBe(2);
    // Outgrown while counted from its members: unknown for that read, then counted.
    await redis.zadd(wip, 9_000, 'e:1', 9_000, 'f:1');
    expect((await reader.snapshot())[0]?.active).toBeNull();
    expect((await reader.snapshot())[0]?.active).toBe(4);
  });
});
