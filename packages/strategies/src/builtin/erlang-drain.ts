import { defineStrategy } from '@qscale/contracts';
import { z } from 'zod';
import { DEFAULTS } from '../defaults.js';
import { rateSamples } from '../internal/arrivals.js';
import { slotsForPercentile } from '../internal/queueing.js';
import { estimateServiceTime, fmt, fmtMs, recentSnapshots } from '../internal/signals.js';

const optionsSchema = z.strictObject({
  rateWindowMs: z.number().positive().optional(),
  fallbackServiceTimeMs: z.number().positive().optional(),
});

/** Options of the `erlang-drain` strategy; every one defaults to `DEFAULTS.erlangDrain`. */
export type ErlangDrainOptions = z.input<typeof optionsSchema>;

/**
 * `erlang-drain`: the simple reference `predictive` is measured against. Steady state: the
 * fewest slots c with P(wait > pickupMs) = C(c, a) exp(-(c - a) pickupMs / S) <= 1 - percentile
 * (M/M/c Erlang C; 5 % for a p95 SLO) at the mean arrival rate of the window; plus drain slots
 * pending / (pickupMs / S): the backlog cleared within one SLO. No forecast, no shift test.
 */
export const erlangDrainStrategy = defineStrategy<ErlangDrainOptions>({
  name: 'erlang-drain',
  optionsSchema,
  create(options) {
    const windowMs = options.rateWindowMs ?? DEFAULTS.erlangDrain.rateWindowMs;
    const fallbackMs = options.fallbackServiceTimeMs ?? DEFAULTS.fallbackServiceTimeMs;
    return {
      historyMs: windowMs,
      recommend(ctx) {
        const window = recentSnapshots(ctx, windowMs);
        const serviceMs = estimateServiceTime(window, fallbackMs).meanMs;
        const samples = rateSamples(window, ctx.tickMs, (s) => s.arrivalRate ?? s.completionRate);
        let jobs = 0;
        let seconds = 0;
        for (const sample of samples) {
          jobs += (sample.rate * sample.spanMs) / 1_000;
          seconds += sample.spanMs / 1_000;
        }
        const rate = seconds > 0 ? jobs / seconds : 0;
        const steadySlots = slotsForPercentile({
          arrivalRate: rate,
          serviceTimeMs: serviceMs,
          waitMs: ctx.slo.pickupMs,
          percentile: ctx.slo.percentile,
          variability: 1,
          maxServers: (ctx.bounds.max + 1) * ctx.workers.concurrency,
        });
        const pending = ctx.queue.pending ?? 0;
        const drainSlots = pending / (ctx.slo.pickupMs / serviceMs);
        const workers = Math.ceil((steadySlots + drainSlots) / ctx.workers.concurrency - 1e-9);
        return {
          workers: Math.max(0, workers),
          reason: `Erlang C: ${fmt(rate)} jobs/s x ${fmtMs(serviceMs)} -> ${steadySlots} slots for p${ctx.slo.percentile} pickup <= ${fmtMs(ctx.slo.pickupMs)}, plus ${fmt(drainSlots)} to drain ${pending} pending within it`,
          terms: {
            arrivalRate: rate,
            serviceTimeMs: serviceMs,
            steadyState: steadySlots,
            backlogDrain: drainSlots,
          },
        };
      },
    };
  },
});
