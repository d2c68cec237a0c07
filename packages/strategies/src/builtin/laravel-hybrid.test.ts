import { context } from '@qscale/testkit';
import { describe, expect, it } from 'vitest';
import { createStrategy } from '../create.js';

// The anchor's HybridStrategy vectors (reference §3 #38-#40): spawn latency 0, no pickup
// samples, SLA 30 s. Throughput is given per minute in the anchor; here as completions/s.

const hybrid = () => createStrategy('laravel-hybrid');

describe('laravel-hybrid conformance (#38)', () => {
  it("120/min with no job time observed: Little's Law with the 2 s fallback = 4", () => {
    const result = hybrid().recommend(
      context({
        bounds: { min: 1, max: 10 },
        queue: { completionRate: 2 },
        workers: { running: 6 },
      }),
    );
    expect(result.workers).toBe(4);
  });
  it('88/min, one job 1 s old: ceil(1.4667 x 2) = 3', () => {
    const result = hybrid().recommend(
      context({
        bounds: { min: 0, max: 100 },
        queue: { completionRate: 88 / 60, pending: 1, oldestPendingAgeMs: 1_000 },
      }),
    );
    expect(result.workers).toBe(3);
  });
  it('a saturated pool (>= 90 % busy) gets one more worker than it has', () => {
    const result = hybrid().recommend(
      context({
        bounds: { min: 0, max: 10 },
        queue: { completionRate: 1, serviceTimeMs: { mean: 500, p95: 900 }, pending: 1, active: 5 },
        workers: { running: 5 },
      }),
    );
    expect(result.workers).toBe(6);
    expect(result.reason).toMatch(/saturation boost/);
  });
  it('the boost starts at exactly 90 % busy, not below', () => {
    const busy = (active: number) =>
      hybrid().recommend(
        context({
          bounds: { min: 0, max: 20 },
          queue: { completionRate: 1, serviceTimeMs: { mean: 500, p95: 900 }, active },
          workers: { running: 10 },
        }),
      );
    expect(busy(9).workers).toBe(11);
    expect(busy(9).reason).toMatch(/saturation boost \(90% utilized\)/);
    expect(busy(8).reason).not.toMatch(/saturation boost/);
    expect(busy(8).workers).toBeLessThan(10);
  });
  it('600/min of 3 s jobs: 30', () => {
    const result = hybrid().recommend(
      context({
        bounds: { min: 0, max: 50 },
        queue: { completionRate: 10, serviceTimeMs: { mean: 3_000, p95: 6_000 } },
      }),
    );
    expect(result.workers).toBe(30);
  });
});

describe('laravel-hybrid conformance (#39)', () => {
  it('an idle queue gets its minimum', () => {
    expect(hybrid().recommend(context({ bounds: { min: 0, max: 10 } })).workers).toBe(0);
    expect(hybrid().recommend(context({ bounds: { min: 1, max: 10 } })).workers).toBe(1);
  });
  it('a backlog near breach asks for 75.56 workers, clamped to the max of 10', () => {
    const result = hybrid().recommend(
      context({
        bounds: { min: 0, max: 10 },
        queue: { completionRate: 10, pending: 100, oldestPendingAgeMs: 25_000 },
        workers: { running: 2 },
      }),
    );
    expect(result.workers).toBe(10);
    expect(result.terms.backlogDrain).toBeCloseTo(75.56, 2);
    expect(result.reason).toContain('backlog=100');
    expect(result.reason).toContain('SLA breach');
  });
});

describe('laravel-hybrid: the pickup percentile needs min samples (§2.8)', () => {
  it('uses the p95 pickup only from 20 samples on, else the oldest age', () => {
    const at = (samples: number) =>
      hybrid().recommend(
        context({
          bounds: { min: 0, max: 100 },
          queue: {
            completionRate: 1,
            pending: 50,
            oldestPendingAgeMs: 1_000,
            pickupLatencyMs: { p50: 10_000, p95: 27_000, p99: 29_000, samples },
          },
        }),
      ).terms.slaSignalS;
    expect(at(19)).toBe(1);
    expect(at(20)).toBe(27);
  });
});

describe('laravel-hybrid conformance (#40): smoother', () => {
  it('a stable queue at 12 loses one worker when its backlog clears', () => {
    const strategy = hybrid();
    const tick = (i: number, pending: number) =>
      strategy.recommend(
        context({
          now: 1_000_000 + i * 5_000,
          bounds: { min: 0, max: 12 },
          queue: {
            completionRate: 24,
            pending,
            oldestPendingAgeMs: pending > 0 ? 27_000 : 0,
            serviceTimeMs: { mean: 280, p95: 500 },
          },
          workers: { running: 12 },
        }),
      );
    for (let i = 0; i < 5; i++) expect(tick(i, 100).workers).toBe(12);
    const after = tick(5, 0);
    expect(after.workers).toBeGreaterThanOrEqual(11);
    expect(after.reason).toContain('dampened');
  });
  it('keeps per-queue state: two instances do not share their smoother', () => {
    const a = hybrid();
    const b = hybrid();
    const at = (strategy: ReturnType<typeof hybrid>, i: number, pending: number) =>
      strategy.recommend(
        context({
          now: 1_000_000 + i * 5_000,
          bounds: { min: 0, max: 20 },
          queue: { completionRate: 2, pending, oldestPendingAgeMs: pending > 0 ? 27_000 : 0 },
        }),
      ).workers;
    for (let i = 0; i < 5; i++) expect(at(a, i, 100)).toBe(20);
    expect(at(a, 5, 0)).toBe(19); // stable throughput: at most one fewer
    expect(at(b, 5, 0)).toBe(4); // a fresh instance: Little's Law, no damping
  });
});
