import type { QueueBackend } from '@qscale/contracts';
import { LaravelRedisQueue, startPrivateRedis, uniquePrefix, waitFor } from '@qscale/testkit';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createMetricsReader } from '../src/index.js';

const DRIVERS: QueueBackend[] = ['laravel', 'bullmq', 'sidekiq', 'rq', 'celery'];

describe('cost of a snapshot', () => {
  it('takes at most two round trips per connection whatever the number of queues, and counts its commands truly', async () => {
    const server = await startPrivateRedis();
    const admin = new Redis(server.url);
    try {
      const prefix = uniquePrefix('cost');
      const sources = (count: number, url: string) =>
        Array.from({ length: count }, (_, index) => {
          const driver = DRIVERS[index % DRIVERS.length] as QueueBackend;
          return { queue: `q${index}`, driver, backendName: `q${index}`, prefix, redis: { url } };
        });
      // Jobs in some queues, so the second round trip (details of new jobs) has work to do.
      const laravel = new LaravelRedisQueue(admin, { prefix, queue: 'q0' });
      await laravel.push();

      for (const count of [5, 50, 250]) {
        const reader = createMetricsReader({
          sources: [
            ...sources(count, server.url),
            ...sources(3, `${server.url}/1`).map((s) => ({ ...s, queue: `db1-${s.queue}` })),
          ],
        });
        try {
          await admin.call('CONFIG', 'RESETSTAT');
          await reader.snapshot();
          await laravel.push();
          await reader.snapshot();
          // Closed first: the sub-tick probes (Laravel's, Sidekiq's tail) also read between
          // the snapshots, more often the slower the machine; stopped, their count is final.
          await reader.close();
          const stats = reader.stats();
          const commandsSent = stats.commands + stats.probes.commands;
          const last = stats.last;
          expect(last?.connections).toBe(2);
          expect(last?.maxRoundTripsPerConnection).toBeLessThanOrEqual(2);
          expect(last?.roundTrips).toBeLessThanOrEqual(4);
          const info = (await admin.info('commandstats')) as string;
          // The fixture's own commands: the reset, the push script (EVAL and its two RPUSH) and
          // the SELECT of the db-1 connection. Everything else is the reader's.
          const fixture = /^(config\|resetstat|eval|rpush|select)$/;
          const served = [...info.matchAll(/cmdstat_(\w+(?:\|\w+)?):calls=(\d+)/g)]
            .filter(([, name]) => !fixture.test(name ?? ''))
            .reduce((sum, [, , calls]) => sum + Number(calls), 0);
          // Every command the reader says it sent was served, and nothing else.
          expect(served).toBe(commandsSent);
        } finally {
          await reader.close();
        }
      }
    } finally {
      await admin.quit();
      await server.stop();
    }
  });

  // Each sub-tick probe, with an interval that puts one in flight often: Laravel's and Celery's
  // (20 ms), Sidekiq's tail (its 100 ms).
  it.each([
    {
      driver: 'laravel',
      intervalMs: 20,
      options: { laravel: { retryAfter: 90, probeIntervalMs: 20 } },
    },
    {
      driver: 'celery',
      intervalMs: 20,
      options: { celery: { acksLate: true, probeIntervalMs: 20 } },
    },
    { driver: 'sidekiq', intervalMs: 100, options: {} },
  ] as const)(
    'close() with a $driver probe in flight: what the probe sent is counted, then no connection or probe is left',
    async ({ driver, intervalMs, options }) => {
      const server = await startPrivateRedis();
      const admin = new Redis(server.url);
      try {
        const prefix = uniquePrefix('cost');
        if (driver === 'laravel') await new LaravelRedisQueue(admin, { prefix, queue: 'q' }).push();
        const clients = async () =>
          ((await admin.client('LIST')) as string).trim().split('\n').length;
        // Every command but ours (the reset, these reads): the reader's.
        const served = async () => {
          const info = (await admin.info('commandstats')) as string;
          return [...info.matchAll(/cmdstat_(\w+(?:\|\w+)?):calls=(\d+)/g)]
            .filter(([, name]) => !/^(config\|resetstat|info|client\|list)$/.test(name ?? ''))
            .reduce((sum, [, , calls]) => sum + Number(calls), 0);
        };
        // Closed at moments spread over a probe interval: some closes meet a probe whose
        // commands Redis has (or will have) served. Each must be counted, none cut off.
        const uncounted: string[] = [];
        for (let attempt = 0; attempt < 40; attempt++) {
          const reader = createMetricsReader({
            sources: [
              {
                queue: 'q',
                driver,
                backendName: 'q',
                prefix,
                redis: { url: server.url },
                ...options,
              },
            ],
          });
          await admin.call('CONFIG', 'RESETSTAT');
          await reader.snapshot();
          // Two snapshots apart: Sidekiq's tail probe runs for twice the time between them.
          await new Promise((resolve) => setTimeout(resolve, 2 * intervalMs));
          await reader.snapshot();
          const spread = ((attempt % 7) * intervalMs) / 7;
          await new Promise((resolve) => setTimeout(resolve, intervalMs + spread));
          await reader.close();
          const { commands, probes } = reader.stats();
          const servedNow = await served();
          if (servedNow !== commands + probes.commands) {
            uncounted.push(
              `close ${attempt}: ${servedNow} served, ${commands + probes.commands} counted`,
            );
          }
        }
        expect(uncounted).toEqual([]);
        // Closed means gone: the server sees no connection but ours, and no probe runs on.
        await waitFor(async () => (await clients()) === 1, { what: 'the readers disconnected' });
        const servedAfter = await served();
        await new Promise((resolve) => setTimeout(resolve, 3 * intervalMs));
        expect(await served()).toBe(servedAfter);
      } finally {
        await admin.quit();
        await server.stop();
      }
    },
    60_000,
  );
});
