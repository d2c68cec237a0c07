import { freePort, uniquePrefix, waitFor } from '@qscale/testkit';
import { Queue, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetricsReader, type MetricsReader } from '../src/index.js';
import { type Server, startSentinel, startServerOnFreePort } from './helpers/servers.js';

// workerCounts() reads the registries over the reader's own connection, so a deployment behind
// a Sentinel is counted like a plain one: a private master and Sentinel, a real BullMQ Worker.
const PASSWORD = 'counts-secret-1234';
let master: Server;
let sentinel: Server;

beforeAll(async () => {
  master = await startServerOnFreePort(['--requirepass', PASSWORD]);
  sentinel = await startSentinel('countsmaster', master.port, PASSWORD);
}, 60_000);

afterAll(async () => {
  await sentinel?.stop();
  await master?.stop();
});

describe('workerCounts()', () => {
  it('counts BullMQ workers through a Sentinel; Laravel and Celery say they keep no registry', async () => {
    const prefix = uniquePrefix('counts');
    const connection = { host: '127.0.0.1', port: master.port, password: PASSWORD };
    const redis = {
      password: PASSWORD,
      sentinel: {
        masterName: 'countsmaster',
        sentinels: [{ host: '127.0.0.1', port: sentinel.port }],
      },
    };
    const reader: MetricsReader = createMetricsReader({
      sources: [
        { queue: 'mail', driver: 'bullmq', backendName: 'mail', prefix, redis },
        { queue: 'idle', driver: 'bullmq', backendName: 'idle', prefix, redis },
        { queue: 'php', driver: 'laravel', backendName: 'default', prefix: null, redis },
        { queue: 'py', driver: 'celery', backendName: 'celery', prefix: null, redis },
      ],
    });
    const queue = new Queue('mail', { connection, prefix });
    const workers = [1, 2].map(
      () => new Worker('mail', async () => undefined, { connection, prefix }),
    );
    try {
      await Promise.all(workers.map((worker) => worker.waitUntilReady()));
      await waitFor(async () => (await queue.getWorkersCount()) === 2, {
        timeoutMs: 30_000,
        what: 'two BullMQ workers registered',
      });
      const counts = await reader.workerCounts();
      expect(counts).toEqual([
        { queue: 'mail', workers: 2, registry: 'bullmq-clients' },
        { queue: 'idle', workers: 0, registry: 'bullmq-clients' },
        {
          queue: 'php',
          workers: null,
          registry: null,
          reason: 'Laravel keeps no registry of its workers in Redis',
        },
        {
          queue: 'py',
          workers: null,
          registry: null,
          reason: 'Celery workers register nowhere in Redis (they answer broadcast pings only)',
        },
      ]);
      // Only the queues asked for.
      expect((await reader.workerCounts(['mail'])).map((count) => count.queue)).toEqual(['mail']);
      await workers[0]?.close();
      await waitFor(async () => (await reader.workerCounts(['mail']))[0]?.workers === 1, {
        timeoutMs: 30_000,
        what: 'the closed worker gone from the count',
      });
    } finally {
      await Promise.all(workers.map((worker) => worker.close()));
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
      await reader.close();
    }
  }, 90_000);

  it('an unreachable Redis: null counts with the reason, never a rejection', async () => {
    const port = await freePort();
    const reader = createMetricsReader({
      sources: [
        {
          queue: 'jobs',
          driver: 'rq',
          backendName: 'jobs',
          prefix: null,
          redis: { url: `redis://127.0.0.1:${port}` },
        },
      ],
      connectTimeoutMs: 500,
    });
    try {
      const [jobs] = await reader.workerCounts();
      expect(jobs).toMatchObject({ queue: 'jobs', workers: null, registry: 'rq-workers' });
      expect(jobs?.reason).toMatch(
        new RegExp(
          `^the worker registry cannot be read: Redis at redis://127\\.0\\.0\\.1:${port}/0: `,
        ),
      );
    } finally {
      await reader.close();
    }
  }, 30_000);
});
