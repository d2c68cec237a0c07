import type { Logger } from '@qscale/contracts';
import { freePort, LaravelRedisQueue, uniquePrefix, waitFor } from '@qscale/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetricsReader } from '../src/index.js';
import { type Server, startSentinel, startServerOnFreePort } from './helpers/servers.js';

// A master, its replica and one Sentinel, all private to this file. Passwords differ between
// the Redis servers and the Sentinel, so a mix-up shows as REDIS_AUTH.
const MASTER_PASSWORD = 'master-secret-4711';
const SENTINEL_PASSWORD = 'sentinel-secret-0815';
const servers: Server[] = [];
const clients: Redis[] = [];
let master: Server;
let replica: Server;
let sentinel: Server;

function client(port: number, password = MASTER_PASSWORD): Redis {
  const redis = new Redis({ port, host: '127.0.0.1', password, maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  clients.push(redis);
  return redis;
}

beforeAll(async () => {
  const auth = ['--requirepass', MASTER_PASSWORD, '--masterauth', MASTER_PASSWORD];
  master = await startServerOnFreePort(auth);
  servers.push(master);
  replica = await startServerOnFreePort([...auth, '--replicaof', '127.0.0.1', String(master.port)]);
  servers.push(replica);
  sentinel = await startSentinel('mymaster', master.port, MASTER_PASSWORD, [
    'sentinel down-after-milliseconds mymaster 2000',
    'sentinel failover-timeout mymaster 10000',
    `requirepass ${SENTINEL_PASSWORD}`,
  ]);
  servers.push(sentinel);
}, 60_000);

afterAll(async () => {
  for (const redis of clients) redis.disconnect();
  for (const server of servers.reverse()) await server.stop();
});

function recordingLogger() {
  const lines: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const record =
    (level: string) =>
    (message: string, fields?: Record<string, unknown>): void => {
      lines.push({ level, message, ...(fields ? { fields } : {}) });
    };
  const logger: Logger = {
    debug: record('debug'),
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
  };
  return { logger, lines };
}

describe('Redis Sentinel', () => {
  it('finds the master through the Sentinels, follows a failover to the new master, never prints a password', async () => {
    const deadSentinel = await freePort();
    const prefix = uniquePrefix('sentinel');
    const { logger, lines } = recordingLogger();
    const reader = createMetricsReader({
      sources: [
        {
          queue: 'mail',
          driver: 'laravel',
          backendName: 'mail',
          prefix,
          redis: {
            password: MASTER_PASSWORD,
            sentinel: {
              masterName: 'mymaster',
              // The first Sentinel is down: the next one answers.
              sentinels: [
                { host: '127.0.0.1', port: deadSentinel },
                { host: '127.0.0.1', port: sentinel.port },
              ],
              password: SENTINEL_PASSWORD,
            },
          },
        },
      ],
      logger,
      reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 },
    });
    try {
      const queue = new LaravelRedisQueue(client(master.port), { prefix, queue: 'mail' });
      for (let index = 0; index < 3; index++) await queue.push();
      const [first] = await reader.snapshot();
      expect(first?.error).toBeUndefined();
      expect(first?.pending).toBe(3);

      // The replica must hold the jobs, and the Sentinel must know it, before a failover.
      const replicaClient = client(replica.port);
      await waitFor(async () => (await replicaClient.llen(`${prefix}queues:mail`)) === 3, {
        timeoutMs: 30_000,
        what: 'the replica to copy the jobs',
      });
      const sentinelClient = client(sentinel.port, SENTINEL_PASSWORD);
      await waitFor(
        async () => {
          const reply = await sentinelClient
            .call('SENTINEL', 'FAILOVER', 'mymaster')
            .catch((error: Error) => error.message);
          return reply === 'OK';
        },
        { timeoutMs: 60_000, intervalMs: 500, what: 'the Sentinel to accept SENTINEL FAILOVER' },
      );
      await waitFor(
        async () => {
          const address = (await sentinelClient.call(
            'SENTINEL',
            'GET-MASTER-ADDR-BY-NAME',
            'mymaster',
          )) as string[];
          return Number(address[1]) === replica.port;
        },
        { timeoutMs: 60_000, what: 'the Sentinel to name the replica as master' },
      );
      // A job only the new master can have taken first-hand.
      const promoted = new LaravelRedisQueue(client(replica.port), { prefix, queue: 'mail' });
      await waitFor(async () => ((await replicaClient.call('ROLE')) as unknown[])[0] === 'master', {
        timeoutMs: 60_000,
        what: 'the replica to become master',
      });
      await promoted.push();

      const seen: string[] = [];
      await waitFor(
        async () => {
          const [snapshot] = await reader.snapshot();
          if (snapshot?.error) seen.push(`${snapshot.error.code}: ${snapshot.error.message}`);
          return snapshot?.error === undefined && snapshot?.pending === 4;
        },
        { timeoutMs: 60_000, intervalMs: 100, what: 'the reader to read the new master' },
      );
      const moved = lines.find((line) => line.message.includes('Sentinel names a new master'));
      expect(moved?.fields).toMatchObject({
        from: `127.0.0.1:${master.port}`,
        to: `127.0.0.1:${replica.port}`,
      });
      // Whatever went wrong in between was said plainly, as a connection problem.
      for (const error of seen) expect(error).toMatch(/^REDIS_UNREACHABLE: Redis at sentinel/);
      const everything = JSON.stringify({ lines, seen });
      expect(everything).not.toContain(MASTER_PASSWORD);
      expect(everything).not.toContain(SENTINEL_PASSWORD);
    } finally {
      await reader.close();
    }
  }, 180_000);

  it('names the master, the Sentinels and why when no Sentinel knows the master', async () => {
    const reader = createMetricsReader({
      sources: [
        {
          queue: 'q',
          driver: 'laravel',
          backendName: 'q',
          prefix: uniquePrefix('sentinel'),
          redis: {
            sentinel: {
              masterName: 'nosuchmaster',
              sentinels: [{ host: '127.0.0.1', port: sentinel.port }],
              password: SENTINEL_PASSWORD,
            },
          },
        },
      ],
    });
    try {
      const [snapshot] = await reader.snapshot();
      expect(snapshot?.error?.code).toBe('REDIS_UNREACHABLE');
      expect(snapshot?.error?.message).toContain(
        `no Sentinel named a master for "nosuchmaster" (127.0.0.1:${sentinel.port}: does not monitor a master named "nosuchmaster")`,
      );
      expect(snapshot?.error?.message).not.toContain(SENTINEL_PASSWORD);
    } finally {
      await reader.close();
    }
  });

  it('reports a wrong Sentinel password as REDIS_AUTH', async () => {
    const reader = createMetricsReader({
      sources: [
        {
          queue: 'q',
          driver: 'laravel',
          backendName: 'q',
          prefix: uniquePrefix('sentinel'),
          redis: {
            sentinel: {
              masterName: 'mymaster',
              sentinels: [{ host: '127.0.0.1', port: sentinel.port }],
              password: 'not-the-sentinel-password',
            },
          },
        },
      ],
    });
    try {
      const [snapshot] = await reader.snapshot();
      expect(snapshot?.error?.code).toBe('REDIS_AUTH');
      expect(snapshot?.error?.message).not.toContain('not-the-sentinel-password');
    } finally {
      await reader.close();
    }
  });
});
