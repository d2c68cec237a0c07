import { describe, expect, it } from 'vitest';
import type { FoundQueue } from './discover.js';
import { configNames } from './plan.js';
import { parseRedisTarget } from './redis-url.js';
import { quote } from './render.js';
import { formatMs, friendly, suggestBounds, suggestSlo } from './suggest.js';

describe('suggestSlo', () => {
  it('is ten times the run time, rounded up to a friendly value', () => {
    expect(suggestSlo(1_200, 4_000, 30_000).pickupMs).toBe(15_000);
    expect(suggestSlo(4_000, 4_000, 30_000).pickupMs).toBe(60_000);
    expect(suggestSlo(200_000, 4_000, 30_000).pickupMs).toBe(3_600_000);
    expect(suggestSlo(900_000, 4_000, 30_000).pickupMs).toBe(3 * 3_600_000);
  });

  it('never goes below what the tick and a worker start can honour, and says so', () => {
    const slo = suggestSlo(50, 4_000, 30_000);
    expect(slo.pickupMs).toBe(5_000);
    expect(slo.why).toContain('raised to 5s');
  });

  it('falls back to the default without a run time', () => {
    expect(suggestSlo(null, 4_000, 30_000)).toEqual({
      pickupMs: 30_000,
      why: "no run time measured: qscale's default 30s",
    });
  });
});

describe('suggestBounds', () => {
  it('sizes max at twice the load (arrivals x run time), within 2 and 4 per CPU', () => {
    expect(suggestBounds(10, 500, 4)).toMatchObject({ min: 1, max: 10, loadWorkers: 5 });
    expect(suggestBounds(0.1, 100, 4)).toMatchObject({ min: 1, max: 2 });
    expect(suggestBounds(100, 1_000, 2)).toMatchObject({ min: 1, max: 8, loadWorkers: 100 });
  });

  it('lets an idle queue scale to zero and uses one worker per CPU when the load is unknown', () => {
    expect(suggestBounds(0, 500, 4)).toMatchObject({ min: 0, max: 2 });
    expect(suggestBounds(null, null, 6)).toMatchObject({ min: 0, max: 6, loadWorkers: null });
    expect(suggestBounds(3, null, 0.5)).toMatchObject({ min: 1, max: 2 });
  });
});

describe('formatting', () => {
  it('writes durations in the configuration units', () => {
    expect([250, 1_500, 5_000, 120_000, 3_600_000].map(formatMs)).toEqual([
      '250ms',
      '1.5s',
      '5s',
      '2m',
      '1h',
    ]);
    expect(friendly(31_000)).toBe(60_000);
  });

  it('quotes strings for YAML and doubles $ so ${NAME} is not read as a variable', () => {
    expect(quote('a"b')).toBe('"a\\"b"');
    expect(quote('${HOME}')).toBe('"$${HOME}"');
  });
});

describe('configNames', () => {
  const queue = (driver: FoundQueue['driver'], prefix: string, name: string): FoundQueue => ({
    driver,
    prefix,
    name,
    evidence: '',
    horizonPrefix: null,
  });

  it('keeps names unique and valid: driver first where two systems share one', () => {
    expect(
      configNames([
        queue('laravel', 'laravel_database_', 'default'),
        queue('sidekiq', '', 'default'),
        queue('bullmq', 'bull', 'emails'),
        queue('bullmq', 'other', 'emails'),
        queue('laravel', 'x_', '{high}'),
        queue('celery', '', '!!!'),
      ]),
    ).toEqual([
      'laravel-default',
      'sidekiq-default',
      'bullmq-emails',
      'bullmq-emails-2',
      'high',
      'celery',
    ]);
  });
});

describe('parseRedisTarget', () => {
  it('keeps the password out of everything it shows or writes', () => {
    const target = parseRedisTarget('redis://app:s3cret@10.0.0.5:6380/2');
    expect(target).toEqual({
      connectUrl: 'redis://app:s3cret@10.0.0.5:6380/2',
      safeUrl: 'redis://app@10.0.0.5:6380/2',
      hasPassword: true,
      address: '10.0.0.5:6380 (db 2)',
    });
  });

  it('refuses what is not a Redis URL', () => {
    expect(() => parseRedisTarget('http://localhost')).toThrow(/redis:\/\/ or rediss:\/\//);
    expect(() => parseRedisTarget('localhost:6379')).toThrow(/--redis expects a/);
  });
});
