import { describe, expect, it } from 'vitest';
import {
  AnchorArrivalEstimator,
  type AnchorForecast,
  AnchorTargetSmoother,
  anchorBacklogDrain,
  anchorConfidence,
  anchorFallbackArrivalRate,
  anchorLinearForecast,
  anchorLittlesLaw,
  anchorRetryCorrection,
} from './anchor.js';

// Conformance vectors of the PHP anchor (reference §3), numbered as there.

describe("anchor Little's Law (#1, #2)", () => {
  it('multiplies the rate by the job time', () => {
    expect(anchorLittlesLaw(10, 2)).toBe(20);
    expect(anchorLittlesLaw(0.5, 3)).toBe(1.5);
  });
  it('is 0 for any non-positive input', () => {
    for (const [rate, time] of [
      [0, 2],
      [10, 0],
      [-5, 2],
      [5, -2],
    ] as const) {
      expect(anchorLittlesLaw(rate, time)).toBe(0);
    }
  });
});

describe('anchor backlog drain (#3-#13)', () => {
  it('#3 at half the SLA the multiplier is 1', () => {
    expect(anchorBacklogDrain(100, 15, 30, 2, 0.5)).toBeCloseTo(100 / 7.5, 2);
  });
  it('#4 #5 grows with the share of the SLA used', () => {
    expect(anchorBacklogDrain(80, 60, 100, 5, 0.5)).toBeCloseTo(10.8, 1);
    expect(anchorBacklogDrain(100, 80, 100, 2, 0.5)).toBeCloseTo(17.2, 1);
    expect(anchorBacklogDrain(100, 90, 100, 2, 0.5)).toBeCloseTo(45.6, 1);
  });
  it('#6 at the SLA: base 50 x 3 = 150', () => {
    expect(anchorBacklogDrain(100, 30, 30, 2, 0.5)).toBe(150);
    expect(anchorBacklogDrain(100, 100, 100, 2, 0.5)).toBe(150);
  });
  it('#7 past the SLA', () => {
    expect(anchorBacklogDrain(100, 35, 30, 2, 0.5)).toBeCloseTo(227.7778, 3);
  });
  it('#8 the multiplier is capped at 5', () => {
    expect(anchorBacklogDrain(100, 45, 30, 2, 0.5)).toBe(250);
  });
  it('#9 an unknown age (0) drains within the full SLA', () => {
    expect(anchorBacklogDrain(50, 0, 30, 1, 0.8)).toBe(50 / 30);
  });
  it('#10 below the threshold, an empty backlog or no job time: 0', () => {
    expect(anchorBacklogDrain(100, 10, 30, 2, 0.5)).toBe(0);
    expect(anchorBacklogDrain(0, 10, 30, 2, 0.5)).toBe(0);
    expect(anchorBacklogDrain(100, 10, 30, 0, 0.5)).toBe(0);
    expect(anchorBacklogDrain(100, 10, 30, -1, 0.5)).toBe(0);
  });
  it('#11 more vectors', () => {
    expect(anchorBacklogDrain(20, 24, 30, 10, 0.5)).toBeCloseTo(34.4, 1);
    expect(anchorBacklogDrain(5, 24, 30, 2, 0.5)).toBeCloseTo(2.8667, 3);
    expect(anchorBacklogDrain(100, 50, 100, 2, 0.5)).toBe(4);
  });
  it('#12 the base divides by at least 0.1 s of job time', () => {
    expect(anchorBacklogDrain(100, 35, 30, 0.01, 0.5)).toBeCloseTo(4555.56, 1);
  });
  it('#13 uses the spawn-compensated SLA when given', () => {
    const compensated = anchorBacklogDrain(100, 15, 30, 1.5, 0.5, 28);
    expect(compensated).toBeCloseTo(11.656, 2);
    expect(compensated).toBeGreaterThan(anchorBacklogDrain(100, 15, 30, 1.5, 0.5));
  });
  it('thresholds below 0.5 act like 0.5 (defect §6.2 #16, kept for fidelity)', () => {
    expect(anchorBacklogDrain(100, 12, 30, 2, 0.3)).toBe(0);
  });
});

