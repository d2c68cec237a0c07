import type { QueueSnapshot } from '@qscale/contracts';

/** One observed rate: jobs per second over the `spanMs` that ended at `atMs`. */
export interface RateSample {
  atMs: number;
  rate: number;
  spanMs: number;
}

/**
 * Rate samples from snapshots, oldest first. Each snapshot's rate is taken to cover the time
 * since the snapshot before it (the first one: `firstSpanMs`). Null rates are skipped.
 */
export function rateSamples(
  snapshots: readonly QueueSnapshot[],
  firstSpanMs: number,
  pick: (snapshot: QueueSnapshot) => number | null,
): RateSample[] {
  const samples: RateSample[] = [];
  let previousAt: number | null = null;
  for (const snapshot of snapshots) {
    const spanMs = previousAt === null ? firstSpanMs : snapshot.at - previousAt;
    previousAt = snapshot.at;
    const rate = pick(snapshot);
    if (rate === null || !(spanMs > 0)) continue;
    samples.push({ atMs: snapshot.at, rate, spanMs });
  }
  return samples;
}

export interface ArrivalLevel {
  /** Estimated arrival rate now, jobs/s. */
  rate: number;
  /** Seconds of observation behind `rate` (for its standard error sqrt(rate / seconds)). */
  observedS: number;
  /** Trend in jobs/s per second; 0 unless significant. */
  slope: number;
  /** When the detected level shift happened (start of the segment used); null if none. */
  shiftAtMs: number | null;
}

export interface ArrivalOptions {
  /** z-score for a level shift between two segments (Poisson two-sample test). */
  shiftZ: number;
  /** z-score for a trend slope (Poisson-weighted least squares). */
  trendZ: number;
}

/**
 * The arrival rate now, from rate samples. Two models of the window compete:
 * - a level shift: the split whose two segments differ most by the Poisson two-sample
 *   statistic z = (r_after - r_before) / sqrt(r_pooled (1/T_after + 1/T_before)), kept when
 *   |z| > shiftZ (2 x shiftZ when only the last sample is after it); only the samples after it
 *   describe the present;
 * - a trend: rate = a + b t by least squares weighted by each sample's seconds (the inverse of
 *   its Poisson variance), kept when |b| / se(b) >= trendZ with se(b) = sqrt(r / sum(w (t - t_mean)^2)).
 * When both are kept, the one with the smaller weighted squared residual wins. A shift's
 * segment may itself carry a trend. The level is the fit at `nowMs`; without either model, the
 * mean of the window.
 */
export function estimateArrivalLevel(
  samples: readonly RateSample[],
  nowMs: number,
  options: ArrivalOptions,
): ArrivalLevel {
  const n = samples.length;
  if (n === 0) return { rate: 0, observedS: 0, slope: 0, shiftAtMs: null };
  const counts = new Float64Array(n + 1);
  const seconds = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) {
    const sample = samples[i] as RateSample;
    const spanS = sample.spanMs / 1_000;
    counts[i + 1] = (counts[i] as number) + sample.rate * spanS;
    seconds[i + 1] = (seconds[i] as number) + spanS;
  }
  const totalCount = counts[n] as number;
  const totalSeconds = seconds[n] as number;
  const mean = totalSeconds > 0 ? totalCount / totalSeconds : 0;
  const pooled = mean;
  let split = 0;
  let best = options.shiftZ;
  for (let at = 1; at < n && pooled > 0; at++) {
    const beforeS = seconds[at] as number;
    const afterS = totalSeconds - beforeS;
    const beforeRate = (counts[at] as number) / beforeS;
    const afterRate = (totalCount - (counts[at] as number)) / afterS;
    const z = Math.abs(afterRate - beforeRate) / Math.sqrt(pooled * (1 / afterS + 1 / beforeS));
    // A single sample after the split must stand out twice as much.
    if (at === n - 1 && z <= 2 * options.shiftZ) continue;
    if (z > best) {
      best = z;
      split = at;
    }
  }
  const trend = fitTrend(samples, 0, nowMs, options.trendZ);
  if (split > 0) {
    const beforeRate = (counts[split] as number) / (seconds[split] as number);
    const afterRate =
      (totalCount - (counts[split] as number)) / (totalSeconds - (seconds[split] as number));
    let stepResidual = 0;
    for (let i = 0; i < n; i++) {
      const sample = samples[i] as RateSample;
      const fitted = i < split ? beforeRate : afterRate;
      stepResidual += (sample.spanMs / 1_000) * (sample.rate - fitted) ** 2;
    }
    if (!trend || stepResidual < trend.residual) {
      const shiftAtMs = (samples[split - 1] as RateSample).atMs;
      const observedS = totalSeconds - (seconds[split] as number);
      const within = fitTrend(samples, split, nowMs, options.trendZ);
      if (within) return { rate: within.level, observedS, slope: within.slope, shiftAtMs };
      return { rate: afterRate, observedS, slope: 0, shiftAtMs };
    }
  }
  if (trend)
    return { rate: trend.level, observedS: totalSeconds, slope: trend.slope, shiftAtMs: null };
  return { rate: mean, observedS: totalSeconds, slope: 0, shiftAtMs: null };
}

/** Weighted least-squares trend over samples[start..]; null unless significant. */
function fitTrend(
  samples: readonly RateSample[],
  start: number,
  nowMs: number,
  trendZ: number,
): { level: number; slope: number; residual: number } | null {
  if (samples.length - start < 4) return null;
  let weights = 0;
  let sumT = 0;
  let sumR = 0;
  for (let i = start; i < samples.length; i++) {
    const sample = samples[i] as RateSample;
    const w = sample.spanMs / 1_000;
    weights += w;
    sumT += w * midpointS(sample, nowMs);
    sumR += w * sample.rate;
  }
  const mean = sumR / weights;
  if (weights < 20 || !(mean > 0)) return null;
  const meanT = sumT / weights;
  let sxx = 0;
  let sxy = 0;
  for (let i = start; i < samples.length; i++) {
    const sample = samples[i] as RateSample;
    const w = sample.spanMs / 1_000;
    const dt = midpointS(sample, nowMs) - meanT;
    sxx += w * dt * dt;
    sxy += w * dt * (sample.rate - mean);
  }
  if (!(sxx > 0)) return null;
  const slope = sxy / sxx;
  const standardError = Math.sqrt(mean / sxx);
  if (Math.abs(slope) < trendZ * standardError) return null;
  let residual = 0;
  for (let i = start; i < samples.length; i++) {
    const sample = samples[i] as RateSample;
    const fitted = mean + slope * (midpointS(sample, nowMs) - meanT);
    residual += (sample.spanMs / 1_000) * (sample.rate - fitted) ** 2;
  }
  // Times are relative to now (<= 0), so the fit at now is mean - slope * meanT.
  return { level: Math.max(0, mean - slope * meanT), slope, residual };
}

/** Middle of the sample's span, in seconds relative to now (negative = in the past). */
function midpointS(sample: RateSample, nowMs: number): number {
  return (sample.atMs - sample.spanMs / 2 - nowMs) / 1_000;
}
