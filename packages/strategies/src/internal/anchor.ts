// A faithful port of the calculators of the PHP anchor, cboxdk/laravel-queue-autoscale v3
// (HybridStrategy and its helpers). The anchor works in SECONDS and jobs per second; so does
// this file. Formulas and constants: shared/reference/anchor-laravel-queue-autoscale.md §2.

/** §2.3 Little's Law: workers = lambda (jobs/s) x W (s); 0 for a non-positive input. */
export function anchorLittlesLaw(arrivalRate: number, jobTimeS: number): number {
  return arrivalRate <= 0 || jobTimeS <= 0 ? 0 : arrivalRate * jobTimeS;
}

/**
 * §2.9 Backlog drain (BacklogDrainCalculator::calculateRequiredWorkers): fractional workers
 * to drain `backlog` jobs whose oldest is `ageS` seconds old (an integer in the anchor), against
 * an SLA of `slaS` seconds (or `effectiveSlaS` after spawn compensation), with `jobTimeS` per job.
 * Nothing below `threshold` of the SLA; a multiplier 1 + 8 (p - 0.5)^2, capped at 5, above it.
 */
export function anchorBacklogDrain(
  backlog: number,
  ageS: number,
  slaS: number,
  jobTimeS: number,
  threshold: number,
  effectiveSlaS?: number,
): number {
  if (backlog === 0 || jobTimeS <= 0) return 0;
  const sla = effectiveSlaS ?? slaS;
  if (ageS === 0 && backlog > 0) return backlog / Math.max(sla / jobTimeS, 1);
  const progress = Math.min(ageS / sla, 1.5);
  if (progress < threshold) return 0;
  const left = sla - ageS;
  const base =
    left > 0 ? backlog / Math.max(left / jobTimeS, 1) : backlog / Math.max(jobTimeS, 0.1);
  const multiplier = progress < 0.5 ? 0 : Math.min(1 + 8 * (progress - 0.5) ** 2, 5);
  return base * multiplier;
}

/** §2.6 Fallback arrival rate, used only when the chosen arrival rate is exactly 0. */
export function anchorFallbackArrivalRate(
  backlog: number,
  ageS: number,
  jobTimeS: number,
  slaS: number,
): number {
  if (backlog < 3) return 0;
  if (slaS > 0) {
    if (ageS > 0) {
      const urgency = Math.min(ageS / Math.max(slaS * 0.5, 1), 2);
      return (backlog / Math.max(slaS, 1)) * urgency;
    }
    return backlog / Math.max(slaS, 1);
  }
  if (jobTimeS > 0) return backlog / 60;
  return 0;
}

/** §2.7 Retry-noise correction: lifetime failure rate in percent (0-100). */
export function anchorRetryCorrection(
  arrivalRate: number,
  processingRate: number,
  failureRatePercent: number,
): number {
  if (failureRatePercent > 5 && processingRate > 0) {
    const noise = Math.min(processingRate * Math.sqrt(failureRatePercent / 100), 0.3 * arrivalRate);
    return Math.max(0, arrivalRate - noise);
  }
  return arrivalRate;
}

export interface AnchorForecast {
  /** Projected rate at latest + horizon, jobs/s. */
  projected: number;
  rSquared: number;
  slope: number;
  hasSufficientData: boolean;
}

/** §2.5 LinearRegressionForecaster::forecast: OLS of rate (jobs/s) on time (s). */
export function anchorLinearForecast(
  history: readonly { t: number; rate: number }[],
  horizonS: number,
): AnchorForecast {
  const n = history.length;
  if (n < 5) return { projected: 0, rSquared: 0, slope: 0, hasSufficientData: false };
  let sumX = 0;
  let sumY = 0;
  let sumXY = 0;
  let sumXX = 0;
  let latest = Number.NEGATIVE_INFINITY;
  for (const { t, rate } of history) {
    sumX += t;
    sumY += rate;
    sumXY += t * rate;
    sumXX += t * t;
    latest = Math.max(latest, t);
  }
  const meanX = sumX / n;
  const meanY = sumY / n;
  const denominator = sumXX - n * meanX * meanX;
  if (Math.abs(denominator) < 1e-12) {
    return { projected: meanY, rSquared: 1, slope: 0, hasSufficientData: true };
  }
  const slope = (sumXY - n * meanX * meanY) / denominator;
  const intercept = meanY - slope * meanX;
  let ssTot = 0;
  let ssRes = 0;
  for (const { t, rate } of history) {
    ssTot += (rate - meanY) ** 2;
    ssRes += (rate - (slope * t + intercept)) ** 2;
  }
  const rSquared = ssTot < 1e-12 ? 1 : Math.max(0, 1 - ssRes / ssTot);
  const projected = Math.max(0, slope * (latest + horizonS) + intercept);
  return { projected, rSquared, slope, hasSufficientData: true };
}

/** §1.1 #16a forecast policies: minimum R^2 and blend weight. */
export const ANCHOR_FORECAST_POLICIES = {
  aggressive: { minRSquared: 0.4, weight: 0.8 },
  moderate: { minRSquared: 0.6, weight: 0.5 },
  hint: { minRSquared: 0.8, weight: 0.3 },
  disabled: { minRSquared: 1.1, weight: 0 },
} as const;
export type AnchorForecastPolicy = keyof typeof ANCHOR_FORECAST_POLICIES;