describe('anchor arrival-rate estimator (#14-#21)', () => {
  it('#14 #15 no history, then an interval that is too short', () => {
    const estimator = new AnchorArrivalEstimator();
    expect(estimator.estimate(100, 5, 1_000)).toEqual({
      rate: 5,
      confidence: 0.3,
      source: 'no_history',
    });
    expect(estimator.estimate(110, 5, 1_000.5)).toMatchObject({
      confidence: 0.3,
      source: 'interval_too_short',
    });
  });
  it('#16 growth of 50 over 10 s adds 5 jobs/s, confidence 0.78', () => {
    const estimator = new AnchorArrivalEstimator();
    estimator.estimate(100, 5, 0);
    const estimate = estimator.estimate(150, 5, 10);
    expect(estimate.rate).toBeCloseTo(10, 2);
    expect(estimate.confidence).toBeCloseTo(0.78, 5);
  });
  it('#17 growth, shrinkage (clamped at 0) and a flat backlog', () => {
    const cases: [number, number, number][] = [
      [200, 5, 15],
      [50, 5, 0],
      [0, 2, 0],
      [100, 5, 5],
    ];
    for (const [to, proc, expected] of cases) {
      const estimator = new AnchorArrivalEstimator();
      estimator.estimate(100, proc, 0);
      expect(estimator.estimate(to, proc, 10).rate).toBeCloseTo(expected, 2);
    }
  });
  it('#18 weights 2^i favour the newest pair', () => {
    const estimator = new AnchorArrivalEstimator();
    [100, 100, 100].forEach((backlog, i) => {
      estimator.estimate(backlog, 5, i * 5);
    });
    expect(estimator.estimate(600, 5, 15).rate).toBeCloseTo(62.1429, 3);
  });
  it('#19 steady growth and uneven intervals', () => {
    const steady = new AnchorArrivalEstimator();
    [100, 150, 200].forEach((backlog, i) => {
      steady.estimate(backlog, 5, i * 5);
    });
    expect(steady.estimate(250, 5, 15).rate).toBeCloseTo(15, 1);
    const uneven = new AnchorArrivalEstimator();
    uneven.estimate(100, 5, -15);
    uneven.estimate(110, 5, -5);
    expect(uneven.estimate(210, 5, 0).rate).toBeCloseTo(18.6667, 3);
  });
  it('#20 snapshots older than 300 s are pruned', () => {
    const estimator = new AnchorArrivalEstimator();
    estimator.estimate(100, 5, 0);
    expect(estimator.estimate(200, 5, 301)).toMatchObject({
      confidence: 0.3,
      source: 'no_history',
    });
  });
  it('#21 blends a forecast with enough R^2, ignores it otherwise', () => {
    const fake = (rSquared: number) => (): AnchorForecast => ({
      projected: 100,
      rSquared,
      slope: 1,
      hasSufficientData: true,
    });
    const moderate = { minRSquared: 0.6, weight: 0.5 };
    const blended = new AnchorArrivalEstimator({
      forecaster: fake(0.9),
      policy: moderate,
      horizonS: 60,
    });
    blended.estimate(10, 2, 0);
    expect(blended.estimate(12, 2, 1.5).rate).toBeCloseTo(0.5 * 100 + 0.5 * (2 + 2 / 1.5), 3);
    const ignored = new AnchorArrivalEstimator({
      forecaster: fake(0.1),
      policy: moderate,
      horizonS: 60,
    });
    ignored.estimate(10, 2, 0);
    expect(ignored.estimate(12, 2, 1.5).rate).toBeCloseTo(3.333, 3);
  });
  it('confidence follows the span, the pairs and the backlog change', () => {
    expect(anchorConfidence(10, 50, 1)).toBeCloseTo(0.78, 5);
    expect(anchorConfidence(100, 2, 29)).toBeCloseTo(0.3, 5);
    expect(anchorConfidence(100, 10, 29)).toBeCloseTo(0.5, 5);
  });
});

describe('anchor linear-regression forecaster (#22, #23)', () => {
  const series = (f: (t: number) => number, n = 10) =>
    Array.from({ length: n }, (_, t) => ({ t, rate: f(t) }));
  it('#22 a perfect line', () => {
    const result = anchorLinearForecast(
      series((t) => 10 + t),
      60,
    );
    expect(result.slope).toBeCloseTo(1, 3);
    expect(result.rSquared).toBeGreaterThan(0.999);
    expect(result.projected).toBeCloseTo(79, 1);
  });
  it('#23 flat, falling, noisy and too short', () => {
    const flat = anchorLinearForecast(
      series(() => 5),
      60,
    );
    expect(flat).toMatchObject({ rSquared: 1, projected: 5 });
    const falling = anchorLinearForecast(
      series((t) => 100 - t),
      60,
    );
    expect(falling.slope).toBeCloseTo(-1, 6);
    expect(falling.projected).toBeCloseTo(31, 6);
    const noisy = [5, 15, 3, 18, 2, 20, 4, 17].map((rate, t) => ({ t, rate }));
    expect(anchorLinearForecast(noisy, 60).rSquared).toBeCloseTo(0.0595, 3);
    expect(
      anchorLinearForecast(
        series(() => 1, 2),
        60,
      ).hasSufficientData,
    ).toBe(false);
  });
});

describe('anchor target smoother (#26-#28)', () => {
  it('#26 stable throughput: scale-down one worker per call', () => {
    const smoother = new AnchorTargetSmoother();
    for (let i = 0; i < 5; i++) smoother.smooth(12, 1_440);
    const sequence = Array.from({ length: 5 }, () => smoother.smooth(8, 1_440).target);
    expect(sequence).toEqual([11, 10, 9, 8, 8]);
  });
  it('#27 volatile throughput (CV 0.33): no damping', () => {
    const smoother = new AnchorTargetSmoother();
    for (const throughput of [800, 1_600, 800, 1_600, 800]) smoother.smooth(12, throughput);
    expect(smoother.smooth(6, 1_600)).toEqual({ target: 6, dampened: false });
  });
  it('#28 too few samples, or a drop of exactly one', () => {
    const young = new AnchorTargetSmoother();
    young.smooth(12, 1_440);
    expect(young.smooth(8, 1_440).target).toBe(8);
    const settled = new AnchorTargetSmoother();
    for (let i = 0; i < 5; i++) settled.smooth(10, 600);
    expect(settled.smooth(9, 600)).toEqual({ target: 9, dampened: false });
  });
});

describe('anchor fallback arrival rate and retry correction (§2.6, §2.7)', () => {
  it('estimates from the backlog only when it holds 3 jobs or more', () => {
    expect(anchorFallbackArrivalRate(2, 10, 1, 30)).toBe(0);
    expect(anchorFallbackArrivalRate(30, 0, 1, 30)).toBe(1);
    expect(anchorFallbackArrivalRate(30, 15, 1, 30)).toBe(1);
    expect(anchorFallbackArrivalRate(30, 60, 1, 30)).toBe(2);
  });
  it('removes retry noise above 5 % failures, at most 30 % of the rate', () => {
    expect(anchorRetryCorrection(10, 10, 5)).toBe(10);
    expect(anchorRetryCorrection(10, 1, 25)).toBeCloseTo(9.5, 6);
    expect(anchorRetryCorrection(10, 10, 100)).toBeCloseTo(7, 6);
  });
});
