import { freePort, LaravelRedisQueue, redisUrl } from '@qscale/testkit';
import { describe, expect, it } from 'vitest';
import { createMetricsReader } from '../src/index.js';
import { publishCelery } from './helpers/celery.js';
import { enqueueRq } from './helpers/rq.js';
import { redisFixture } from './helpers/setup.js';
import { pushSidekiq } from './helpers/sidekiq.js';

const fixture = redisFixture();

describe('discover', () => {
  it('finds the queues of each driver under a prefix, with SCAN at most once per interval', async () => {
    const redis = fixture.redis;
    const prefix = fixture.prefix('disc');
    await new LaravelRedisQueue(redis, { prefix, queue: 'mail' }).push();
    await new LaravelRedisQueue(redis, { prefix, queue: '{cluster}' }).later(60);
    await redis.hset(`${prefix}bull:emails:meta`, 'opts.maxLenEvents', 10_000);
    await redis.hset(`${prefix}bull:a:b:meta`, 'opts.maxLenEvents', 10_000);
    await pushSidekiq(redis, prefix, 'critical', 8);
    await enqueueRq(redis, prefix, 'high');
    await publishCelery(redis, prefix, 'video');
    await redis.sadd(
      `${prefix}_kombu.binding.celery.pidbox`,
      `x\x06\x16\x06\x16celery@host.celery.pidbox`,
    );

    let now = 1_000_000;
    const reader = createMetricsReader({ sources: [], now: () => now });
    fixture.cleanups.push(() => reader.close());
    const url = redisUrl();
    const targets = [
      { driver: 'laravel' as const, prefix, redis: { url } },
      { driver: 'bullmq' as const, prefix: `${prefix}bull`, redis: { url } },
      { driver: 'sidekiq' as const, prefix, redis: { url } },
      { driver: 'rq' as const, prefix, redis: { url } },
      { driver: 'celery' as const, prefix, redis: { url } },
    ];
    const found = await reader.discover(targets);
    expect(found.map((queue) => `${queue.driver}:${queue.backendName}`)).toEqual([
      'laravel:mail',
      'laravel:{cluster}',
      'bullmq:a:b',
      'bullmq:emails',
      'sidekiq:critical',
      'rq:high',
      'celery:video',
    ]);
    expect(found[0]?.redis).toMatch(/^redis:\/\/[^@]+\/0$/);
    const scans = reader.stats().discoveryScans;
    expect(scans).toBeGreaterThan(0);

    now += 30_000;
    await reader.discover(targets);
    expect(reader.stats().discoveryScans).toBe(scans);
    now += 31_000;
    await reader.discover(targets);
    expect(reader.stats().discoveryScans).toBeGreaterThan(scans);
  });

  it('fails with a typed error naming the Redis when it cannot be reached', async () => {
    const reader = createMetricsReader({ sources: [] });
    fixture.cleanups.push(() => reader.close());
    const port = await freePort();
    await expect(
      reader.discover([
        { driver: 'rq', prefix: null, redis: { url: `redis://user:secret@127.0.0.1:${port}` } },
      ]),
    ).rejects.toMatchObject({
      code: 'REDIS_UNREACHABLE',
      message: expect.stringMatching(
        new RegExp(
          `^discover\\(\\): rq queues under prefix "": Redis at redis://127.0.0.1:${port}/0: .*ECONNREFUSED`,
        ),
      ),
    });
  });

  it('rejects a target with an unknown driver, naming it', async () => {
    const reader = createMetricsReader({ sources: [] });
    fixture.cleanups.push(() => reader.close());
    await expect(
      reader.discover([{ driver: 'resque' as 'rq', prefix: null, redis: { url: redisUrl() } }]),
    ).rejects.toThrow(
      'discover(): targets[0].driver is "resque", expected one of laravel, bullmq, sidekiq, rq, celery',
    );
  });
});
