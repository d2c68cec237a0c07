import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger, QueueBackend } from '@qscale/contracts';
import {
  createTestCertificates,
  freePort,
  LaravelRedisQueue,
  onFreePorts,
  redisUrl,
  startPrivateRedis,
  type TestCertificates,
  uniquePrefix,
  waitFor,
} from '@qscale/testkit';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetricsReader, type MetricsReader } from '../src/index.js';
import { publishCelery } from './helpers/celery.js';
import { enqueueRq } from './helpers/rq.js';
import { startServer } from './helpers/servers.js';
import { pushSidekiq } from './helpers/sidekiq.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function track<T extends MetricsReader>(reader: T): T {
  cleanups.push(() => reader.close());
  return reader;
}

/** A logger that keeps what it was told. */
function recordingLogger() {
  const lines: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const logger: Logger = {
    debug: (message, fields) =>
      lines.push({ level: 'debug', message, ...(fields ? { fields } : {}) }),
    info: (message, fields) =>
      lines.push({ level: 'info', message, ...(fields ? { fields } : {}) }),
    warn: (message, fields) =>
      lines.push({ level: 'warn', message, ...(fields ? { fields } : {}) }),
    error: (message, fields) =>
      lines.push({ level: 'error', message, ...(fields ? { fields } : {}) }),
  };
  return { logger, lines };
}

const source = (queue: string, url: string, extra: Record<string, unknown> = {}) => ({
  queue,
  driver: 'laravel' as QueueBackend,
  backendName: queue,
  prefix: uniquePrefix('conn'),
  redis: { url, ...extra },
});

