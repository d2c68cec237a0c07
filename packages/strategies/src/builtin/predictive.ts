import { defineStrategy, type Recommendation, type ScalingContext } from '@qscale/contracts';
import { z } from 'zod';
import { DEFAULTS } from '../defaults.js';
import { estimateArrivalLevel, type RateSample, rateSamples } from '../internal/arrivals.js';
import { fifoDrainSlots } from '../internal/drain.js';
import { littlesLawSlots, serviceVariability, slotsForPercentile } from '../internal/queueing.js';
import { drainedAndQuiet, quietSpells } from '../internal/quiet.js';
import { estimateServiceTime, fmt, fmtMs, recentSnapshots } from '../internal/signals.js';

const optionsSchema = z.strictObject({
  rateWindowMs: z.number().positive().optional(),
  shiftZ: z.number().positive().optional(),
  rateConfidenceZ: z.number().min(0).optional(),
  trendZ: z.number().positive().optional(),
  trendDamping: z.number().min(0).max(1).optional(),
  backlogBudget: z.number().min(0).max(1).optional(),
  minDrainBudgetMs: z.number().positive().nullable().optional(),
  fallbackServiceTimeMs: z.number().positive().optional(),
  quietAfterTicks: z.number().int().positive().nullable().optional(),
  quietMemoryMs: z.number().nonnegative().optional(),
});

/** Options of the `predictive` strategy; every one defaults to `DEFAULTS.predictive`. */
export type PredictiveOptions = z.input<typeof optionsSchema>;

interface Settings {
  rateWindowMs: number;
  shiftZ: number;
  rateConfidenceZ: number;
  trendZ: number;
  trendDamping: number;
  backlogBudget: number;
  minDrainBudgetMs: number | null;
  fallbackServiceTimeMs: number;
  quietAfterTicks: number | null;
  quietMemoryMs: number;
}

/**
 * `predictive` (the default): sizes for the percentile SLO with queueing theory, drains the
 * backlog within what is left of the SLO, and looks ahead by the time a new worker needs.
 * Stateless: everything it needs is in the context and its history.
 */
export const predictiveStrategy = defineStrategy<PredictiveOptions>({
  name: 'predictive',
  optionsSchema,
  create(options) {
    const d = DEFAULTS.predictive;
    const settings: Settings = {
      rateWindowMs: options.rateWindowMs ?? d.rateWindowMs,
      shiftZ: options.shiftZ ?? d.shiftZ,
      rateConfidenceZ: options.rateConfidenceZ ?? d.rateConfidenceZ,
      trendZ: options.trendZ ?? d.trendZ,
      trendDamping: options.trendDamping ?? d.trendDamping,
      backlogBudget: options.backlogBudget ?? d.backlogBudget,
      minDrainBudgetMs: options.minDrainBudgetMs ?? d.minDrainBudgetMs,
      fallbackServiceTimeMs: options.fallbackServiceTimeMs ?? DEFAULTS.fallbackServiceTimeMs,
      quietAfterTicks:
        options.quietAfterTicks === undefined ? d.quietAfterTicks : options.quietAfterTicks,
      quietMemoryMs: options.quietMemoryMs ?? d.quietMemoryMs,
    };
    return {
      recommend: (ctx) => quietRecommendation(ctx, settings) ?? recommendPredictive(ctx, settings),
      historyMs:
        settings.quietAfterTicks === null
          ? settings.rateWindowMs
          : Math.max(settings.rateWindowMs, settings.quietMemoryMs),
    };
  },
});

/**
 * A queue that drained and stayed quiet (no pending, no arrivals for `quietAfterTicks` ticks,
 * longer than any quiet gap of the last `quietMemoryMs`) needs only the workers still busy: the
 * arrival estimate of the window would otherwise keep the burst's workers until its level test
 * lets go. Null when the rule does not apply.
 */
