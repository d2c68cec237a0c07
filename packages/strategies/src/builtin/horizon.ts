import { defineStrategy } from '@qscale/contracts';
import { z } from 'zod';
import { DEFAULTS } from '../defaults.js';
import { currentWorkers } from '../internal/signals.js';

const optionsSchema = z.strictObject({
  balanceCooldownMs: z.number().nonnegative().optional(),
  balanceMaxShift: z.number().int().positive().optional(),
  autoScalingStrategy: z.enum(['time', 'size']).optional(),
});

/** Options of `horizon`, named after Horizon's supervisor options (durations in ms). */
export type HorizonOptions = z.input<typeof optionsSchema>;

/**
 * `horizon`: Laravel Horizon's auto-balancing (`AutoScaler::scale`, balance=auto) for one
 * queue's pool, maxProcesses = the queue's max and minProcesses = its min but at least 1
 * (Horizon rejects 0). Every `balanceCooldownMs` at most: the pool's share of the time to
 * clear all queues (`time`) or of their jobs (`size`) times maxProcesses, which for a single
 * pool is maxProcesses whenever a job is ready and minProcesses otherwise; then one step of at
 * most `balanceMaxShift` processes toward it. Between steps it holds the current count.
 */
export const horizonStrategy = defineStrategy<HorizonOptions>({
  name: 'horizon',
  optionsSchema,
  create(options) {
    const cooldownMs = options.balanceCooldownMs ?? DEFAULTS.horizon.balanceCooldownMs;
    const maxShift = options.balanceMaxShift ?? DEFAULTS.horizon.balanceMaxShift;
    const bySize = (options.autoScalingStrategy ?? DEFAULTS.horizon.autoScalingStrategy) === 'size';
    let lastScaledAt: number | null = null;
    return {
      // Reads no history: only the latest snapshot (and its own state).
      historyMs: 0,
      recommend(ctx) {
        const current = currentWorkers(ctx);
        const maxProcesses = ctx.bounds.max;
        const minProcesses = Math.min(Math.max(1, ctx.bounds.min), maxProcesses);
        if (lastScaledAt !== null && ctx.now - cooldownMs < lastScaledAt) {
          return {
            workers: current,
            reason: `balance cooldown: last step ${ctx.now - lastScaledAt}ms ago, holding ${current}`,
            terms: { current, held: 1 },
          };
        }
        lastScaledAt = ctx.now;
        const size = ctx.queue.pending ?? 0;
        const runtimeMs = ctx.queue.serviceTimeMs?.mean ?? 0;
        const timeToClearMs = size * runtimeMs;
        // One pool: its share of the total (time or size) is 1 whenever anything is ready.
        const share = bySize ? (size > 0 ? 1 : 0) : timeToClearMs > 0 ? 1 : 0;
        const desired = Math.ceil(
          timeToClearMs > 0 || (bySize && size > 0)
            ? share * maxProcesses
            : size > 0
              ? maxProcesses
              : minProcesses,
        );
        let target = current;
        if (desired > current) {
          const upShift = Math.min(Math.max(0, maxProcesses - current), maxShift);
          target = Math.min(current + upShift, Math.max(minProcesses, maxProcesses), desired);
        } else if (desired < current) {
          const downShift = Math.min(current - minProcesses, maxShift);
          target = Math.max(current - downShift, minProcesses, desired);
        }
        return {
          workers: target,
          reason: `auto-balance: ${size} ready, time to clear ${Math.round(timeToClearMs)}ms -> desired ${desired}, step to ${target}`,
          terms: { pending: size, timeToClearMs, desired, current },
        };
      },
    };
  },
});
