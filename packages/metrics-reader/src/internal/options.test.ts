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
