import { describe, expect, it } from 'vitest';
import { estimateArrivalLevel, type RateSample } from './arrivals.js';

const options = { shiftZ: 4, trendZ: 3 };
const NOW = 1_000_000;

/** One sample per `tickMs` over the last `count` ticks, rate given by `rate(ageMs)`. */
function samples(count: number, tickMs: number, rate: (ageMs: number) => number): RateSample[] {
  return Array.from({ length: count }, (_, i) => {
    const atMs = NOW - (count - 1 - i) * tickMs;
    return { atMs, rate: rate(NOW - atMs), spanMs: tickMs };
  });
}

describe('arrival level', () => {
  it('averages the whole window when nothing changed', () => {
    const level = estimateArrivalLevel(
      samples(60, 2_000, (age) => 10 + ((age / 2_000) % 2 === 0 ? 1 : -1)),
      NOW,
      options,
    );
    expect(level.rate).toBeCloseTo(10, 0);
    expect(level.shiftAtMs).toBeNull();
    expect(level.slope).toBe(0);
    expect(level.observedS).toBe(120);
  });

  it('follows a step up at once, from the samples after the step', () => {
    const level = estimateArrivalLevel(
      samples(60, 2_000, (age) => (age < 10_000 ? 50 : 10)),
      NOW,
      options,
    );
    expect(level.rate).toBeCloseTo(50, 6);
    expect(level.observedS).toBe(10);
    expect(level.shiftAtMs).toBe(NOW - 10_000);
  });

  it('keeps following a step long after it happened', () => {
    const level = estimateArrivalLevel(
      samples(60, 2_000, (age) => (age < 80_000 ? 20 : 10)),
      NOW,
      options,
    );
    expect(level.rate).toBeCloseTo(20, 6);
  });

  it('sees a single spiked tick', () => {
    const level = estimateArrivalLevel(
      samples(30, 5_000, (age) => (age === 0 ? 60 : 5)),
      NOW,
      options,
    );
    expect(level.rate).toBe(60);
  });

  it('takes one busier tick for noise unless it is twice as significant as a shift', () => {
    // 10 jobs/s for 145 s, then one 5 s tick at 17 (z about 4.8, under 2 x shiftZ): noise.
    const bump = estimateArrivalLevel(
      samples(30, 5_000, (age) => (age === 0 ? 17 : 10)),
      NOW,
      options,
    );
    expect(bump.shiftAtMs).toBeNull();
    expect(bump.rate).toBeLessThan(11);
    // Two such ticks are a shift (z about 9.4 over 10 s, above shiftZ).
    const step = estimateArrivalLevel(
      samples(30, 5_000, (age) => (age <= 5_000 ? 20 : 10)),
      NOW,
      options,
    );
    expect(step.shiftAtMs).toBe(NOW - 10_000);
    expect(step.rate).toBeCloseTo(20, 6);
  });

  it('projects a ramp to now instead of lagging at its mean', () => {
    // 0.1 jobs/s more every second: the mean of the last 2 minutes lags by about 6 jobs/s.
    const level = estimateArrivalLevel(
      samples(60, 2_000, (age) => 30 - (0.1 * age) / 1_000),
      NOW,
      options,
    );
    expect(level.slope).toBeCloseTo(0.1, 2);
    expect(level.rate).toBeGreaterThan(29);
    expect(level.rate).toBeLessThan(31);
  });

  it('is 0 without samples', () => {
    expect(estimateArrivalLevel([], NOW, options)).toMatchObject({ rate: 0, observedS: 0 });
  });
});
