/**
 * The harness itself: it must fail a reader that reads the wrong thing (here, a BullMQ queue
 * nobody uses, next to the real one the worker runs), list a declared-unknown figure as
 * unknown with its reason, and draw the same arrivals from the same seed.
 */
import { describe, expect, it } from 'vitest';
import { bullmq6 } from './bullmq.js';
import { poissonOffsets, type RealSystem, runAccuracy } from './harness.js';

describe('accuracy harness', () => {
  it('draws Poisson arrivals from the seed: same seed, same offsets; mean gap 1/rate', () => {
    expect(poissonOffsets(3, 60_000, 5)).toEqual(poissonOffsets(3, 60_000, 5));
    expect(poissonOffsets(3, 60_000, 5)).not.toEqual(poissonOffsets(3, 60_000, 6));
    const long = poissonOffsets(3, 2_000_000, 1);
    expect(long.length).toBeGreaterThan(6_000 * 0.95);
    expect(long.length).toBeLessThan(6_000 * 1.05);
    expect(long.every((offset, i) => i === 0 || offset >= (long[i - 1] as number))).toBe(true);
  });

  it('fails a reader of the wrong queue and lists declared unknowns with their reason', async () => {
    const wrong: RealSystem = {
      ...bullmq6,
      name: 'bullmq-6-wrong-queue',
      source: (ctx) => ({ ...bullmq6.source(ctx), backendName: 'nobody-uses-this' }),
      unknown: { pickupP50: 'declared for the test', pickupP95: 'declared for the test' },
    };
    const result = await runAccuracy(wrong, {
      rate: 3,
      serviceMs: 200,
      durationMs: 16_000,
      settleMs: 8_000,
      seed: 3,
    });
    expect(result.jobs).toBeGreaterThan(20);
    const problems = result.problems.join('\n');
    expect(problems).toMatch(/tick \d+: pending read 0, truth during the read [1-9]/);
    expect(problems).toMatch(/tick \d+: arrivalRate 0\/s, truth \d+\.\d+\/s \(-100\.0 %\)/);
    expect(problems).toMatch(/tick \d+: completionRate 0\/s/);
    expect(problems).toMatch(/serviceTimeMean is null and the system declares no reason/);
    expect(problems).not.toMatch(/pickupP50|pickupP95/);
    expect(result.figures.pickupP50).toMatchObject({
      status: 'unknown',
      reason: 'declared for the test',
    });
    expect(result.figures.arrivalRate.status).toBe('fail');
  }, 120_000);
});
