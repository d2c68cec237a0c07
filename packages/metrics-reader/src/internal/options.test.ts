import { describe, expect, it } from 'vitest';
import { createMetricsReader, DEFAULTS, MetricsReaderError } from '../index.js';

const source = {
  queue: 'emails',
  driver: 'bullmq' as const,
  backendName: 'emails',
  prefix: null,
  redis: { url: 'redis://127.0.0.1:6379' },
};

function problem(options: unknown): MetricsReaderError {
  try {
    createMetricsReader(options as Parameters<typeof createMetricsReader>[0]);
  } catch (error) {
    if (error instanceof MetricsReaderError) return error;
    throw error;
  }
  throw new Error('expected createMetricsReader to throw');
}

describe('createMetricsReader options', () => {
  it('names the field, the value found and what was expected', () => {
    const error = problem({ sources: [{ ...source, driver: 'resque' }], windowMs: -5 });
    expect(error.code).toBe('INVALID_OPTIONS');
    expect(error.message).toContain(
      'sources[0].driver: expected one of laravel, bullmq, sidekiq, rq, celery, got "resque"',
    );
    expect(error.message).toContain('windowMs: expected a window in milliseconds above 0, got -5');
  });

  it('refuses an unknown option and a URL that is not Redis, without echoing credentials', () => {
    expect(problem({ sources: [], tickMs: 5 }).message).toContain('tickMs');
    const error = problem({ sources: [{ ...source, redis: { url: 'http://user:hunter2@host' } }] });
    expect(error.message).toContain(
      'sources[0].redis.url: expected a redis://, rediss://, redis+unix:///path/to/socket or unix:///path/to/socket URL',
    );
    expect(error.message).not.toContain('hunter2');
  });

  it('takes Unix socket URLs and refuses a socket URL with a host, or with TLS', () => {
    const reader = createMetricsReader({
      sources: [
        { ...source, redis: { url: 'redis+unix:///run/redis/redis.sock?db=2' } },
        { ...source, queue: 'b', redis: { url: 'unix:///run/redis/redis.sock' } },
      ],
    });
    void reader.close();
    expect(
      problem({ sources: [{ ...source, redis: { url: 'redis+unix://host/run/r.sock' } }] }).message,
    ).toContain('sources[0].redis.url: expected a redis://, rediss://, redis+unix:///path');
    expect(
      problem({
        sources: [{ ...source, redis: { url: 'unix:///r.sock', tls: { caFile: '/ca.pem' } } }],
      }).message,
    ).toContain('sources[0].redis.tls: TLS is not used over a Unix socket');
  });

  it('wants a client certificate together with its key', () => {
    expect(
      problem({
        sources: [{ ...source, redis: { url: 'rediss://h:6380', tls: { certFile: '/c.pem' } } }],
      }).message,
    ).toContain('sources[0].redis.tls: expected certFile and keyFile together');
  });

  it('wants either a URL or a sentinel block, never both, and never prints the Sentinel password', () => {
    const sentinel = {
      masterName: 'mymaster',
      sentinels: [{ host: '10.0.0.1', port: 26379 }],
      password: 'sentinel-hunter2',
    };
    expect(
      problem({ sources: [{ ...source, redis: { url: 'redis://h', sentinel } }] }).message,
    ).toContain('sources[0].redis.url: set either url or sentinel, not both');
    expect(problem({ sources: [{ ...source, redis: {} }] }).message).toContain(
      'sources[0].redis.url: expected a redis://',
    );
    const bad = problem({
      sources: [{ ...source, redis: { sentinel: { ...sentinel, sentinels: [] } } }],
    });
    expect(bad.message).toContain('sources[0].redis.sentinel.sentinels: expected at least one');
    const wrongType = problem({
      sources: [{ ...source, redis: { sentinel: { ...sentinel, password: 42 } } }],
    });
    expect(wrongType.message).toContain('sources[0].redis.sentinel.password: expected a password');
    expect(wrongType.message).not.toContain('42');
  });

  it('refuses, naming the queue, a queue whose keys cannot share a slot on a cluster', () => {
    const cluster = { url: 'redis://10.0.0.1:7000', cluster: true };
    expect(problem({ sources: [{ ...source, prefix: 'bull', redis: cluster }] }).message).toContain(
      'sources[0] (queue "emails"): BullMQ\'s keys of queue "emails" (bull:emails:wait, bull:emails:active',
    );
    expect(
      problem({
        sources: [{ ...source, driver: 'laravel', backendName: 'default', redis: cluster }],
      }).message,
    ).toContain('give the queue a hash tag, e.g. "{default}"');
    expect(
      problem({ sources: [{ ...source, driver: 'sidekiq', redis: cluster }] }).message,
    ).toContain('sources[0] (queue "emails"): Sidekiq is not supported on Redis Cluster');
    expect(
      problem({ sources: [{ ...source, prefix: '{bull}', redis: { ...cluster, db: 2 } }] }).message,
    ).toContain('sources[0].redis.db: Redis Cluster has database 0 only');
    const tagged = createMetricsReader({
      sources: [
        { ...source, prefix: '{bull}', redis: cluster },
        { ...source, queue: 'l', driver: 'laravel', backendName: '{default}', redis: cluster },
      ],
    });
    void tagged.close();
  });

  it('refuses two sources reading the same backend queue, and duplicate names', () => {
    expect(problem({ sources: [source, { ...source, queue: 'copy' }] }).message).toContain(
      'queues "emails" and "copy" read the same bullmq queue "emails"',
    );
    expect(problem({ sources: [source, { ...source, backendName: 'other' }] }).message).toContain(
      'two queues named "emails"',
    );
  });

  it('does no I/O until asked: creating and closing a reader on an unreachable Redis is instant and quiet', async () => {
    const reader = createMetricsReader({
      sources: [{ ...source, redis: { url: 'redis://127.0.0.1:1' } }],
    });
    await reader.close();
    await expect(reader.snapshot()).rejects.toMatchObject({ code: 'CLOSED' });
    expect(reader.stats()).toMatchObject({ snapshots: 0, roundTrips: 0, last: null });
  });

  it('documents its defaults in one object', () => {
    expect(DEFAULTS.prefixes).toEqual({
      laravel: 'laravel_database_',
      bullmq: 'bull',
      sidekiq: '',
      rq: '',
      celery: '',
    });
    expect(DEFAULTS.discoveryIntervalMs).toBe(60_000);
  });
});
