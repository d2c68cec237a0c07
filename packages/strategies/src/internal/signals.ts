import type { PickupLatency, QueueSnapshot, ScalingContext } from '@qscale/contracts';

/** Workers that count toward the pool: running plus still starting (stopping ones are leaving). */
export function currentWorkers(ctx: ScalingContext): number {
  return ctx.workers.running + ctx.workers.starting;
}

/** The snapshots of the last `windowMs`, oldest first, ending with the current one. */
export function recentSnapshots(ctx: ScalingContext, windowMs: number): QueueSnapshot[] {
  const since = ctx.now - windowMs;
  const recent: QueueSnapshot[] = [];
  for (const snapshot of ctx.history) if (snapshot.at >= since) recent.push(snapshot);
  recent.push(ctx.queue);
  return recent;
}

/**
 * The observed pickup wait at the configured percentile, choosing among p50/p95/p99 the
 * smallest one at or above it; null when there is no observation.
 */
export function pickupAtPercentile(
  latency: PickupLatency | null | undefined,
  percentile: number,
): number | null {
  if (!latency || latency.samples === 0) return null;
  if (percentile <= 50) return latency.p50;
  if (percentile <= 95) return latency.p95;
  return latency.p99;
}

export interface ServiceTimeEstimate {
  /** Mean service time, ms. */
  meanMs: number;
  /** 95th percentile, ms; null when unknown. */
  p95Ms: number | null;
  /** Where it came from. */
  source: 'observed' | 'littles-law' | 'fallback';
}

/**
 * Mean service time over the snapshots given: each snapshot's observed mean of finished
 * jobs, weighted by the jobs it covers (completion rate x interval). Without observations,
 * Little's Law on busy slots over the same snapshots (time-averaged jobs in service /
 * completions per second); without that either, the fallback.
 */
export function estimateServiceTime(
  snapshots: readonly QueueSnapshot[],
  fallbackMs: number,
): ServiceTimeEstimate {
  let weight = 0;
  let sumMean = 0;
  let sumP95 = 0;
  let busySlotMs = 0;
  let completions = 0;
  let previous: QueueSnapshot | null = null;
  for (const snapshot of snapshots) {
    const interval = previous === null ? 0 : Math.max(0, snapshot.at - previous.at);
    if (interval > 0 && previous?.active != null && snapshot.active !== null) {
      busySlotMs += ((previous.active + snapshot.active) / 2) * interval;
      completions += ((snapshot.completionRate ?? 0) * interval) / 1_000;
    }
    previous = snapshot;
    const service = snapshot.serviceTimeMs;
    if (!service || !(service.mean > 0)) continue;
    const w = Math.max(interval, 1) * Math.max(snapshot.completionRate ?? 0, 1e-6);
    weight += w;
    sumMean += w * service.mean;
    sumP95 += w * service.p95;
  }
  if (weight > 0) return { meanMs: sumMean / weight, p95Ms: sumP95 / weight, source: 'observed' };
  if (completions >= 1 && busySlotMs > 0) {
    return { meanMs: busySlotMs / completions, p95Ms: null, source: 'littles-law' };
  }
  return { meanMs: fallbackMs, p95Ms: null, source: 'fallback' };
}

/** Rounds for display in reasons: 3 significant decimals at most. */
export function fmt(value: number, digits = 2): string {
  return String(Number(value.toFixed(digits)));
}

/** `1.5s`, `250ms`. */
export function fmtMs(ms: number): string {
  return ms >= 1_000 ? `${fmt(ms / 1_000, 1)}s` : `${Math.round(ms)}ms`;
}
