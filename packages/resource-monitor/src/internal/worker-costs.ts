import type { ResourceSnapshot } from '@qscale/contracts';
import { DEFAULTS } from './defaults.js';
import { ResourceMonitorError } from './errors.js';

/** What one running worker of a queue costs, as measured (smoothed over ticks). */
export interface MeasuredCost {
  /** Mean CPU used per running worker, in cores; null until a worker has two readings. */
  cpuCores: number | null;
  /** Mean RSS per running worker, in bytes; null until one is read. */
  memoryBytes: number | null;
  /** Mean run-queue wait per running worker, in cores (schedstat); null where unknown. */
  cpuWaitCores: number | null;
}

export interface WorkerCostTrackerOptions {
  /**
   * Half-life of the smoothing: a tick's mean moves the estimate by half after this long.
   * @defaultValue 20000 (DEFAULTS.costHalfLifeMs)
   */
  halfLifeMs?: number;
}

/** Per queue, smoothed per-worker costs from one snapshot to the next. */
export interface WorkerCostTracker {
  /**
   * Folds this snapshot's mean per running worker of each queue into its estimate and returns
   * every queue's estimate. Queues missing from `queues` are forgotten; a queue with no figure
   * this tick keeps its last estimate (a queue scaled to zero still knows what a worker costs).
   */
  observe(
    snapshot: ResourceSnapshot,
    queues: readonly { queue: string; runningPids: readonly number[] }[],
  ): Record<string, MeasuredCost>;
}

interface Smoothed {
  value: number;
  atMs: number;
}

/**
 * Exponentially weighted means over time (not over ticks, so a slow tick weighs as much as
 * its duration): one job's spike in one worker does not swing the capacity from tick to tick.
 */
export function createWorkerCostTracker(options: WorkerCostTrackerOptions = {}): WorkerCostTracker {
  const halfLifeMs = options.halfLifeMs ?? DEFAULTS.costHalfLifeMs;
  if (!(halfLifeMs >= 0) || !Number.isFinite(halfLifeMs)) {
    throw new ResourceMonitorError(
      'RESOURCE_OPTIONS_INVALID',
      `halfLifeMs: expected a number of milliseconds >= 0, got ${String(halfLifeMs)}`,
    );
  }
  const state = new Map<string, Record<keyof MeasuredCost, Smoothed | null>>();

  const fold = (previous: Smoothed | null, sample: number | null, atMs: number) => {
    if (sample === null) return previous;
    if (previous === null || halfLifeMs === 0) return { value: sample, atMs };
    const elapsed = Math.max(0, atMs - previous.atMs);
    const keep = 0.5 ** (elapsed / halfLifeMs);
    return { value: previous.value * keep + sample * (1 - keep), atMs };
  };

  return {
    observe(snapshot, queues) {
      const result: Record<string, MeasuredCost> = {};
      const seen = new Set<string>();
      for (const { queue, runningPids } of queues) {
        seen.add(queue);
        const now = measuredMean(snapshot, runningPids);
        const before = state.get(queue) ?? {
          cpuCores: null,
          memoryBytes: null,
          cpuWaitCores: null,
        };
        const after = {
          cpuCores: fold(before.cpuCores, now.cpuCores, snapshot.at),
          memoryBytes: fold(before.memoryBytes, now.memoryBytes, snapshot.at),
          cpuWaitCores: fold(before.cpuWaitCores, now.cpuWaitCores, snapshot.at),
        };
        state.set(queue, after);
        result[queue] = {
          cpuCores: after.cpuCores?.value ?? null,
          memoryBytes: after.memoryBytes?.value ?? null,
          cpuWaitCores: after.cpuWaitCores?.value ?? null,
        };
      }
      for (const queue of [...state.keys()]) if (!seen.has(queue)) state.delete(queue);
      return result;
    },
  };
}

/** This snapshot's mean per worker over `pids` (those it has figures for). */
export function measuredMean(snapshot: ResourceSnapshot, pids: readonly number[]): MeasuredCost {
  const workers = pids.flatMap((pid) => {
    const worker = snapshot.perWorker[String(pid)];
    return worker ? [worker] : [];
  });
  return {
    cpuCores: mean(workers.flatMap((worker) => (worker.cpuCores != null ? [worker.cpuCores] : []))),
    memoryBytes: mean(workers.map((worker) => worker.rssBytes)),
    cpuWaitCores: mean(
      workers.flatMap((worker) => (worker.cpuWaitCores != null ? [worker.cpuWaitCores] : [])),
    ),
  };
}

function mean(values: readonly number[]): number | null {
  return values.length === 0 ? null : values.reduce((sum, value) => sum + value, 0) / values.length;
}
