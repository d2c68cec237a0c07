import { describe, expect, it } from 'vitest';
import { erlangC, littlesLawSlots, serviceVariability, slotsForPercentile } from './queueing.js';

/** Erlang C from its textbook definition, by direct summation (independent of the recursion). */
function erlangCDirect(c: number, a: number): number {
  let sum = 0;
  let term = 1;
  for (let k = 0; k < c; k++) {
    if (k > 0) term *= a / k;
    sum += term;
  }
  const top = term * (a / c) * (c / (c - a));
  return top / (sum + top);
}

const base = { serviceTimeMs: 1_000, variability: 1, maxServers: 1_000 };

describe("Little's Law", () => {
  it('busy slots = jobs/s x seconds per job', () => {
    expect(littlesLawSlots(10, 2_000)).toBe(20);
    expect(littlesLawSlots(0, 2_000)).toBe(0);
    expect(littlesLawSlots(5, 0)).toBe(0);
  });
});

describe('Erlang C', () => {
  it('two servers at half load: a job waits with probability 1/3', () => {
    expect(erlangC(2, 1)).toBeCloseTo(1 / 3, 12);
  });
  it('agrees with the textbook sum over a range of loads', () => {
    for (const [c, a] of [
      [1, 0.5],
      [5, 4],
      [12, 10],
      [30, 27.5],
      [80, 60],
    ] as const) {
      expect(erlangC(c, a)).toBeCloseTo(erlangCDirect(c, a), 9);
    }
  });
  it('is 1 when the servers cannot keep up and 0 without load', () => {
    expect(erlangC(5, 5)).toBe(1);
    expect(erlangC(3, 0)).toBe(0);
  });
});

describe('slots for a percentile SLO', () => {
  const tail = (c: number, sizing: { arrivalRate: number; waitMs: number }) => {
    const a = (sizing.arrivalRate * base.serviceTimeMs) / 1_000;
    return erlangC(c, a) * Math.exp(-((c - a) * sizing.waitMs) / base.serviceTimeMs);
  };
  it('returns the smallest count that meets the target', () => {
    for (const sizing of [
      { arrivalRate: 20, waitMs: 500, percentile: 95 },
      { arrivalRate: 20, waitMs: 100, percentile: 99 },
      { arrivalRate: 3, waitMs: 2_000, percentile: 90 },
    ]) {
      const c = slotsForPercentile({ ...base, ...sizing });
      const allowed = 1 - sizing.percentile / 100;
      expect(tail(c, sizing)).toBeLessThanOrEqual(allowed);
      if (c - 1 > (sizing.arrivalRate * base.serviceTimeMs) / 1_000) {
        expect(tail(c - 1, sizing)).toBeGreaterThan(allowed);
      }
    }
  });
  it("never goes below Little's Law, even with a generous SLO", () => {
    expect(
      slotsForPercentile({ ...base, arrivalRate: 20, waitMs: 3_600_000, percentile: 50 }),
    ).toBe(21);
    expect(
      slotsForPercentile({ ...base, arrivalRate: 19.5, waitMs: 3_600_000, percentile: 50 }),
    ).toBe(20);
  });
  it('needs more slots for a stricter percentile, a tighter SLO or more variable service', () => {
    const at = (over: Partial<Parameters<typeof slotsForPercentile>[0]>) =>
      slotsForPercentile({ ...base, arrivalRate: 50, waitMs: 200, percentile: 95, ...over });
    expect(at({ percentile: 99 })).toBeGreaterThan(at({ percentile: 80 }));
    expect(at({ waitMs: 20 })).toBeGreaterThan(at({ waitMs: 2_000 }));
    expect(at({ variability: 4 })).toBeGreaterThan(at({ variability: 0.5 }));
  });
  it('is 0 without arrivals and stops at the maximum', () => {
    expect(slotsForPercentile({ ...base, arrivalRate: 0, waitMs: 100, percentile: 95 })).toBe(0);
    expect(
      slotsForPercentile({
        ...base,
        arrivalRate: 500,
        waitMs: 100,
        percentile: 95,
        maxServers: 40,
      }),
    ).toBe(40);
  });
});

describe('service-time variability from mean and p95', () => {
  it('is 0 for constant service times and grows with the tail', () => {
    expect(serviceVariability(1_000, 1_000)).toBe(0);
    const exponentialLike = serviceVariability(1_000, 3_000);
    const heavy = serviceVariability(1_000, 6_000);
    expect(exponentialLike).toBeGreaterThan(0.5);
    expect(heavy).toBeGreaterThan(exponentialLike);
  });
  it('matches a lognormal whose sigma is known', () => {
    const sigma = 0.8;
    const mu = 0;
    const mean = Math.exp(mu + (sigma * sigma) / 2);
    const p95 = Math.exp(mu + 1.6448536 * sigma);
    expect(serviceVariability(mean, p95)).toBeCloseTo(Math.exp(sigma * sigma) - 1, 5);
  });
});