function quietRecommendation(ctx: ScalingContext, o: Settings): Recommendation | null {
  if (o.quietAfterTicks === null) return null;
  const spell = quietSpells(recentSnapshots(ctx, o.quietMemoryMs));
  if (!drainedAndQuiet(spell, o.quietAfterTicks * ctx.tickMs)) return null;
  const active = ctx.queue.active ?? 0;
  const workers = Math.ceil(active / ctx.workers.concurrency - 1e-9);
  const gap =
    spell.longestEndedMs > 0
      ? `, longer than any gap of the last ${fmtMs(o.quietMemoryMs)} (${fmtMs(spell.longestEndedMs)})`
      : '';
  return {
    workers,
    reason: `drained and quiet: nothing pending and no arrivals for ${fmtMs(spell.quietForMs)}${gap} -> ${workers} workers for the ${active} jobs still running`,
    terms: { quietForMs: spell.quietForMs, longestQuietGapMs: spell.longestEndedMs, active },
  };
}

function recommendPredictive(ctx: ScalingContext, o: Settings): Recommendation {
  const { queue, slo, workers } = ctx;
  const concurrency = workers.concurrency;
  const window = recentSnapshots(ctx, o.rateWindowMs);
  const service = estimateServiceTime(window, o.fallbackServiceTimeMs);
  const serviceMs = service.meanMs;
  const cs2 =
    service.p95Ms === null ? 1 : Math.min(8, serviceVariability(serviceMs, service.p95Ms));
  const variability = (1 + cs2) / 2;

  // Arrival rate now, its upper confidence bound, and the damped-trend forecast.
  const samples = rateSamples(window, ctx.tickMs, (s) => s.arrivalRate ?? s.completionRate);
  const level = estimateArrivalLevel(samples, ctx.now, o);
  const tickS = ctx.tickMs / 1_000;
  const observedS = Math.max(level.observedS, tickS);
  const upperOver = (rate: number, seconds: number) =>
    rate + o.rateConfidenceZ * Math.sqrt(rate / seconds);
  const upper = (rate: number) => upperOver(rate, observedS);
  const horizonMs = ctx.spawnLatencyMs + ctx.tickMs;
  const steps = Math.max(1, Math.ceil(horizonMs / ctx.tickMs));
  let dampedSteps = 0;
  for (let h = 1, phi = 1; h <= steps; h++) {
    phi *= o.trendDamping;
    dampedSteps += phi;
  }
  const forecastRate = Math.max(0, level.rate + level.slope * tickS * dampedSteps);

  // Steady state and forecast: Erlang C (M/G/c via Allen-Cunneen) for the percentile.
  const maxServers = (ctx.bounds.max + 1) * concurrency;
  const size = (arrivalRate: number) =>
    slotsForPercentile({
      arrivalRate,
      serviceTimeMs: serviceMs,
      waitMs: slo.pickupMs,
      percentile: slo.percentile,
      variability,
      maxServers,
    });
  const steadySlots = size(upper(level.rate));
  const forecastSlots = forecastRate > level.rate ? size(upper(forecastRate)) : 0;

  // Backlog: every queued job must start before its own SLO runs out (FIFO, ages from the
  // arrivals of past ticks). Running slots work on it from now, new ones after the spawn latency.
  const pending = queue.pending ?? 0;
  const oldestMs = queue.oldestPendingAgeMs ?? 0;
  const { slots: drainSlots, budgetMs } = fifoDrainSlots({
    snapshots: [...ctx.history, queue],
    now: ctx.now,
    pickupMs: slo.pickupMs,
    serviceMs,
    runningSlots: workers.running * concurrency,
    spawnLatencyMs: ctx.spawnLatencyMs,
    floorMs: o.minDrainBudgetMs ?? ctx.tickMs,
    tickMs: ctx.tickMs,
  });

  // Planned backlog (time-sharing): the SLO allows waiting, so the queue may hold work as long
  // as the projected wait stays within the budget D. Fluid projection over one SLO period H:
  // wait(H) = (Q S + (a - c) H) / c <= D  <=>  c >= (Q S + a H) / (D + H), never below floor(a).
  const planBudgetMs = o.backlogBudget * slo.pickupMs;
  const planAllowed = planBudgetMs > 0 && planBudgetMs >= ctx.tickMs + ctx.spawnLatencyMs;
  // Over one SLO period the queue smooths whatever arrives within it: a burst shorter than the
  // SLO is sized by the work it brings over that period (the mean rate of the last pickupMs),
  // not by its peak rate held for a whole period. The backlog-drain term still guards the
  // oldest job. A level that has held for the whole period is the same mean.
  const levelRate = Math.max(
    upper(level.rate),
    forecastRate > level.rate ? upper(forecastRate) : 0,
  );
  const periodS = Math.max(slo.pickupMs, ctx.tickMs) / 1_000;
  const periodRate = meanRateSince(samples, ctx.now - periodS * 1_000);
  const planLoad =
    (Math.min(levelRate, periodRate === null ? levelRate : upperOver(periodRate, periodS)) *
      serviceMs) /
    1_000;
  const planSlots = planAllowed
    ? Math.max(
        Math.floor(planLoad),
        Math.ceil(
          (pending * serviceMs + planLoad * slo.pickupMs) / (planBudgetMs + slo.pickupMs) - 1e-9,
        ),
      )
    : Number.POSITIVE_INFINITY;

  const toWorkers = (slots: number) => Math.max(0, Math.ceil(slots / concurrency - 1e-9));
  const steady = toWorkers(steadySlots);
  const forecast = toWorkers(forecastSlots);
  const drain = toWorkers(drainSlots);
  const planned = planAllowed ? toWorkers(planSlots) : null;
  const sized = Math.max(steady, forecast);
  const shared = planned !== null && planned < sized ? planned : sized;
  const target = Math.max(shared, drain);
  const littles = littlesLawSlots(level.rate, serviceMs) / concurrency;

  const rateText = `${fmt(level.rate)} jobs/s x ${fmtMs(serviceMs)}`;
  const sloText = `p${slo.percentile} pickup <= ${fmtMs(slo.pickupMs)}`;
  let reason: string;
  if (target === 0) {
    reason = 'no arrivals, no backlog: no workers needed';
  } else if (drain >= shared) {
    reason = `backlog drain: ${pending} pending, oldest ${fmtMs(oldestMs)}, ${fmtMs(budgetMs)} of SLO left -> ${drain} workers`;
  } else if (shared < sized) {
    reason = `planned backlog: ${shared} workers keep the wait under ${fmtMs(planBudgetMs)} (${pending} pending, ${rateText}); Erlang C would give ${sized} for ${sloText}`;
  } else if (forecast > steady) {
    reason = `forecast: arrivals trending to ${fmt(forecastRate)} jobs/s within ${fmtMs(horizonMs)} -> ${forecast} workers for ${sloText}`;
  } else {
    reason = `steady state (Erlang C): ${rateText} -> ${steady} workers for ${sloText}`;
  }
  return {
    workers: target,
    reason,
    terms: {
      arrivalRate: level.rate,
      arrivalTrendPerS: level.slope,
      forecastArrivalRate: forecastRate,
      serviceTimeMs: serviceMs,
      littlesLaw: littles,
      steadyState: steady,
      forecast,
      backlogDrain: drainSlots / concurrency,
      ...(planned === null ? {} : { plannedBacklog: planned }),
      budgetMs,
    },
  };
}

/** Jobs per second over the samples that end after `sinceMs` (time-weighted); null: none. */
function meanRateSince(samples: readonly RateSample[], sinceMs: number): number | null {
  let jobs = 0;
  let seconds = 0;
  for (const sample of samples) {
    if (sample.atMs <= sinceMs) continue;
    const spanS = Math.min(sample.spanMs, sample.atMs - sinceMs) / 1_000;
    jobs += sample.rate * spanS;
    seconds += spanS;
  }
  return seconds > 0 ? jobs / seconds : null;
}
