import type { QueueBackend } from '@qscale/contracts';
import { LaravelRedisQueue, redisUrl } from '@qscale/testkit';
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { createMetricsReader, type QueueSource } from '../src/index.js';
import { publishCelery } from './helpers/celery.js';
import { enqueueRq, scheduleRq } from './helpers/rq.js';
import { redisFixture } from './helpers/setup.js';
import { pushSidekiq, scheduleSidekiq } from './helpers/sidekiq.js';

const fixture = redisFixture();

function source(driver: QueueBackend, prefix: string, name: string): QueueSource {
  return {
    queue: `${driver}-${name}`,
    driver,
    backendName: name,
    prefix,
    redis: { url: redisUrl() },
  };
}

describe('readyQueues: is a job ready to start, between ticks', () => {
  it('answers per queue, for every queue system, from counting commands alone', async () => {
    const prefix = fixture.prefix('ready');
    const bullPrefix = prefix.slice(0, -1);
    const sources = (['laravel', 'sidekiq', 'rq', 'celery'] as const)
      .flatMap((driver) => [source(driver, prefix, 'busy'), source(driver, prefix, 'idle')])
      .concat([source('bullmq', bullPrefix, 'busy'), source('bullmq', bullPrefix, 'idle')]);
    const reader = createMetricsReader({ sources });
    fixture.cleanups.push(() => reader.close());
    expect(await reader.readyQueues()).toEqual([]);

    const redis = fixture.redis;
    await new LaravelRedisQueue(redis, { prefix, queue: 'busy' }).push();
    await pushSidekiq(redis, prefix, 'busy', 8);
    await enqueueRq(redis, prefix, 'busy');
    await publishCelery(redis, prefix, 'busy', 6); // a priority sub-list counts too
    const bull = new Queue('busy', { connection: redis, prefix: bullPrefix });
    fixture.cleanups.push(() => bull.close());
    await bull.add('send', {}, { priority: 3 });
    // Jobs for later make no queue ready.
    await new LaravelRedisQueue(redis, { prefix, queue: 'idle' }).later(600);
    await scheduleRq(redis, prefix, 'idle', Date.now() + 600_000);
    const idle = new Queue('idle', { connection: redis, prefix: bullPrefix });
    fixture.cleanups.push(() => idle.close());
    await idle.add('send', {}, { delay: 600_000 });

    expect(await reader.readyQueues()).toEqual([
      'laravel-busy',
      'sidekiq-busy',
      'rq-busy',
      'celery-busy',
      'bullmq-busy',
    ]);
    expect(await reader.readyQueues(['rq-busy', 'rq-idle', 'bullmq-idle'])).toEqual(['rq-busy']);
    // No snapshot was taken: the queues' history is untouched.
    expect(reader.stats()).toMatchObject({ snapshots: 0, roundTrips: 0 });
  });

  it('counts due delayed jobs as ready (Laravel, RQ); Sidekiq schedules are global, not counted', async () => {
    const prefix = fixture.prefix('ready');
    const reader = createMetricsReader({
      sources: [
        source('laravel', prefix, 'later'),
        source('rq', prefix, 'later'),
        source('sidekiq', prefix, 'later'),
      ],
    });
    fixture.cleanups.push(() => reader.close());
    await new LaravelRedisQueue(fixture.redis, { prefix, queue: 'later' }).later(-5);
    await scheduleRq(fixture.redis, prefix, 'later', Date.now() - 5_000);
    await scheduleSidekiq(fixture.redis, prefix, 'later', Date.now() - 5_000, 8);
    expect(await reader.readyQueues()).toEqual(['laravel-later', 'rq-later']);
  });

  it('gives no queue, and no exception, when Redis cannot be reached', async () => {
    const reader = createMetricsReader({
      sources: [{ ...source('laravel', 'x:', 'q'), redis: { url: 'redis://127.0.0.1:1' } }],
      connectTimeoutMs: 500,
    });
    fixture.cleanups.push(() => reader.close());
    expect(await reader.readyQueues()).toEqual([]);
    const [snapshot] = await reader.snapshot();
    expect(snapshot?.error?.code).toBe('REDIS_UNREACHABLE');
  });
});
