import { describe, expect, it } from 'vitest';
import { predictedMiss } from './group-queueing.js';

// Checked against figures worked by hand from the textbook formulas (Erlang B recursion, then
// C = c B / (c - a (1 - B)); Cobham's non-preemptive priority decay c (1 - s_{k-1})(1 - s_k) / S),
// so a changed operator in either shows as a different number.
const exact = { waitMs: 0, percentile: 95, variability: 1 };
const oneSecond = { waitMs: 1_000, percentile: 95, variability: 1 };

describe('predictedMiss', () => {
  it('is Erlang C for one member: C(3, 2) = 4/9, times exp(-(c - a) t / S)', () => {
    const member = [{ arrivalRate: 2, serviceTimeMs: 1_000 }];
    const discipline = { kind: 'round-robin' } as const;
    expect(predictedMiss(discipline, member, 0, exact, 3)).toBeCloseTo(4 / 9, 6);
    expect(predictedMiss(discipline, member, 0, oneSecond, 3)).toBeCloseTo(
      (4 / 9) * Math.exp(-1),
      6,
    );
    // The Allen-Cunneen factor slows the decay: twice the variability, half the exponent.
    const variable = { ...oneSecond, variability: 2 };
    expect(predictedMiss(discipline, member, 0, variable, 3)).toBeCloseTo(
      (4 / 9) * Math.exp(-0.5),
      6,
    );
  });

  it('is 1 for a pool at or above saturation, 0 for a member with no load', () => {
    const discipline = { kind: 'round-robin' } as const;
    expect(predictedMiss(discipline, [{ arrivalRate: 3, serviceTimeMs: 1_000 }], 0, exact, 3)).toBe(
      1,
    );
    expect(predictedMiss(discipline, [{ arrivalRate: 0, serviceTimeMs: 1_000 }], 0, exact, 3)).toBe(
      0,
    );
    expect(predictedMiss(discipline, [{ arrivalRate: 1, serviceTimeMs: 1_000 }], 0, exact, 0)).toBe(
      1,
    );
  });

  it('priority: C(4, 2) = 4/23 for every class, decaying at c (1 - s_{k-1})(1 - s_k) / S', () => {
    const discipline = { kind: 'priority' } as const;
    // Loads 1 and 1 erlang; 3 jobs/s in all, so S = 2,000 / 3 ms.
    const members = [
      { arrivalRate: 1, serviceTimeMs: 1_000 },
      { arrivalRate: 2, serviceTimeMs: 500 },
    ];
    const waiting = 4 / 23;
    expect(predictedMiss(discipline, members, 0, exact, 4)).toBeCloseTo(waiting, 6);
    // Class 0: 4 x 1 x 0.75 / (2000 / 3) = 0.0045 per ms; class 1: 4 x 0.75 x 0.5 / ... = 0.00225.
    expect(predictedMiss(discipline, members, 0, oneSecond, 4)).toBeCloseTo(
      waiting * Math.exp(-4.5),
      8,
    );
    expect(predictedMiss(discipline, members, 1, oneSecond, 4)).toBeCloseTo(
      waiting * Math.exp(-2.25),
      8,
    );
  });
});
