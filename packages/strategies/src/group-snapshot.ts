import type {
  FigureSource,
  GroupScalingContext,
  QueueFigure,
  QueueSnapshot,
} from '@qscale/contracts';

const SOURCE_RANK: Record<FigureSource, number> = { counter: 0, observed: 1, estimate: 2 };

/**
 * One snapshot standing for the whole group, for the policies that look at a queue's snapshot
 * (no data, staleness, breach, paused). Figure by figure:
 * - `queue`: the group's name; `backend`: the first member's;
 * - `at`: the OLDEST member read, so a stale member makes the group stale;
 * - `pending`, `delayed`, `active`, `failed`, `arrivalRate`, `completionRate`: sums; null when
 *   any member's figure is null (an unknown part makes the sum unknown, so a policy never scales
 *   down on a partial count); `failed` is left out when no member reports it;
 * - `oldestPendingAgeMs`: the largest (the group is as late as its latest member); null when
 *   any member's is null;
 * - `serviceTimeMs`: mean weighted by each member's arrival rate (completion rate, or 1, when
 *   that is unknown), p95 the largest; null when no member has one;
 * - `pickupLatencyMs`: the worst p50, p95 and p99 of the members, samples summed; null when no
 *   member has one. Members have their own SLOs: per-member breaches are in the members' terms;
 * - `paused`: true only when every member is paused (a group with one live queue still works);
 * - `sources`: for each figure, the least direct source any member used for it;
 * - `error`: the first member's error, its message prefixed with the queue's name.
 */
export function groupSnapshot(ctx: GroupScalingContext): QueueSnapshot {
  const snapshots = ctx.members.map((member) => member.queue);
  const first = snapshots[0] as QueueSnapshot;
  const sum = (pick: (s: QueueSnapshot) => number | null | undefined): number | null => {
    let total = 0;
    for (const snapshot of snapshots) {
      const value = pick(snapshot);
      if (value === null || value === undefined) return null;
      total += value;
    }
    return total;
  };
  const failedKnown = snapshots.some((s) => s.failed !== undefined);
  const snapshot: QueueSnapshot = {
    queue: ctx.group,
    backend: first.backend,
    at: Math.min(...snapshots.map((s) => s.at)),
    pending: sum((s) => s.pending),
    delayed: sum((s) => s.delayed),
    active: sum((s) => s.active),
    ...(failedKnown ? { failed: sum((s) => s.failed) } : {}),
    oldestPendingAgeMs: worst(snapshots.map((s) => s.oldestPendingAgeMs)),
    arrivalRate: sum((s) => s.arrivalRate),
    completionRate: sum((s) => s.completionRate),
    serviceTimeMs: mixedServiceTime(snapshots),
    pickupLatencyMs: worstPickup(snapshots),
    sources: weakestSources(snapshots),
  };
  const pausedKnown = snapshots.filter((s) => s.paused !== undefined);
  if (pausedKnown.length > 0) {
    snapshot.paused = snapshots.every((s) => s.paused === true);
  }
  const failing = snapshots.find((s) => s.error !== undefined);
  if (failing?.error) {
    snapshot.error = {
      code: failing.error.code,
      message: `queue "${failing.queue}": ${failing.error.message}`,
    };
  }
  return snapshot;
}

function worst(values: readonly (number | null)[]): number | null {
  let max = 0;
  for (const value of values) {
    if (value === null) return null;
    max = Math.max(max, value);
  }
  return max;
}

function mixedServiceTime(snapshots: readonly QueueSnapshot[]): QueueSnapshot['serviceTimeMs'] {
  let weight = 0;
  let mean = 0;
  let p95 = 0;
  for (const snapshot of snapshots) {
    const service = snapshot.serviceTimeMs;
    if (!service) continue;
    const w = snapshot.arrivalRate ?? snapshot.completionRate ?? 1;
    const share = w > 0 ? w : 1e-9;
    weight += share;
    mean += share * service.mean;
    p95 = Math.max(p95, service.p95);
  }
  return weight > 0 ? { mean: mean / weight, p95 } : null;
}

function worstPickup(snapshots: readonly QueueSnapshot[]): QueueSnapshot['pickupLatencyMs'] {
  const known = snapshots.flatMap((s) => (s.pickupLatencyMs ? [s.pickupLatencyMs] : []));
  if (known.length === 0) return null;
  return {
    p50: Math.max(...known.map((p) => p.p50)),
    p95: Math.max(...known.map((p) => p.p95)),
    p99: Math.max(...known.map((p) => p.p99)),
    samples: known.reduce((total, p) => total + p.samples, 0),
  };
}

function weakestSources(snapshots: readonly QueueSnapshot[]): QueueSnapshot['sources'] {
  const sources: Partial<Record<QueueFigure, FigureSource>> = {};
  for (const snapshot of snapshots) {
    for (const [figure, source] of Object.entries(snapshot.sources) as [
      QueueFigure,
      FigureSource,
    ][]) {
      const current = sources[figure];
      if (current === undefined || SOURCE_RANK[source] > SOURCE_RANK[current]) {
        sources[figure] = source;
      }
    }
  }
  return sources;
}
