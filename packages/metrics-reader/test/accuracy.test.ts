/**
 * The accuracy criteria, per driver, under a steady producer of 50 jobs/s for 20 s
 * and consumers slower than the producer (a growing backlog, the case autoscaling is for):
 * arrival and completion rates within 10 %, pickup p95 within 20 % of the waits the test's
 * consumers measured, oldest age within one tick. The truth is what the test itself recorded,
 * never the nominal rate: on a busy machine the producer is late and the consumers slow.
 */
import type { QueueSnapshot } from '@qscale/contracts';
import {
  connectRedis,
  deleteKeys,
  type LaravelPayloadVersion,
  LaravelRedisQueue,
  redisUrl,
  uniquePrefix,
} from '@qscale/testkit';
import { Queue as Queue6, Worker as Worker6 } from 'bullmq';
import { Queue as Queue5, Worker as Worker5 } from 'bullmq5';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMetricsReader, type MetricsReader, type QueueSource } from '../src/index.js';
import { consumeCelery, publishCelery } from './helpers/celery.js';
import { LoadLog, percentile, runLoad, sleep } from './helpers/load.js';
import { enqueueRq, workRq } from './helpers/rq.js';
import { pushSidekiq, SidekiqProcess } from './helpers/sidekiq.js';

const RATE = 50;
const DURATION_MS = 20_000;
const TICK_MS = 1_000;
const RATE_WINDOW_MS = 10_000;
const WINDOW_MS = 60_000;
const CONSUMERS = 20;
const SERVICE_MS = 500;
const TIMEOUT_MS = 90_000;

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

function reader(source: Omit<QueueSource, 'redis'>): MetricsReader {
  const created = createMetricsReader({
    sources: [{ ...source, redis: { url: redisUrl() } }],
    rateWindowMs: RATE_WINDOW_MS,
    windowMs: WINDOW_MS,
  });
  cleanups.push(() => created.close());
  return created;
}

/** Consumers that loop until stopped: `take` one job (or null), work, then `finish` it. */
function consumers<T>(
  count: number,
  take: () => Promise<T | null>,
  finish: (job: T) => Promise<void>,
  log: LoadLog,
  idOf: (job: T) => string,
) {
  let stopped = false;
  const loops = Array.from({ length: count }, async () => {
    while (!stopped) {
      const job = await take();
      if (job === null) {
        await sleep(20);
        continue;
      }
      log.picked(idOf(job), Date.now());
      await sleep(SERVICE_MS);
      await finish(job);
      log.finished(Date.now());
    }
  });
  return async () => {
    stopped = true;
    await Promise.all(loops);
  };
}

interface Expectations {
  /** Laravel and Celery count pops, so their "completions" are the jobs taken. */
  completionIsPickup?: boolean;
  /**
   * Celery with early ack: a message leaves Redis as its worker takes it, so pickups are
   * timed only to a tick by markers, too coarse to report: the reader says null.
   */
  pickupUnknown?: boolean;
}

