import { defineStrategy, type Recommendation, type ScalingContext } from '@qscale/contracts';
import { z } from 'zod';
import { DEFAULTS } from '../defaults.js';
import {
  ANCHOR_FORECAST_POLICIES,
  AnchorArrivalEstimator,
  type AnchorForecastPolicy,
  AnchorTargetSmoother,
  anchorBacklogDrain,
  anchorFallbackArrivalRate,
  anchorLinearForecast,
  anchorLittlesLaw,
  anchorRetryCorrection,
} from '../internal/anchor.js';
import { pickupAtPercentile, recentSnapshots } from '../internal/signals.js';

const optionsSchema = z.strictObject({
  fallbackJobTimeMs: z.number().positive().optional(),
  breachThreshold: z.number().min(0).optional(),
  minArrivalRateConfidence: z.number().min(0).max(1).optional(),
  forecastPolicy: z.enum(['aggressive', 'moderate', 'hint', 'disabled']).optional(),
  forecastHorizonMs: z.number().positive().optional(),
  pickupMinSamples: z.number().int().positive().optional(),
  spawnCompensation: z.boolean().optional(),
  throughputWindowMs: z.number().positive().optional(),
});

/** Options of `laravel-hybrid`, named after the anchor's config keys (durations in ms). */
export type LaravelHybridOptions = z.input<typeof optionsSchema>;

interface Settings {
  fallbackJobTimeMs: number;
  breachThreshold: number;
  minArrivalRateConfidence: number;
  forecastPolicy: AnchorForecastPolicy;
  forecastHorizonMs: number;
  pickupMinSamples: number;
  spawnCompensation: boolean;
  throughputWindowMs: number;
}

/**
 * `laravel-hybrid`: a faithful port of the anchor's HybridStrategy (cboxdk/laravel-queue-autoscale
 * v3): max(Little's Law on the estimated arrival rate, backlog drain against the
 * spawn-compensated SLA on the p-percentile pickup or the oldest age), saturation boost,
 * clamp, then the TargetSmoother. For users migrating, and as a benchmark baseline. Its state
 * (arrival estimator, smoother) is per instance, hence per queue.
 */
export const laravelHybridStrategy = defineStrategy<LaravelHybridOptions>({
  name: 'laravel-hybrid',
  optionsSchema,
  create(options) {
    const d = DEFAULTS.laravelHybrid;
    const settings: Settings = {
      fallbackJobTimeMs: options.fallbackJobTimeMs ?? d.fallbackJobTimeMs,
      breachThreshold: options.breachThreshold ?? d.breachThreshold,
      minArrivalRateConfidence: options.minArrivalRateConfidence ?? d.minArrivalRateConfidence,
      forecastPolicy: options.forecastPolicy ?? d.forecastPolicy,
      forecastHorizonMs: options.forecastHorizonMs ?? d.forecastHorizonMs,
      pickupMinSamples: options.pickupMinSamples ?? d.pickupMinSamples,
      spawnCompensation: options.spawnCompensation ?? d.spawnCompensation,
      throughputWindowMs: options.throughputWindowMs ?? d.throughputWindowMs,
    };
    const estimator = new AnchorArrivalEstimator({
      forecaster: anchorLinearForecast,
      policy: ANCHOR_FORECAST_POLICIES[settings.forecastPolicy],
      horizonS: settings.forecastHorizonMs / 1_000,
    });
    const smoother = new AnchorTargetSmoother();
    return {
      recommend: (ctx) => recommendHybrid(ctx, settings, estimator, smoother),
      // The arrival estimator keeps its own snapshots; history is read for throughput only.
      historyMs: settings.throughputWindowMs,
    };
  },
});

