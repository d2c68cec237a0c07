import { defineStrategy } from '@qscale/contracts';
import { z } from 'zod';
import { DEFAULTS } from '../defaults.js';
import { anchorBacklogDrain } from '../internal/anchor.js';
import { littlesLawSlots } from '../internal/queueing.js';
import { estimateServiceTime, fmt, fmtMs } from '../internal/signals.js';

const littlesLawOptions = z.strictObject({
  fallbackServiceTimeMs: z.number().positive().optional(),
});
export type LittlesLawOptions = z.input<typeof littlesLawOptions>;

/**
 * `littles-law`: ceil(lambda x S / concurrency), lambda the arrival rate (else the completion
 * rate) in jobs/s, S the observed mean service time in seconds. Nothing for backlog or spikes.
 */
export const littlesLawStrategy = defineStrategy<LittlesLawOptions>({
  name: 'littles-law',
  optionsSchema: littlesLawOptions,
  create(options) {
    const fallbackMs = options.fallbackServiceTimeMs ?? DEFAULTS.fallbackServiceTimeMs;
    return {
      // Reads no history: only the latest snapshot (and its own state).
      historyMs: 0,
      recommend(ctx) {
        const rate = ctx.queue.arrivalRate ?? ctx.queue.completionRate ?? 0;
        const service = estimateServiceTime([ctx.queue], fallbackMs);
        const slots = littlesLawSlots(rate, service.meanMs);
        const workers = Math.max(0, Math.ceil(slots / ctx.workers.concurrency - 1e-9));
        return {
          workers,
          reason: `Little's Law: ${fmt(rate)} jobs/s x ${fmtMs(service.meanMs)} = ${fmt(slots)} busy slots -> ${workers} workers`,
          terms: { arrivalRate: rate, serviceTimeMs: service.meanMs, littlesLaw: workers },
        };
      },
    };
  },
});

const backlogOptions = z.strictObject({
  breachThreshold: z.number().min(0).max(1.5).optional(),
  fallbackServiceTimeMs: z.number().positive().optional(),
});
export type BacklogOptions = z.input<typeof backlogOptions>;

/**
 * `backlog`: the anchor's BacklogOnlyStrategy, ceil(backlogDrain(pending, oldest age in whole
 * seconds, SLO, job time, threshold)) / concurrency. Adds workers only once the oldest job has
 * waited `breachThreshold` of the SLO.
 */
export const backlogStrategy = defineStrategy<BacklogOptions>({
  name: 'backlog',
  optionsSchema: backlogOptions,
  create(options) {
    const threshold = options.breachThreshold ?? DEFAULTS.backlog.breachThreshold;
    const fallbackMs = options.fallbackServiceTimeMs ?? DEFAULTS.fallbackServiceTimeMs;
    return {
      // Reads no history: only the latest snapshot (and its own state).
      historyMs: 0,
      recommend(ctx) {
        const pending = ctx.queue.pending ?? 0;
        const ageS = Math.floor((ctx.queue.oldestPendingAgeMs ?? 0) / 1_000);
        const service = estimateServiceTime([ctx.queue], fallbackMs);
        const jobTimeS = service.meanMs >= 10 ? service.meanMs / 1_000 : fallbackMs / 1_000;
        const drain = anchorBacklogDrain(
          pending,
          ageS,
          ctx.slo.pickupMs / 1_000,
          jobTimeS,
          threshold,
        );
        const workers = Math.max(0, Math.ceil(drain / ctx.workers.concurrency - 1e-9));
        return {
          workers,
          reason: `backlog drain: ${pending} pending, oldest ${ageS}s of ${fmtMs(ctx.slo.pickupMs)} SLO -> ${workers} workers`,
          terms: { pending, oldestPendingAgeS: ageS, backlogDrain: drain },
        };
      },
    };
  },
});

const fixedOptions = z.strictObject({
  workers: z.number().int().nonnegative().nullable().optional(),
});
export type FixedOptions = z.input<typeof fixedOptions>;

/** `fixed`: always the same number of workers (default: the queue's maximum). */
export const fixedStrategy = defineStrategy<FixedOptions>({
  name: 'fixed',
  optionsSchema: fixedOptions,
  create(options) {
    const configured = options.workers ?? DEFAULTS.fixed.workers;
    return {
      // Reads no history: only the latest snapshot (and its own state).
      historyMs: 0,
      recommend(ctx) {
        const workers = configured ?? ctx.bounds.max;
        return {
          workers,
          reason: `fixed: ${workers} workers${configured === null ? " (the queue's maximum)" : ''}`,
          terms: { fixed: workers },
        };
      },
    };
  },
});
