import { waitFor } from '@qscale/testkit';
import { describe, expect, it } from 'vitest';
import { enqueueRq, scheduleRq, workRq } from './helpers/rq.js';
import { redisFixture } from './helpers/setup.js';

const fixture = redisFixture();

describe('RQ', () => {
  it('counts queued, due scheduled, started and failed jobs exactly and reads enqueued_at', async () => {
    const prefix = fixture.prefix('rq');
    const redis = fixture.redis;
    await enqueueRq(redis, prefix, 'default', Date.now() - 4_000);
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
    expect(snapshot).toMatchObject({ pending: 4, delayed: 1, active: 2, failed: 2, paused: false });
    expect(snapshot?.oldestPendingAgeMs).toBeGreaterThanOrEqual(3_990);
    expect(snapshot?.oldestPendingAgeMs).toBeLessThanOrEqual(4_500);
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
