import type { ScalingContext } from '@qscale/contracts';

/** Which figure showed the breach. */
export interface BreachSignal {
  /** `oldest-pending-age`: the oldest waiting job; `pickup-percentile`: observed pickups. */
  signal: 'oldest-pending-age' | 'pickup-percentile';
  /** The figure, in milliseconds. */
  observedMs: number;
}

/** The queue started missing its SLO. */
export interface SloBreachEvent extends BreachSignal {
  type: 'slo-breach';
  queue: string;
  /** Epoch ms. */
  at: number;
  /** The SLO's pickup target, ms. */
  sloMs: number;
  /** Breaches not reported since the last event, because of the rate limit. */
  suppressed: number;
}

/** The queue meets its SLO again after a reported breach. */
export interface SloRecoveredEvent {
  type: 'slo-recovered';
  queue: string;
  /** Epoch ms. */
  at: number;
  /** How long the breach lasted, ms. */
  breachDurationMs: number;
}

/** Typed events of the policy pipeline. */
export type PolicyEvent = SloBreachEvent | SloRecoveredEvent;

/**
 * The SLO is breached now when the oldest pending job has waited at least the target, or
 * the observed pickup wait at the SLO's percentile (p50, p95 or p99, the nearest at or
 * above it) is at least the target.
 */
export function observedBreach(ctx: ScalingContext): BreachSignal | null {
  const { queue, slo } = ctx;
  if (queue.oldestPendingAgeMs !== null && queue.oldestPendingAgeMs >= slo.pickupMs) {
    return { signal: 'oldest-pending-age', observedMs: queue.oldestPendingAgeMs };
  }
  const pickup = queue.pickupLatencyMs;
  if (pickup && pickup.samples > 0) {
    const value =
      slo.percentile <= 50 ? pickup.p50 : slo.percentile <= 95 ? pickup.p95 : pickup.p99;
    if (value >= slo.pickupMs) return { signal: 'pickup-percentile', observedMs: value };
  }
  return null;
}

/**
 * Turns breach observations into events: one `slo-breach` when a breach starts (or, during a
 * long one, again every `cooldownMs`), one `slo-recovered` when a reported breach ends; a
 * breach starting within `cooldownMs` of the last report is counted, and reported (with that
 * count) only if it lasts until the cooldown is over.
 */
export class BreachTracker {
  private breachSince: number | null = null;
  private reportedEpisode = false;
  private lastReportAt: number | null = null;
  private suppressed = 0;

  constructor(private readonly cooldownMs: number) {}

  observe(queue: string, now: number, sloMs: number, breach: BreachSignal | null): PolicyEvent[] {
    if (breach) {
      const starting = this.breachSince === null;
      if (starting) this.breachSince = now;
      const due = this.lastReportAt === null || now - this.lastReportAt >= this.cooldownMs;
      if (starting && !due) this.suppressed++;
      // A breach that began within the cooldown is reported once the cooldown is over: a
      // long breach right after a short one must not go unreported for its whole length.
      if (due) {
        this.lastReportAt = now;
        this.reportedEpisode = true;
        const event: SloBreachEvent = {
          type: 'slo-breach',
          queue,
          at: now,
          sloMs,
          suppressed: this.suppressed,
          ...breach,
        };
        this.suppressed = 0;
        return [event];
      }
      return [];
    }
    if (this.breachSince === null) return [];
    const since = this.breachSince;
    const reported = this.reportedEpisode;
    this.breachSince = null;
    this.reportedEpisode = false;
    return reported
      ? [{ type: 'slo-recovered', queue, at: now, breachDurationMs: now - since }]
      : [];
  }
}