describe('a Redis that goes away', () => {
  it('gives only its queues a REDIS_UNREACHABLE error, then reconnects by itself', async () => {
    const server = await startPrivateRedis();
    cleanups.push(() => server.stop());
    const { logger, lines } = recordingLogger();
    const reader = track(
      createMetricsReader({
        sources: [source('private', server.url), source('shared', redisUrl())],
        logger,
        reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
      }),
    );
    const [up] = await reader.snapshot();
    expect(up?.error).toBeUndefined();

    await server.stop();
    const [down, other] = await reader.snapshot();
    expect(down).toMatchObject({ pending: null, active: null, oldestPendingAgeMs: null });
    expect(down?.error?.code).toBe('REDIS_UNREACHABLE');
    expect(down?.error?.message).toContain(`127.0.0.1:${server.port}`);
    expect(other?.error).toBeUndefined();
    expect(other?.pending).toBe(0);
    expect(
      lines.some((line) => line.level === 'warn' && line.fields?.code === 'REDIS_UNREACHABLE'),
    ).toBe(true);

    await server.start();
    await waitFor(async () => (await reader.snapshot())[0]?.error === undefined, {
      timeoutMs: 10_000,
      what: 'the reader to reconnect',
    });
    const [back] = await reader.snapshot();
    expect(back?.pending).toBe(0);
    expect(reader.stats().connectionFailures).toBeGreaterThanOrEqual(1);
  });

  it('resolves at once when nothing listens at all', async () => {
    const port = await freePort();
    const reader = track(
      createMetricsReader({ sources: [source('nowhere', `redis://127.0.0.1:${port}`)] }),
    );
    const [snapshot] = await reader.snapshot();
    expect(snapshot?.error?.code).toBe('REDIS_UNREACHABLE');
    const [again] = await reader.snapshot();
    expect(again?.error?.code).toBe('REDIS_UNREACHABLE');
  });

  it('times a frozen server out with REDIS_TIMEOUT instead of hanging the tick', async () => {
    const server = await startPrivateRedis();
    cleanups.push(() => server.stop());
    const reader = track(
      createMetricsReader({ sources: [source('frozen', server.url)], commandTimeoutMs: 300 }),
    );
    await reader.snapshot();
    const pid = server.pid as number;
    process.kill(pid, 'SIGSTOP');
    try {
      const [snapshot] = await reader.snapshot();
      expect(snapshot?.error?.code).toBe('REDIS_TIMEOUT');
      expect(snapshot?.pending).toBeNull();
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });
});

/**
 * A private Redis with a TLS port besides its plain one. startPrivateRedis retries a taken
 * plain port, not the TLS port it is given: the TLS port is taken afresh on each attempt.
 */
function tlsRedis(certificates: TestCertificates, options?: { authClients?: boolean }) {
  return onFreePorts(async () => {
    const tlsPort = await freePort();
    const server = await startPrivateRedis(certificates.tlsServerArgs(tlsPort, options));
    return { tlsPort, server };
  });
}

describe('credentials and TLS', () => {
  it('reports a refused password as REDIS_AUTH and never shows the password', async () => {
    const server = await startPrivateRedis();
    cleanups.push(() => server.stop());
    const admin = new Redis(server.url);
    cleanups.push(() => admin.quit());
    await admin.call('ACL', 'SETUSER', 'alice', 'on', '>right-secret', '~*', '+@all');
    const wrong = track(
      createMetricsReader({
        sources: [source('q', server.url, { username: 'alice', password: 'wrong-secret' })],
      }),
    );
    const [refused] = await wrong.snapshot();
    expect(refused?.error?.code).toBe('REDIS_AUTH');
    expect(refused?.error?.message).not.toContain('wrong-secret');
    const right = track(
      createMetricsReader({
        sources: [source('q', `redis://alice:right-secret@127.0.0.1:${server.port}`)],
      }),
    );
    const [accepted] = await right.snapshot();
    expect(accepted?.error).toBeUndefined();
    expect(JSON.stringify(accepted)).not.toContain('right-secret');
  });

  it('reads over TLS, verifying the server against the given CA; an unknown CA is REDIS_TLS', async () => {
    const certificates = await createTestCertificates();
    cleanups.push(() => certificates.remove());
    const { tlsPort, server } = await tlsRedis(certificates);
    cleanups.push(() => server.stop());
    const admin = new Redis(server.url);
    cleanups.push(() => admin.quit());
    await admin.call('ACL', 'SETUSER', 'reader', 'on', '>tls-secret', '~*', '+@read', '+ping');
    const url = `rediss://reader:tls-secret@127.0.0.1:${tlsPort}`;
    const mail = source('mail', url, { tls: { caFile: certificates.caFile } });
    const queue = new LaravelRedisQueue(admin, { prefix: mail.prefix, queue: 'mail' });
    for (let index = 0; index < 3; index++) await queue.push();

    const trusted = track(createMetricsReader({ sources: [mail] }));
    const [read] = await trusted.snapshot();
    expect(read?.error).toBeUndefined();
    expect(read?.pending).toBe(3);

    // The same server without its CA: the system's CAs do not vouch for it.
    const untrusted = track(createMetricsReader({ sources: [source('mail', url)] }));
    const [refused] = await untrusted.snapshot();
    expect(refused?.error?.code).toBe('REDIS_TLS');
    expect(refused?.error?.message).not.toContain('tls-secret');
    // Plain text to the TLS port is not Redis answering: no figures either.
    const plain = track(
      createMetricsReader({
        sources: [source('mail', `redis://reader:tls-secret@127.0.0.1:${tlsPort}`)],
        commandTimeoutMs: 500,
      }),
    );
    const [garbled] = await plain.snapshot();
    expect(garbled?.error).toBeDefined();
    expect(garbled?.pending).toBeNull();
  });

  it('presents a client certificate to a server that demands one; without it the server refuses, REDIS_TLS', async () => {
    const certificates = await createTestCertificates();
    cleanups.push(() => certificates.remove());
    const { tlsPort, server } = await tlsRedis(certificates, { authClients: true });
    cleanups.push(() => server.stop());
    const admin = new Redis(server.url);
    cleanups.push(() => admin.quit());
    const url = `rediss://127.0.0.1:${tlsPort}`;
    const withCert = source('mtls', url, {
      tls: {
        caFile: certificates.caFile,
        certFile: certificates.clientCertFile,
        keyFile: certificates.clientKeyFile,
      },
    });
    const queue = new LaravelRedisQueue(admin, { prefix: withCert.prefix, queue: 'mtls' });
    await queue.push();
    await queue.push();

    const { logger, lines } = recordingLogger();
    const withoutCert = track(
      createMetricsReader({
        sources: [{ ...withCert, redis: { url, tls: { caFile: certificates.caFile } } }],
        logger,
      }),
    );
    const [refused] = await withoutCert.snapshot();
    expect(refused?.pending).toBeNull();
    expect(refused?.error?.code).toBe('REDIS_TLS');
    expect(refused?.error?.message).toContain(`127.0.0.1:${tlsPort}`);
    expect(lines.some((line) => line.fields?.code === 'REDIS_TLS')).toBe(true);

    const accepted = track(createMetricsReader({ sources: [withCert] }));
    const [read] = await accepted.snapshot();
    expect(read?.error).toBeUndefined();
    expect(read?.pending).toBe(2);
  });

  it('names an unreadable client key file', async () => {
    const certificates = await createTestCertificates();
    cleanups.push(() => certificates.remove());
    const reader = track(
      createMetricsReader({
        sources: [
          source('q', 'rediss://127.0.0.1:6380', {
            tls: { certFile: certificates.clientCertFile, keyFile: '/nonexistent/client.key' },
          }),
        ],
      }),
    );
    const [snapshot] = await reader.snapshot();
    expect(snapshot?.error?.code).toBe('REDIS_TLS');
    expect(snapshot?.error?.message).toContain('TLS client key file /nonexistent/client.key');
  });

  it('reports an unreadable CA file as REDIS_TLS, naming the file', async () => {
    const reader = track(
      createMetricsReader({
        sources: [
          source('q', 'rediss://127.0.0.1:6380', { tls: { caFile: '/nonexistent/ca.pem' } }),
        ],
      }),
    );
    const [snapshot] = await reader.snapshot();
    expect(snapshot?.error?.code).toBe('REDIS_TLS');
    expect(snapshot?.error?.message).toContain('/nonexistent/ca.pem');
  });
});

describe('a Unix socket', () => {
  it('reads a queue through redis+unix:// and unix: URLs, with the db from ?db=', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'qscale-sock-'));
    cleanups.push(() => rm(folder, { recursive: true, force: true }));
    const socket = join(folder, 'redis.sock');
    const server = await startServer(['--port', '0', '--unixsocket', socket]);
    cleanups.push(() => server.stop());
    const admin = new Redis({ path: socket, db: 3 });
    cleanups.push(() => admin.quit());
    const prefix = uniquePrefix('sock');
    const queue = new LaravelRedisQueue(admin, { prefix, queue: 'local' });
    for (let index = 0; index < 4; index++) await queue.push();

    const reader = track(
      createMetricsReader({
        sources: [
          { ...source('db3', `redis+unix://${socket}?db=3`), prefix, backendName: 'local' },
          { ...source('db0', `unix://${socket}`), prefix, backendName: 'local' },
        ],
      }),
    );
    const [db3, db0] = await reader.snapshot();
    expect(db3?.error).toBeUndefined();
    expect(db3?.pending).toBe(4);
    expect(db0?.error).toBeUndefined();
    expect(db0?.pending).toBe(0);

    // A socket nobody listens on is unreachable, named by its path.
    await server.stop();
    const [gone] = await reader.snapshot();
    expect(gone?.error?.code).toBe('REDIS_UNREACHABLE');
    expect(gone?.error?.message).toContain(`unix:${socket}/3`);
  });
});

