import type { Decision } from '@qscale/contracts';
import { PolicyError } from './errors.js';
import { allocateFairShare } from './fair-share.js';

/** Per queue: what the fair share needs besides the decided count. */
export interface QueueShareSettings {
  /** Guaranteed workers, even when the host is full. @defaultValue 0 */
  min?: number;
  /** Never more. @defaultValue no limit */
  max?: number;
  /** Priority weight (`scaling.priority`). @defaultValue 1 */
  priority?: number;
}

export interface HostShareOptions {
  /** Workers all queues together may have: the smaller of the host capacity and the config's `limits.maxWorkers`. */
  maxWorkers: number;
  /** What limits `maxWorkers`, for the edit's reason (e.g. `cpu`, `memory`, `config`). */
  limiter?: string;
  /** Settings by queue name; a queue missing here has min 0, no max, priority 1. */
  queues?: Readonly<Record<string, QueueShareSettings>>;
}

/**
 * Fits the decisions of every queue of one host into its capacity. When the decided counts
 * add up to no more than `maxWorkers`, they are returned unchanged; otherwise each queue gets
 * its fair share (`allocateFairShare`: minimums first, then by priority x unmet demand,
 * largest remainder) and every cut is recorded as a `fair-share` edit naming the limit.
 *
 * @throws PolicyError `POLICY_CONFIG_INVALID` for a negative or fractional `maxWorkers`, or
 *   two decisions for the same queue.
 */
export function shareHostCapacity(
  decisions: readonly Decision[],
  options: HostShareOptions,
): Decision[] {
  const { maxWorkers, limiter, queues = {} } = options;
  if (!Number.isInteger(maxWorkers) || maxWorkers < 0) {
    throw new PolicyError(
      'POLICY_CONFIG_INVALID',
      `host maxWorkers must be a whole number >= 0, got ${maxWorkers}`,
    );
  }
  const names = new Set<string>();
  for (const decision of decisions) {
    if (names.has(decision.queue)) {
      throw new PolicyError(
        'POLICY_CONFIG_INVALID',
        `two decisions for queue "${decision.queue}": one per queue expected`,
      );
    }
    names.add(decision.queue);
  }
  const wanted = decisions.reduce((sum, decision) => sum + decision.to, 0);
  if (wanted <= maxWorkers) return [...decisions];
  const shares = allocateFairShare(
    decisions.map((decision) => {
      const settings = queues[decision.queue] ?? {};
      return {
        key: decision.queue,
        demand: decision.to,
        min: settings.min ?? 0,
        ...(settings.max === undefined ? {} : { max: settings.max }),
        weight: settings.priority ?? 1,
      };
    }),
    maxWorkers,
  );
  const limit = `the host holds ${maxWorkers} workers${limiter ? ` (limited by ${limiter})` : ''} and the queues want ${wanted}`;
  return decisions.map((decision) => {
    const share = shares[decision.queue] ?? decision.to;
    if (share === decision.to) return decision;
    const priority = queues[decision.queue]?.priority ?? 1;
    return {
      ...decision,
      to: share,
      edits: [
        ...decision.edits,
        {
          policy: 'fair-share',
          from: decision.to,
          to: share,
          why: `${limit}: fair share by unmet demand${priority === 1 ? '' : ` x priority ${priority}`} gives ${share}`,
        },
      ],
    };
  });
}

/** What the host holds of one queue's workers, with the figures of the limit (resource-monitor's `perQueue`). */
export interface QueueCapacityLimit {
  /** Workers of this queue the host can hold, the other queues' workers unchanged. */
  maxWorkers: number;
  /** The limiting resource with its figures, e.g. `memory: 412 MiB free / 96 MiB per worker = 4`. */
  why?: string | undefined;
}

/**
 * Cuts each decision to what the host can hold of that queue's workers, priced at what a
 * worker of that queue costs: a queue of CPU-hungry workers stops where the CPU does while a
 * queue of workers that mostly wait goes on. A queue's minimum still stands (a guarantee), and
 * every cut is a `host-capacity` edit whose reason names the limiting resource with figures.
 * A queue missing from `perQueue` is left as it is.
 */
export function capToQueueCapacity(
  decisions: readonly Decision[],
  perQueue: Readonly<Record<string, QueueCapacityLimit>>,
  minimums: Readonly<Record<string, number>> = {},
): Decision[] {
  return decisions.map((decision) => {
    const limit = perQueue[decision.queue];
    if (!limit) return decision;
    if (!Number.isInteger(limit.maxWorkers) || limit.maxWorkers < 0) {
      throw new PolicyError(
        'POLICY_CONFIG_INVALID',
        `host capacity of queue "${decision.queue}" must be a whole number >= 0, got ${limit.maxWorkers}`,
      );
    }
    const min = minimums[decision.queue] ?? 0;
    const to = Math.max(limit.maxWorkers, min);
    if (decision.to <= to) return decision;
    const floor = to > limit.maxWorkers ? ` (its minimum ${min} stands)` : '';
    return {
      ...decision,
      to,
      edits: [
        ...decision.edits,
        {
          policy: 'host-capacity',
          from: decision.to,
          to,
          why: `${limit.why ?? `the host holds ${limit.maxWorkers} of its workers`}${floor}`,
        },
      ],
    };
  });
}
