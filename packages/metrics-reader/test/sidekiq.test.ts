import { describe, expect, it } from 'vitest';
import { redisFixture } from './helpers/setup.js';
import { pushSidekiq, scheduleSidekiq, sidekiqJob } from './helpers/sidekiq.js';

const fixture = redisFixture();

/** A process heartbeat with `jobs` in flight, as launcher.rb writes it. */
async function heartbeat(prefix: string, identity: string, jobs: Record<string, unknown>[]) {
  const redis = fixture.redis;
  await redis.sadd(`${prefix}processes`, identity);
  await redis.hset(`${prefix}${identity}`, { beat: Date.now() / 1000, busy: jobs.length });
  for (const [index, job] of jobs.entries()) {
    await redis.hset(
      `${prefix}${identity}:work`,
      `tid-${index}`,
      JSON.stringify({
        queue: job.queue,
        payload: JSON.stringify(job),
        run_at: Math.floor(Date.now() / 1000),
      }),
    );
  }
}

describe('Sidekiq', () => {
  it('counts each queue, its due scheduled jobs and its in-flight jobs, and reads Sidekiq 7 float-second ages', async () => {
    const prefix = fixture.prefix('sidekiq');
    const redis = fixture.redis;
    const fiveSecondsAgo = Date.now() - 5_000;
    for (let index = 0; index < 3; index++)
      await pushSidekiq(redis, prefix, 'mail', 7, fiveSecondsAgo);
    await pushSidekiq(redis, prefix, 'other', 7);
    await pushSidekiq(redis, prefix, 'other', 7);
    await scheduleSidekiq(redis, prefix, 'mail', Date.now() - 8_000, 7);
    await scheduleSidekiq(redis, prefix, 'mail', Date.now() + 60_000, 7);
    await heartbeat(prefix, 'host:1:abc', [
      sidekiqJob('mail', 7),
      sidekiqJob('mail', 7),
      sidekiqJob('other', 7),
    ]);

    const [mail, other] = await fixture.reader('sidekiq', prefix, ['mail', 'other']).snapshot();
    expect(mail).toMatchObject({ pending: 4, active: 2, delayed: null, backend: 'sidekiq' });
    // The due scheduled job has waited since its `at`, eight seconds ago.
    expect(mail?.oldestPendingAgeMs).toBeGreaterThanOrEqual(7_900);
    expect(mail?.oldestPendingAgeMs).toBeLessThanOrEqual(9_000);
    expect(other).toMatchObject({ pending: 2, active: 1 });
    expect(other?.oldestPendingAgeMs).toBeLessThan(1_000);
    expect(mail?.error).toBeUndefined();
  });

  it('reads Sidekiq 8 millisecond timestamps and the Pro paused set', async () => {
    const prefix = fixture.prefix('sidekiq');
    await pushSidekiq(fixture.redis, prefix, 'eight', 8, Date.now() - 3_000);
    await fixture.redis.sadd(`${prefix}paused`, 'eight');
    const [snapshot] = await fixture.reader('sidekiq', prefix, ['eight']).snapshot();
    expect(snapshot?.paused).toBe(true);
    expect(snapshot?.oldestPendingAgeMs).toBeGreaterThanOrEqual(2_950);
    expect(snapshot?.oldestPendingAgeMs).toBeLessThanOrEqual(3_500);
  });

  it('gives garbage an error on its own queue: non-JSON, no enqueued_at, a hash for a list', async () => {
    const prefix = fixture.prefix('sidekiq');
    const redis = fixture.redis;
    await redis.lpush(`${prefix}queue:garbled`, '{"class":"Hard');
    const { enqueued_at: _e, created_at: _c, ...untimed } = sidekiqJob('untimed', 8);
    await redis.lpush(`${prefix}queue:untimed`, JSON.stringify(untimed));
    await redis.hset(`${prefix}queue:hashed`, 'a', '1');
    await pushSidekiq(redis, prefix, 'fine', 8);
    const [garbled, timeless, hashed, fine] = await fixture
      .reader('sidekiq', prefix, ['garbled', 'untimed', 'hashed', 'fine'])
      .snapshot();
    expect(garbled).toMatchObject({ pending: 1, oldestPendingAgeMs: null });
    expect(garbled?.error?.code).toBe('BAD_PAYLOAD');
    expect(timeless).toMatchObject({ pending: 1, oldestPendingAgeMs: null });
    expect(timeless?.error?.code).toBe('MISSING_TIMESTAMP');
    expect(hashed?.pending).toBeNull();
    expect(hashed?.error?.message).toContain(`${prefix}queue:hashed is a hash, expected a list`);
    expect(fine?.error).toBeUndefined();
    expect(fine?.pending).toBe(1);
  });
});