describe('read-only', () => {
  it('reads every driver as an ACL user that may only read (no write, no script, no CLIENT)', async () => {
    const server = await startPrivateRedis();
    cleanups.push(() => server.stop());
    const admin = new Redis(server.url);
    cleanups.push(() => admin.quit());
    await admin.call(
      'ACL',
      'SETUSER',
      'qscale',
      'on',
      '>reader-secret',
      '~*',
      'resetchannels',
      '-@all',
      '+@read',
    );
    // Jobs of every system, plus some history, so every read path runs.
    const laravel = new LaravelRedisQueue(admin, { prefix: 'laravel_database_', queue: 'mail' });
    await laravel.push();
    await laravel.push();
    const popped = await laravel.pop();
    await laravel.later(-1);
    await pushSidekiq(admin, '', 'default', 8);
    await enqueueRq(admin, '', 'default');
    await publishCelery(admin, '', 'celery');
    await admin.xadd('bull:emails:events', '*', 'event', 'waiting', 'jobId', '1');
    await admin.lpush('bull:emails:wait', '1');
    await admin.hset('bull:emails:1', { timestamp: Date.now(), opts: '{}', delay: 0 });
    await admin.hset('bull:emails:meta', 'opts.maxLenEvents', 10_000);

    const url = `redis://qscale:reader-secret@127.0.0.1:${server.port}`;
    const drivers: [QueueBackend, string][] = [
      ['laravel', 'mail'],
      ['bullmq', 'emails'],
      ['sidekiq', 'default'],
      ['rq', 'default'],
      ['celery', 'celery'],
    ];
    const reader = track(
      createMetricsReader({
        sources: drivers.map(([driver, name]) => ({
          queue: `${driver}-${name}`,
          driver,
          backendName: name,
          prefix: null,
          redis: { url },
        })),
      }),
    );
    for (let tick = 0; tick < 3; tick++) {
      if (tick === 1 && popped) await laravel.delete(popped);
      const snapshots = await reader.snapshot();
      for (const snapshot of snapshots) {
        expect(snapshot.error, `${snapshot.queue} on tick ${tick}`).toBeUndefined();
      }
    }
    const discovered = await reader.discover();
    expect(discovered.map((queue) => `${queue.driver}:${queue.backendName}`).sort()).toEqual([
      'bullmq:emails',
      'celery:celery',
      'laravel:mail',
      'rq:default',
      'sidekiq:default',
    ]);
    const stats = (await admin.call('INFO', 'commandstats')) as string;
    const writes = [
      'set',
      'del',
      'lpush',
      'rpush',
      'zadd',
      'hset',
      'eval',
      'evalsha',
      'xadd',
      'rpop',
    ];
    for (const write of writes) {
      // Only the fixture's own writes (made as the default user) can have been counted.
      expect(stats).not.toMatch(new RegExp(`cmdstat_${write}:calls=\\d+,.*rejected_calls=[1-9]`));
    }
  });
});
