/**
 * Scaling inputs for the pure packages' tests (strategies, policies): a quiet queue snapshot, a
 * context around it, and a history of snapshots, each overridden by only what a test cares about.
 */
import type { QueueSnapshot, ScalingContext } from '@qscale/contracts';

/** A snapshot with every figure known and nothing happening, overridden by `figures`. */
export function snapshot(figures: Partial<QueueSnapshot> = {}): QueueSnapshot {
  return {
    queue: 'emails',
    backend: 'bullmq',
    at: 1_000_000,
    pending: 0,
    delayed: 0,
    active: 0,
    oldestPendingAgeMs: 0,
    arrivalRate: 0,
    completionRate: 0,
    serviceTimeMs: null,
    pickupLatencyMs: null,
    sources: {},
    ...figures,
  };
}

type ContextOverrides = Omit<Partial<ScalingContext>, 'queue' | 'workers'> & {
  queue?: Partial<QueueSnapshot>;
  workers?: Partial<ScalingContext['workers']>;
};

/** A context at `now` (default 1 000 000 ms) for queue `emails`, SLO p95 <= 30 s, 0-10 workers. */
export function context(overrides: ContextOverrides = {}): ScalingContext {
  const now = overrides.now ?? 1_000_000;
  return {
    now,
    history: overrides.history ?? [],
    slo: overrides.slo ?? { pickupMs: 30_000, percentile: 95 },
    spawnLatencyMs: overrides.spawnLatencyMs ?? 0,
    tickMs: overrides.tickMs ?? 2_000,
    bounds: overrides.bounds ?? { min: 0, max: 10 },
    queue: snapshot({ at: now, ...overrides.queue }),
    workers: { running: 0, starting: 0, stopping: 0, concurrency: 1, ...overrides.workers },
  };
}

/**
 * Snapshots every `tickMs` ending just before `now`, oldest first, whose arrival rate at time
 * t is `rate(t)` (t in ms relative to now, negative).
 */
export function history(
  count: number,
  tickMs: number,
  now: number,
  figures: (offsetMs: number) => Partial<QueueSnapshot>,
): QueueSnapshot[] {
  const snapshots: QueueSnapshot[] = [];
  for (let i = count; i >= 1; i--) {
    const at = now - i * tickMs;
    snapshots.push(snapshot({ at, ...figures(at - now) }));
  }
  return snapshots;
}