export interface ArrivalEstimate {
  /** jobs/s */
  rate: number;
  confidence: number;
  source: 'no_history' | 'interval_too_short' | 'backlog_growth' | 'forecast_blend';
}

export type Forecaster = (
  history: readonly { t: number; rate: number }[],
  horizonS: number,
) => AnchorForecast;

/**
 * §2.4 ArrivalRateEstimator (v3): arrival = processing rate + weighted backlog growth over up
 * to 30 snapshots within 300 s, with the anchor's confidence score and optional forecast blend.
 * One instance per queue (the anchor shared it across queues: defect §6.2 #6, not repeated).
 */
export class AnchorArrivalEstimator {
  static readonly MAX_SNAPSHOTS = 30;
  static readonly MIN_INTERVAL_S = 1;
  static readonly MAX_HISTORY_AGE_S = 300;

  private snapshots: { backlog: number; t: number }[] = [];

  constructor(
    private readonly forecast: {
      forecaster: Forecaster;
      policy: { minRSquared: number; weight: number };
      horizonS: number;
    } | null = null,
  ) {}

  estimate(backlog: number, processingRate: number, nowS: number): ArrivalEstimate {
    this.snapshots.push({ backlog, t: nowS });
    const maxAge = AnchorArrivalEstimator.MAX_HISTORY_AGE_S;
    this.snapshots = this.snapshots
      .filter((snapshot) => nowS - snapshot.t <= maxAge)
      .slice(-AnchorArrivalEstimator.MAX_SNAPSHOTS);
    const snaps = this.snapshots;
    const first = snaps[0];
    if (snaps.length < 2 || first === undefined) {
      return { rate: processingRate, confidence: 0.3, source: 'no_history' };
    }
    const span = nowS - first.t;
    if (span < AnchorArrivalEstimator.MIN_INTERVAL_S) {
      return { rate: processingRate, confidence: 0.3, source: 'interval_too_short' };
    }
    let weighted = 0;
    let weights = 0;
    const pairs: { t: number; growth: number }[] = [];
    for (let i = 1; i < snaps.length; i++) {
      const previous = snaps[i - 1];
      const current = snaps[i];
      if (previous === undefined || current === undefined) continue;
      const dt = current.t - previous.t;
      if (dt < 0.001) continue;
      const growth = (current.backlog - previous.backlog) / dt;
      const weight = 2 ** i;
      weighted += growth * weight;
      weights += weight;
      pairs.push({ t: current.t, growth });
    }
    const growth = weights > 0 ? weighted / weights : 0;
    const observed = Math.max(0, processingRate + growth);
    const confidence = anchorConfidence(span, backlog - first.backlog, snaps.length - 1);
    if (this.forecast) {
      const history = pairs.map(({ t, growth: g }) => ({
        t,
        rate: Math.max(0, processingRate + g),
      }));
      const result = this.forecast.forecaster(history, this.forecast.horizonS);
      if (result.hasSufficientData && result.rSquared >= this.forecast.policy.minRSquared) {
        const w = this.forecast.policy.weight;
        const rate = Math.max(0, w * result.projected + (1 - w) * observed);
        return { rate, confidence, source: 'forecast_blend' };
      }
    }
    return { rate: observed, confidence, source: 'backlog_growth' };
  }
}

/** §2.4 confidence(T, delta, pairs). */
export function anchorConfidence(spanS: number, backlogDelta: number, pairs: number): number {
  let base = spanS >= 5 && spanS <= 30 ? 0.9 : spanS >= 2 && spanS <= 60 ? 0.7 : 0.5;
  base *= 0.8 + 0.2 * Math.min(pairs / 3, 1);
  const delta = Math.abs(backlogDelta);
  if (delta < 3) return base * 0.6;
  return base * (0.7 + 0.3 * Math.min(delta / 10, 1));
}

/**
 * §2.11 TargetSmoother: when throughput is stable (coefficient of variation < 5 % over the
 * last <= 10 samples, at least 3), a scale-down loses at most one worker per call.
 * Scale-up is never limited. One instance per queue.
 */
export class AnchorTargetSmoother {
  static readonly HISTORY = 10;
  static readonly STABLE_CV = 0.05;
  static readonly MIN_SAMPLES = 3;

  private readonly throughput: number[] = [];
  private last: number | null = null;

  /** Returns the smoothed target and whether the smoother changed it. */
  smooth(raw: number, throughputPerMinute: number): { target: number; dampened: boolean } {
    this.throughput.push(throughputPerMinute);
    if (this.throughput.length > AnchorTargetSmoother.HISTORY) this.throughput.shift();
    const previous = this.last;
    if (previous === null || raw >= previous) {
      this.last = raw;
      return { target: raw, dampened: false };
    }
    const cv = this.coefficientOfVariation();
    const target =
      cv !== null && cv < AnchorTargetSmoother.STABLE_CV ? Math.max(raw, previous - 1) : raw;
    this.last = target;
    return { target, dampened: target !== raw };
  }

  private coefficientOfVariation(): number | null {
    const n = this.throughput.length;
    if (n < AnchorTargetSmoother.MIN_SAMPLES) return null;
    const mean = this.throughput.reduce((sum, value) => sum + value, 0) / n;
    if (!(mean > 0)) return null;
    const variance = this.throughput.reduce((sum, value) => sum + (value - mean) ** 2, 0) / n;
    return Math.sqrt(variance) / mean;
  }
}