function checkAccuracy(ticks: QueueSnapshot[][], log: LoadLog, expectations: Expectations = {}) {
  const snapshots = ticks.map((tick) => tick[0] as QueueSnapshot);
  const last = snapshots.at(-1) as QueueSnapshot;
  expect(last.error).toBeUndefined();
  const at = last.at;

  const arrivals = log.arrivalRate(at, RATE_WINDOW_MS);
  expect(arrivals).toBeGreaterThan(RATE * 0.5);
  expect(last.arrivalRate, `arrival rate (truth ${arrivals.toFixed(1)}/s)`).not.toBeNull();
  expect(Math.abs((last.arrivalRate ?? 0) - arrivals) / arrivals).toBeLessThanOrEqual(0.1);

  const completions = expectations.completionIsPickup
    ? log.pickupRate(at, RATE_WINDOW_MS)
    : log.completionRate(at, RATE_WINDOW_MS);
  expect(last.completionRate, `completion rate (truth ${completions.toFixed(1)}/s)`).not.toBeNull();
  expect(Math.abs((last.completionRate ?? 0) - completions) / completions).toBeLessThanOrEqual(0.1);

  const waits = log.waits(at, WINDOW_MS);
  const p95 = percentile(waits, 0.95);
  expect(p95).toBeGreaterThan(1_000);
  if (expectations.pickupUnknown) expect(last.pickupLatencyMs).toBeNull();
  else expect(last.pickupLatencyMs, `pickup p95 (truth ${p95} ms)`).not.toBeNull();
  const tolerance = 0.2;
  if (process.env.QSCALE_ACCURACY_DEBUG) {
    const ages = snapshots
      .slice(2)
      .map((s) => Math.round((s.oldestPendingAgeMs ?? 0) - log.oldestAge(s.at)));
    process.stderr.write(
      `DIAG arrivals ${last.arrivalRate} vs ${arrivals} | completions ${last.completionRate} vs ${completions} | p95 ${last.pickupLatencyMs?.p95} (n=${last.pickupLatencyMs?.samples}) vs ${p95} | age errors ${ages.join(',')}\n`,
    );
  }
  if (!expectations.pickupUnknown)
    expect(Math.abs((last.pickupLatencyMs?.p95 ?? 0) - p95) / p95).toBeLessThanOrEqual(tolerance);

  // Oldest age within one tick, at every tick once the reader has seen a tick's history.
  for (const snapshot of snapshots.slice(2)) {
    const truth = log.oldestAge(snapshot.at);
    expect(
      snapshot.oldestPendingAgeMs,
      `oldest age at ${snapshot.at} (truth ${truth})`,
    ).not.toBeNull();
    expect(Math.abs((snapshot.oldestPendingAgeMs ?? 0) - truth)).toBeLessThanOrEqual(TICK_MS);
  }
}