function recommendHybrid(
  ctx: ScalingContext,
  o: Settings,
  estimator: AnchorArrivalEstimator,
  smoother: AnchorTargetSmoother,
): Recommendation {
  const { queue, slo, workers, bounds } = ctx;
  // performance_60s.throughput_per_minute: completions over the last minute.
  const processingRate = meanCompletionRate(ctx, o.throughputWindowMs);
  const throughputPerMinute = processingRate * 60;
  const backlog = queue.pending ?? 0;
  const oldestJobAgeS = Math.floor((queue.oldestPendingAgeMs ?? 0) / 1_000);
  const activeWorkers = workers.running;
  const slaS = slo.pickupMs / 1_000;

  const avgDurationS = (queue.serviceTimeMs?.mean ?? 0) / 1_000;
  const usedObservedJobTime = avgDurationS >= 0.01 && avgDurationS <= 600;
  const jobTimeS = usedObservedJobTime ? avgDurationS : o.fallbackJobTimeMs / 1_000;

  const estimate = estimator.estimate(backlog, processingRate, ctx.now / 1_000);
  let arrivalRate =
    estimate.confidence >= o.minArrivalRateConfidence ? estimate.rate : processingRate;
  let usedFallback = false;
  if (arrivalRate === 0) {
    arrivalRate = anchorFallbackArrivalRate(backlog, oldestJobAgeS, jobTimeS, slaS);
    usedFallback = arrivalRate > 0;
  }
  // The lifetime failure rate is not in a QueueSnapshot; 0 % leaves the rate unchanged.
  arrivalRate = anchorRetryCorrection(arrivalRate, processingRate, 0);

  const spawnLatencyS = o.spawnCompensation ? ctx.spawnLatencyMs / 1_000 : 0;
  const effectiveSlaS = Math.max(1, slaS - spawnLatencyS);
  const pickup = queue.pickupLatencyMs;
  const percentileMs =
    pickup && pickup.samples >= o.pickupMinSamples
      ? pickupAtPercentile(pickup, slo.percentile)
      : null;
  const slaSignalS = percentileMs !== null ? percentileMs / 1_000 : oldestJobAgeS;

  const concurrency = workers.concurrency;
  const steady = anchorLittlesLaw(arrivalRate, jobTimeS) / concurrency;
  const drain =
    anchorBacklogDrain(
      backlog,
      Math.trunc(slaSignalS),
      slaS,
      jobTimeS,
      o.breachThreshold,
      effectiveSlaS,
    ) / concurrency;
  let target = Math.max(steady, drain);
  // A backlog with no worker at all gets one now (added in a later anchor release).
  if (backlog > 0 && activeWorkers === 0) target = Math.max(target, 1);
  const utilization =
    activeWorkers > 0 ? ((queue.active ?? 0) / (activeWorkers * concurrency)) * 100 : 0;
  let boosted = false;
  if (activeWorkers > 0 && utilization >= 90 && target <= activeWorkers) {
    target = activeWorkers + 1;
    boosted = true;
  }
  const clamp = (n: number) => Math.max(bounds.min, Math.min(bounds.max, n));
  const raw = clamp(Math.ceil(Math.max(target, 0)));
  const smoothed = smoother.smooth(raw, throughputPerMinute);
  const final = clamp(smoothed.target);

  const parts: string[] = [];
  const signal = percentileMs !== null ? `p${slo.percentile}` : 'oldest_age';
  if (drain >= steady && drain > 0) {
    parts.push(
      `backlog=${backlog} requires ${drain.toFixed(1)} workers to prevent SLA breach (${signal}=${slaSignalS.toFixed(1)}s, effective_sla=${effectiveSlaS.toFixed(1)}s)`,
    );
  } else {
    parts.push(
      `arrival_rate=${arrivalRate.toFixed(2)}/s x job_time=${jobTimeS.toFixed(1)}s = ${steady.toFixed(1)} workers${usedFallback ? ' (estimated)' : ''}`,
    );
  }
  if (boosted) parts.push(`saturation boost (${utilization.toFixed(0)}% utilized)`);
  if (smoothed.dampened)
    parts.push(`target dampened ${raw}->${smoothed.target} (stable throughput)`);
  return {
    workers: final,
    reason: parts.join('; '),
    terms: {
      processingRate,
      arrivalRate,
      arrivalConfidence: estimate.confidence,
      jobTimeS,
      effectiveSlaS,
      slaSignalS,
      littlesLaw: steady,
      backlogDrain: drain,
      raw,
      smoothed: smoothed.target,
    },
  };
}

/** Completions per second over the window, weighting each snapshot by its interval. */
function meanCompletionRate(ctx: ScalingContext, windowMs: number): number {
  const snapshots = recentSnapshots(ctx, windowMs);
  let weighted = 0;
  let total = 0;
  let previousAt: number | null = null;
  for (const snapshot of snapshots) {
    const span = previousAt === null ? ctx.tickMs : snapshot.at - previousAt;
    previousAt = snapshot.at;
    if (snapshot.completionRate === null || !(span > 0)) continue;
    weighted += snapshot.completionRate * span;
    total += span;
  }
  return total > 0 ? weighted / total : 0;
}
