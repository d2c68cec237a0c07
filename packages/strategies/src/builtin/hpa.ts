import { defineStrategy } from '@qscale/contracts';
import { z } from 'zod';
import { DEFAULTS } from '../defaults.js';
import { currentWorkers } from '../internal/signals.js';

const optionsSchema = z.strictObject({
  targetPendingPerWorker: z.number().positive().optional(),
  activationPending: z.number().nonnegative().optional(),
  tolerance: z.number().min(0).optional(),
  syncPeriodMs: z.number().positive().optional(),
  pollingIntervalMs: z.number().positive().optional(),
  cooldownPeriodMs: z.number().nonnegative().optional(),
  scaleDownStabilizationMs: z.number().nonnegative().optional(),
  scaleUpPercent: z.number().positive().optional(),
  scaleUpPods: z.number().int().positive().optional(),
});

/** Options of `hpa`, named after KEDA's redis-list trigger and the HPA `behavior` (ms). */
export type HpaOptions = z.input<typeof optionsSchema>;

/**
 * `hpa`: KEDA's Redis list scaler driving a Kubernetes HPA with default behaviour. Every sync
 * period: desired = ceil(pending / targetPendingPerWorker) (External AverageValue), unchanged
 * while |1 - pending / (target x current)| <= tolerance; scale-down takes the highest
 * recommendation of the stabilisation window; scale-up is limited to
 * max(current x (1 + percent/100), current + pods) per period. KEDA activates 0 -> 1 when
 * pending > activationPending (checked every polling interval) and returns to 0 after
 * `cooldownPeriodMs` without activity when the queue's min is 0.
 */
export const hpaStrategy = defineStrategy<HpaOptions>({
  name: 'hpa',
  optionsSchema,
  create(options) {
    const d = DEFAULTS.hpa;
    const target = options.targetPendingPerWorker ?? d.targetPendingPerWorker;
    const activation = options.activationPending ?? d.activationPending;
    const tolerance = options.tolerance ?? d.tolerance;
    const syncMs = options.syncPeriodMs ?? d.syncPeriodMs;
    const pollMs = options.pollingIntervalMs ?? d.pollingIntervalMs;
    const cooldownMs = options.cooldownPeriodMs ?? d.cooldownPeriodMs;
    const windowMs = options.scaleDownStabilizationMs ?? d.scaleDownStabilizationMs;
    const upPercent = options.scaleUpPercent ?? d.scaleUpPercent;
    const upPods = options.scaleUpPods ?? d.scaleUpPods;
    let lastSyncAt: number | null = null;
    let lastPollAt: number | null = null;
    let lastActiveAt: number | null = null;
    const recommendations: { at: number; replicas: number }[] = [];
    return {
      // Reads no history: only the latest snapshot (and its own state).
      historyMs: 0,
      recommend(ctx) {
        const now = ctx.now;
        const current = currentWorkers(ctx);
        const pending = ctx.queue.pending ?? 0;
        const active = pending > activation;
        if (active || lastActiveAt === null) lastActiveAt = now;
        const hold = (why: string) => ({
          workers: current,
          reason: why,
          terms: { pending, current, held: 1 },
        });
        if (current === 0) {
          if (lastPollAt !== null && now - lastPollAt < pollMs)
            return hold('KEDA: waiting for the next poll');
          lastPollAt = now;
          const workers = active ? Math.min(1, ctx.bounds.max) : 0;
          return {
            workers,
            reason: active
              ? `KEDA activation: ${pending} pending > ${activation}, 0 -> 1`
              : 'KEDA: inactive, stays at 0',
            terms: { pending, current, activation: active ? 1 : 0 },
          };
        }
        if (lastSyncAt !== null && now - lastSyncAt < syncMs) return hold('HPA: between syncs');
        lastSyncAt = now;
        lastPollAt = now;
        if (!active && ctx.bounds.min === 0 && now - lastActiveAt >= cooldownMs) {
          recommendations.length = 0;
          return {
            workers: 0,
            reason: `KEDA: inactive for ${Math.round((now - lastActiveAt) / 1_000)}s >= cooldownPeriod, scale to 0`,
            terms: { pending, current, activation: 0 },
          };
        }
        const usageRatio = pending / (target * current);
        const raw = Math.max(
          1,
          Math.abs(1 - usageRatio) <= tolerance ? current : Math.ceil(pending / target),
        );
        recommendations.push({ at: now, replicas: raw });
        while (recommendations.length > 0 && (recommendations[0]?.at ?? now) < now - windowMs) {
          recommendations.shift();
        }
        let desired = current;
        if (raw > current) {
          const limit = Math.max(Math.ceil(current * (1 + upPercent / 100)), current + upPods);
          desired = Math.min(raw, limit);
        } else {
          const highest = Math.max(...recommendations.map((r) => r.replicas));
          if (highest < current) desired = highest;
        }
        return {
          workers: desired,
          reason: `HPA: ceil(${pending} pending / ${target}) = ${raw}, stabilised and rate-limited to ${desired}`,
          terms: { pending, current, usageRatio, raw, desired },
        };
      },
    };
  },
});
