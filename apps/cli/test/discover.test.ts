import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { COMMAND_PLACEHOLDER, ConfigError, parseConfig } from '@qscale/daemon';
import {
  connectRedis,
  deleteKeys,
  LaravelRedisQueue,
  redisUrl,
  uniquePrefix,
} from '@qscale/testkit';
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type Discovered,
  discoverQueues,
  type FoundQueue,
  measure,
  parseRedisTarget,
  planQueues,
  renderConfig,
} from '../src/internal/discover/index.js';
import { fillPlaceholders, produce } from './helpers/discover.js';

// Each test keeps its keys under its own prefix (`scope`) on the shared Redis, and discovery
// is limited to it (`--prefix`), so other suites' keys running in parallel are never found.

let redis: Redis;
const scopes: string[] = [];
const closers: (() => Promise<unknown>)[] = [];

beforeAll(() => {
  redis = connectRedis();
});
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  for (const scope of scopes.splice(0)) await deleteKeys(redis, `${scope}*`);
});
afterAll(async () => {
  await redis.quit();
});

function newScope(): string {
  const scope = uniquePrefix('discover');
  scopes.push(scope);
  return scope;
}

const PLAN = { cpuCores: 2, floorMs: 4_000, fallbackPickupMs: 30_000 };

function render(found: FoundQueue[], snapshots: Parameters<typeof planQueues>[1], scope: string) {
  return renderConfig(discovered(found, scope, snapshots));
}

function discovered(
  found: FoundQueue[],
  scope: string,
  snapshots: Parameters<typeof planQueues>[1] = [],
): Discovered {
  return {
    redis: parseRedisTarget(redisUrl()),
    scope,
    measuredMs: 0,
    at: new Date(),
    cpuCores: PLAN.cpuCores,
    tickMs: 2_000,
    floorMs: PLAN.floorMs,
    fallbackPickupMs: PLAN.fallbackPickupMs,
    partial: null,
    queues: planQueues(found, snapshots, PLAN),
    placeholder: COMMAND_PLACEHOLDER,
  };
}

describe('discoverQueues', () => {
  it('finds the queues of all five systems, each with its own prefix, written by their own clients', async () => {
    const scope = newScope();
    const url = redisUrl();
    // Laravel's own queue (Debian's Laravel 8 over phpredis), with Horizon's metadata naming
    // one more queue that is idle now.
    await produce('laravel', url, `${scope}laravel_database_`, ['default', 'default']);
    await redis.sadd(`${scope}laravel_horizon:measured_queues`, 'queue:default', 'queue:mail');
    await redis.zadd(`${scope}laravel_horizon:supervisors`, Date.now() / 1000, 'host:supervisor-1');
    // Laravel 13's hyphenated prefix, a queue with only a delayed job (no list key yet), in
    // Laravel 13's payload (testkit's LaravelRedisQueue writes its exact layout).
    await new LaravelRedisQueue(redis, { prefix: `${scope}shop-database-`, queue: '{high}' }).later(
      600,
    );
    // BullMQ with a custom prefix.
    const bull = new Queue('emails', { prefix: `${scope}bull`, connection: { url } });
    closers.push(() => bull.close());
    await bull.add('send', { to: 'someone' });
    await bull.add('send', { to: 'someone else' });
    await produce('sidekiq', url, `${scope}sidekiq`, ['mailers', 'default']);
    await produce('rq', url, scope, ['high', 'low']);
    await produce('celery', url, `${scope}kombu:`, ['reports']);

    const result = await discoverQueues(redis, { scope });
    expect(result.stoppedBy).toBeNull();
    const summary = result.queues.map((q) => [q.driver, q.prefix.slice(scope.length), q.name]);
    expect(summary).toEqual([
      ['bullmq', 'bull', 'emails'],
      ['celery', 'kombu:', 'reports'],
      ['laravel', 'laravel_database_', 'default'],
      ['laravel', 'laravel_database_', 'mail'],
      ['laravel', 'shop-database-', '{high}'],
      ['rq', '', 'high'],
      ['rq', '', 'low'],
      ['sidekiq', 'sidekiq:', 'default'],
      ['sidekiq', 'sidekiq:', 'mailers'],
    ]);
    const horizon = result.queues.filter((q) => q.horizonPrefix !== null).map((q) => q.name);
    expect(horizon).toEqual(['default', 'mail']);

    // The prefixes are the ones the daemon's reader needs: each queue reads back its jobs.
    const snapshots = await measure(result.queues, { redisUrl: url, durationMs: 0 });
    // Laravel 8's payload has no timestamp: its age is unknown until the reader has seen the
    // queue for a tick, and the snapshot says so; every depth is read all the same.
    expect(snapshots.map((snapshot) => snapshot.error?.code ?? null)).toEqual(
      result.queues.map((q) =>
        q.prefix === `${scope}laravel_database_` && q.name === 'default'
          ? 'MISSING_TIMESTAMP'
          : null,
      ),
    );
    expect(snapshots.map((snapshot) => [snapshot.pending, snapshot.delayed])).toEqual([
      [2, 0], // bullmq emails
      [1, 0], // celery reports (delayed: held deliveries with an eta ahead, none here)
      [2, 0], // laravel default
      [0, 0], // laravel mail (idle)
      [0, 1], // laravel {high}: the delayed job
      [1, 0], // rq high
      [1, 0], // rq low
      [1, 0], // sidekiq default (the global schedule and retry sets are empty)
      [1, 0], // sidekiq mailers
    ]);

    // The written file names them all and, placeholders filled, passes the daemon's loader.
    const text = render(result.queues, snapshots, scope);
    const config = parseConfig(fillPlaceholders(text), { env: {} });
    expect(
      config.queues.map((q) => [q.name, q.driver, q.prefix?.slice(scope.length), q.backendName]),
    ).toEqual([
      ['emails', 'bullmq', 'bull', 'emails'],
      ['reports', 'celery', 'kombu:', 'reports'],
      ['laravel-default', 'laravel', 'laravel_database_', 'default'],
      ['mail', 'laravel', 'laravel_database_', 'mail'],
      ['laravel-high', 'laravel', 'shop-database-', '{high}'],
      ['rq-high', 'rq', '', 'high'],
      ['low', 'rq', '', 'low'],
      ['sidekiq-default', 'sidekiq', 'sidekiq:', 'default'],
      ['mailers', 'sidekiq', 'sidekiq:', 'mailers'],
    ]);
    expect(text).toContain('[php, artisan, queue:work, redis, --queue=default]');
    expect(text).toContain('[bundle, exec, sidekiq, -q, mailers]');
    expect(text).toContain('[celery, -A, APP, worker, -Q, reports]');
    expect(text).toContain('Horizon keeps metadata for this app');
  }, 60_000);

  it('leaves out look-alike keys and other prefixes', async () => {
    const scope = newScope();
    const other = newScope();
    // Laravel-shaped names holding something else, a `:meta` hash that is not BullMQ's.
    await redis.rpush(`${scope}app_queues:notes`, 'plain text');
    await redis.set(`${scope}cache_queues:count`, '3');
    await redis.hset(`${scope}files:report:meta`, { owner: 'me' });
    await new LaravelRedisQueue(redis, { prefix: `${other}laravel_database_`, queue: 'x' }).push();
    expect((await discoverQueues(redis, { scope })).queues).toEqual([]);
  });

  it('stops at its key bound and says so', async () => {
    const scope = newScope();
    await redis.mset(
      Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`${scope}k${i}`, i])),
    );
    await new LaravelRedisQueue(redis, { prefix: `${scope}laravel_database_`, queue: 'a' }).push();
    const result = await discoverQueues(redis, { scope, maxKeys: 10, scanCount: 10 });
    expect(result.stoppedBy).toBe('maxKeys');
    const text = renderConfig({ ...discovered(result.queues, scope), partial: result.stoppedBy });
    expect(text).toContain('# The scan stopped at its key limit: queues in keys it did not reach');
  });
});

