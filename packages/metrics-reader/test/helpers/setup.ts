import type { QueueBackend } from '@qscale/contracts';
import { connectRedis, deleteKeys, redisUrl, uniquePrefix } from '@qscale/testkit';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll } from 'vitest';
import {
  createMetricsReader,
  type MetricsReader,
  type MetricsReaderOptions,
} from '../../src/index.js';

/**
 * Per-file set-up for Redis tests: one client for writing fixtures, cleanups run after each
 * test (keys under the test's prefix, readers closed).
 */
export function redisFixture() {
  let redis: Redis | undefined;
  const cleanups: (() => Promise<unknown>)[] = [];
  beforeAll(() => {
    redis = connectRedis();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(async () => {
    await redis?.quit();
  });
  return {
    get redis(): Redis {
      if (!redis) throw new Error('redis is only available inside a test');
      return redis;
    },
    cleanups,
    /** A fresh key prefix, deleted after the test. */
    prefix(label: string): string {
      const prefix = uniquePrefix(label);
      cleanups.push(() => deleteKeys(this.redis, `${prefix}*`));
      return prefix;
    },
    /** A reader of `queues` (backend names) of one driver, closed after the test. */
    reader(
      driver: QueueBackend,
      prefix: string,
      queues: string[],
      options: Partial<MetricsReaderOptions> = {},
    ): MetricsReader {
      const reader = createMetricsReader({
        sources: queues.map((name) => ({
          queue: name,
          driver,
          backendName: name,
          prefix,
          redis: { url: redisUrl() },
        })),
        minSamples: 1,
        // A loaded machine can stall a test's event loop for seconds; a timed-out read would
        // break the chains of reads these tests count. Timeouts are tested on their own.
        commandTimeoutMs: 30_000,
        ...options,
      });
      cleanups.push(() => reader.close());
      return reader;
    },
  };
}