describe('accuracy under load', () => {
  it.each(['12', '11'] as LaravelPayloadVersion[])(
    'Laravel %s payloads',
    async (version) => {
      const prefix = uniquePrefix('acc-laravel');
      cleanups.push(() => deleteKeys(redis, `${prefix}*`));
      const queue = new LaravelRedisQueue(redis, { prefix, queue: 'load', version });
      const metrics = reader({ queue: 'load', driver: 'laravel', backendName: 'load', prefix });
      const log = new LoadLog();
      const worker = connectRedis();
      cleanups.push(() => worker.quit());
      const workerQueue = new LaravelRedisQueue(worker, { prefix, queue: 'load', version });
      const stop = consumers(
        CONSUMERS,
        () => workerQueue.pop(),
        (job) => workerQueue.delete(job),
        log,
        (job) => String(job.payload.uuid),
      );
      const ticks = await runLoad(
        {
          reader: metrics,
          ratePerSecond: RATE,
          durationMs: DURATION_MS,
          tickMs: TICK_MS,
          produce: async () => String((await queue.push()).uuid),
        },
        log,
      );
      await stop();
      checkAccuracy(ticks, log, { completionIsPickup: true });
    },
    TIMEOUT_MS,
  );

  interface Job {
    id?: string | undefined;
    processedOn?: number | undefined;
    timestamp: number;
  }
  interface Connection {
    host: string;
    port: number;
  }
  type Processor = (job: Job) => Promise<void>;
  const bullmq: [
    string,
    (
      prefix: string,
      connection: Connection,
    ) => {
      add(name: string, data: unknown): Promise<Job>;
      close(): Promise<void>;
    },
    (prefix: string, connection: Connection, processor: Processor) => { close(): Promise<void> },
  ][] = [
    [
      '6',
      (prefix, connection) => new Queue6('load', { connection, prefix }),
      (prefix, connection, processor) =>
        new Worker6('load', processor, { connection, prefix, concurrency: CONSUMERS }),
    ],
    [
      '5',
      (prefix, connection) => new Queue5('load', { connection, prefix }),
      (prefix, connection, processor) =>
        new Worker5('load', processor, { connection, prefix, concurrency: CONSUMERS }),
    ],
  ];

  it.each(bullmq)(
    'BullMQ %s with a real worker',
    async (_version, makeQueue, makeWorker) => {
      const prefix = uniquePrefix('acc-bull').slice(0, -1);
      cleanups.push(() => deleteKeys(redis, `${prefix}:*`));
      const url = new URL(redisUrl());
      const connection = { host: url.hostname, port: Number(url.port || 6379) };
      const queue = makeQueue(prefix, connection);
      cleanups.push(() => queue.close());
      const metrics = reader({ queue: 'load', driver: 'bullmq', backendName: 'load', prefix });
      const log = new LoadLog();
      const worker = makeWorker(prefix, connection, async (job) => {
        log.picked(String(job.id), job.processedOn ?? Date.now());
        await sleep(SERVICE_MS);
        log.finished(Date.now());
      });
      cleanups.push(() => worker.close());
      const ticks = await runLoad(
        {
          reader: metrics,
          ratePerSecond: RATE,
          durationMs: DURATION_MS,
          tickMs: TICK_MS,
          produce: async () => {
            const job = await queue.add('job', {});
            log.produced(String(job.id), job.timestamp);
            return String(job.id);
          },
        },
        log,
      );
      // The job's own timestamp is the truth; runLoad's record was taken just before the add.
      checkAccuracy(ticks, log);
    },
    TIMEOUT_MS,
  );

  it(
    'RQ',
    async () => {
      const prefix = uniquePrefix('acc-rq');
      cleanups.push(() => deleteKeys(redis, `${prefix}*`));
      const metrics = reader({ queue: 'load', driver: 'rq', backendName: 'load', prefix });
      const log = new LoadLog();
      const worker = connectRedis();
      cleanups.push(() => worker.quit());
      let stopped = false;
      const loops = Array.from({ length: CONSUMERS }, async () => {
        while (!stopped) {
          const done = await workRq(worker, prefix, 'load', SERVICE_MS, 500, (id, at) =>
            log.picked(id, at),
          );
          if (done) log.finished(Date.now());
          else await sleep(20);
        }
      });
      const ticks = await runLoad(
        {
          reader: metrics,
          ratePerSecond: RATE,
          durationMs: DURATION_MS,
          tickMs: TICK_MS,
          produce: () => enqueueRq(redis, prefix, 'load'),
        },
        log,
      );
      stopped = true;
      await Promise.all(loops);
      checkAccuracy(ticks, log);
    },
    TIMEOUT_MS,
  );

  it(
    'Sidekiq 8 with two processes',
    async () => {
      const prefix = uniquePrefix('acc-sidekiq');
      cleanups.push(() => deleteKeys(redis, `${prefix}*`));
      const metrics = reader({ queue: 'load', driver: 'sidekiq', backendName: 'load', prefix });
      const log = new LoadLog();
      const processes = [0, 1].map(() => {
        const connection = connectRedis();
        cleanups.push(() => connection.quit());
        return new SidekiqProcess(connection, {
          prefix,
          queues: ['load'],
          concurrency: CONSUMERS / 2,
          beatMs: 5_000,
          version: 8,
          workMs: () => SERVICE_MS,
          onPickup: (_wait, job) => log.picked(String(job.jid), Date.now()),
          onDone: () => log.finished(Date.now()),
        });
      });
      await processes[0]?.start();
      await sleep(2_500);
      await processes[1]?.start();
      const ticks = await runLoad(
        {
          reader: metrics,
          ratePerSecond: RATE,
          durationMs: DURATION_MS,
          tickMs: TICK_MS,
          produce: async () => String((await pushSidekiq(redis, prefix, 'load', 8)).jid),
        },
        log,
      );
      await Promise.all(processes.map((process) => process.stop()));
      checkAccuracy(ticks, log);
    },
    TIMEOUT_MS,
  );

  it(
    'Celery',
    async () => {
      const prefix = uniquePrefix('acc-celery');
      cleanups.push(() => deleteKeys(redis, `${prefix}*`));
      const metrics = reader({ queue: 'load', driver: 'celery', backendName: 'load', prefix });
      const log = new LoadLog();
      const worker = connectRedis();
      cleanups.push(() => worker.quit());
      const stop = consumers(
        CONSUMERS,
        () => consumeCelery(worker, prefix, 'load'),
        async () => {},
        log,
        (id) => id,
      );
      const ticks = await runLoad(
        {
          reader: metrics,
          ratePerSecond: RATE,
          durationMs: DURATION_MS,
          tickMs: TICK_MS,
          produce: () => publishCelery(redis, prefix, 'load'),
        },
        log,
      );
      await stop();
      checkAccuracy(ticks, log, { completionIsPickup: true, pickupUnknown: true });
    },
    TIMEOUT_MS,
  );
});