describe('measure', () => {
  it('measures a BullMQ queue served by a real worker: run time, arrivals, and the suggestions from them', async () => {
    const scope = newScope();
    const url = redisUrl();
    const connection = { url };
    const prefix = `${scope}bull`;
    const queue = new Queue('thumbnails', { prefix, connection });
    closers.push(() => queue.close());
    const worker = new Worker('thumbnails', () => sleep(150), { prefix, connection });
    closers.push(() => worker.close());
    // The watch starts once the worker has reported its first job done, not while it starts.
    const firstDone = once(worker, 'completed');
    await queue.add('make', { n: 0 });
    await firstDone;
    const [found] = (await discoverQueues(redis, { scope })).queues;
    expect(found).toMatchObject({ driver: 'bullmq', prefix, name: 'thumbnails' });
    if (!found) return;

    // Jobs keep arriving while the queue is watched.
    let producing = true;
    const producer = (async () => {
      for (let n = 1; producing; n++) {
        await queue.add('make', { n });
        await sleep(100);
      }
    })();
    closers.push(async () => {
      producing = false;
      await producer;
    });
    const [snapshot] = await measure([found], { redisUrl: url, durationMs: 6_000, tickMs: 1_000 });
    producing = false;
    await producer;

    expect(snapshot?.error).toBeUndefined();
    // Each job sleeps 150 ms, so no measured run can be shorter.
    expect(snapshot?.serviceTimeMs?.mean).toBeGreaterThanOrEqual(150);
    expect(snapshot?.arrivalRate).toBeGreaterThan(0);
    const [planned] = planQueues([found], [snapshot ?? null], PLAN);
    expect(planned?.bounds.min).toBe(1);
    expect(planned?.bounds.loadWorkers).toBeGreaterThan(0);
    expect(planned?.slo.why).toMatch(/^10 x \S+ run time = /);
    expect(planned?.slo.pickupMs).toBeGreaterThanOrEqual(5_000);
  }, 60_000);
});

describe('the written configuration', () => {
  it('is refused while a placeholder is left, with a message saying to fill it in', async () => {
    const scope = newScope();
    await new LaravelRedisQueue(redis, { prefix: `${scope}laravel_database_`, queue: 'a' }).push();
    const { queues } = await discoverQueues(redis, { scope });
    const text = render(queues, [null], scope);
    let problems: readonly { path: string; message: string }[] = [];
    try {
      parseConfig(text, { env: {} });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems = error.problems;
    }
    expect(problems).toEqual([
      {
        path: 'queues.a.command',
        message: expect.stringContaining(
          `still holds the placeholder ${COMMAND_PLACEHOLDER}: fill in the command that runs one worker`,
        ),
        file: 'qscale.yml',
        line: expect.any(Number),
        column: expect.any(Number),
      },
    ]);
  });
});
