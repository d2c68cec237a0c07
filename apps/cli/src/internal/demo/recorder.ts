import type { QueueCapacity } from '@qscale/contracts';
import type { DaemonState, QscaleConfig, QueueHold } from '@qscale/daemon';
import {
  busySeconds,
  type DemoJob,
  pickupP95PerInterval,
  quantile,
  type Window,
  WorkerClock,
  waitMs,
} from './accounting.js';

/** The p95 pickup panel's interval. */
export const PICKUP_INTERVAL_MS = 5_000;

/** What the live daemon did, second by second, for one queue (times from the start, ms). */
export interface DemoSeries {
  tMs: number[];
  /** Jobs added per second since the sample before (from the jobs' own timestamps). */
  arrivalRate: number[];
  pending: number[];
  /** The strategy's recommendation and the decided count of the last decision; null before one. */
  recommended: (number | null)[];
  decided: (number | null)[];
  /** Running + starting, and running only. */
  workers: number[];
  running: number[];
}

/** A stretch of time during which the same policies held the queue below its recommendation. */
export interface HoldSpan {
  fromMs: number;
  toMs: number;
  by: string[];
  /** Highest recommendation during the span, and the lowest and highest decided counts. */
  askedMax: number;
  allowedMin: number;
  allowedMax: number;
  /** The reason of the span's last decision. */
  reason: string;
}

export interface DemoQueueResult {
  queue: string;
  slo: { pickupMs: number; percentile: number };
  bounds: { min: number; max: number };
  jobs: number;
  /** Share (0-1) of jobs picked up within the SLO (a job still waiting: its wait so far). */
  sloAttainment: number;
  waitMs: { p50: number; p95: number; p99: number; max: number };
  /** Seconds of worker processes alive, the cost. */
  workerSeconds: number;
  /** Seconds jobs ran, divided by concurrency: the least worker-seconds the work needed. */
  busySeconds: number;
  scaleUps: number;
  scaleDowns: number;
  peakWorkers: number;
  series: DemoSeries;
  pickupP95: { tMs: number; p95Ms: number | null }[];
  holds: HoldSpan[];
  /** The daemon's last per-worker cost for the queue (measured once workers run). */
  cost: QueueCapacity | null;
}

export interface DemoResult {
  durationMs: number;
  queues: DemoQueueResult[];
  total: { jobs: number; sloAttainment: number; workerSeconds: number; busySeconds: number };
  /** What limits the host's workers in this configuration, in words. */
  capacityNote: string;
}

/**
 * Records what the live daemon did, sample by sample, and turns it into the demo's result:
 * the summary's figures, the chart's series and the spans where policies held the workers
 * below the strategy's recommendation.
 */
export class DemoRecorder {
  readonly #series = new Map<string, DemoSeries>();
  readonly #held = new Map<string, (QueueHold | null)[]>();
  readonly #clocks = new Map<string, WorkerClock>();
  readonly #cost = new Map<string, QueueCapacity>();

  constructor(
    queues: readonly string[],
    private readonly startedAt: number,
  ) {
    for (const queue of queues) {
      this.#series.set(queue, {
        tMs: [],
        arrivalRate: [],
        pending: [],
        recommended: [],
        decided: [],
        workers: [],
        running: [],
      });
      this.#held.set(queue, []);
      this.#clocks.set(queue, new WorkerClock({ start: startedAt }));
    }
  }

  /** One sample of the daemon's state at `at` (epoch ms). */
  sample(at: number, state: DaemonState): void {
    const tMs = at - this.startedAt;
    for (const queue of state.queues) {
      const series = this.#series.get(queue.name);
      if (!series) continue;
      series.tMs.push(tMs);
      series.pending.push(queue.snapshot?.pending ?? 0);
      series.recommended.push(queue.lastDecision?.recommendation.workers ?? null);
      series.decided.push(queue.lastDecision?.to ?? null);
      series.workers.push(queue.workers.running + queue.workers.starting);
      series.running.push(queue.workers.running);
      this.#held.get(queue.name)?.push(queue.held ?? null);
      this.#clocks.get(queue.name)?.sample(at, queue.pool?.workers ?? []);
      const cost = state.capacity?.perQueue?.[queue.name];
      if (cost) this.#cost.set(queue.name, cost);
    }
  }

  /**
   * The figures of the run up to `endAt` (epoch ms, the last sample), from the jobs of each
   * queue and the decisions the daemon logged.
   */
  result(
    config: QscaleConfig,
    jobsByQueue: ReadonlyMap<string, DemoJob[]>,
    state: DaemonState,
    endAt: number,
  ): DemoResult {
    const window: Window = { start: this.startedAt, end: endAt };
    const queues = config.queues.map((queue): DemoQueueResult => {
      const series = this.#series.get(queue.name) ?? emptySeries();
      const jobs = jobsByQueue.get(queue.name) ?? [];
      // From the jobs themselves at the end: a producer running late on a busy machine still
      // shows its arrivals when they happened.
      series.arrivalRate = arrivalRates(series.tMs, jobs, this.startedAt);
      const waits = jobs.map((job) => waitMs(job, endAt)).sort((a, b) => a - b);
      const decisions = state.decisions.filter(
        (decision) => decision.queue === queue.name && decision.at >= window.start,
      );
      return {
        queue: queue.name,
        slo: { pickupMs: queue.slo.pickupMs, percentile: queue.slo.percentile },
        bounds: { min: queue.workers.min, max: queue.workers.max },
        jobs: jobs.length,
        sloAttainment:
          waits.length === 0
            ? 1
            : waits.filter((wait) => wait <= queue.slo.pickupMs).length / waits.length,
        waitMs: {
          p50: quantile(waits, 0.5),
          p95: quantile(waits, 0.95),
          p99: quantile(waits, 0.99),
          max: waits.at(-1) ?? 0,
        },
        workerSeconds: this.#clocks.get(queue.name)?.workerSeconds(endAt) ?? 0,
        busySeconds: busySeconds(jobs, window, queue.workers.concurrency),
        scaleUps: decisions.filter((decision) => decision.direction === 'up').length,
        scaleDowns: decisions.filter((decision) => decision.direction === 'down').length,
        peakWorkers: Math.max(0, ...series.workers),
        series,
        pickupP95: pickupP95PerInterval(jobs, window, PICKUP_INTERVAL_MS),
        holds: holdSpans(series.tMs, this.#held.get(queue.name) ?? []),
        cost: this.#cost.get(queue.name) ?? null,
      };
    });
    const jobs = queues.reduce((sum, queue) => sum + queue.jobs, 0);
    const met = queues.reduce((sum, queue) => sum + queue.sloAttainment * queue.jobs, 0);
    return {
      durationMs: endAt - this.startedAt,
      queues,
      total: {
        jobs,
        sloAttainment: jobs === 0 ? 1 : met / jobs,
        workerSeconds: queues.reduce((sum, queue) => sum + queue.workerSeconds, 0),
        busySeconds: queues.reduce((sum, queue) => sum + queue.busySeconds, 0),
      },
      capacityNote: capacityNote(config, state),
    };
  }
}

/**
 * Consecutive samples held by the same policies, as spans. A span starts at the sample
 * before its first held one (the decision was taken in between) and ends at its last.
 */
export function holdSpans(tMs: readonly number[], held: readonly (QueueHold | null)[]): HoldSpan[] {
  const spans: HoldSpan[] = [];
  let open: HoldSpan | null = null;
  held.forEach((hold, i) => {
    const t = tMs[i] ?? 0;
    if (!hold) {
      open = null;
      return;
    }
    const current: HoldSpan | null = open;
    if (current && current.by.join() === hold.by.join()) {
      current.toMs = t;
      current.askedMax = Math.max(current.askedMax, hold.recommended);
      current.allowedMin = Math.min(current.allowedMin, hold.decided);
      current.allowedMax = Math.max(current.allowedMax, hold.decided);
      current.reason = hold.reason;
      return;
    }
    open = {
      fromMs: i === 0 ? 0 : (tMs[i - 1] ?? 0),
      toMs: t,
      by: hold.by,
      askedMax: hold.recommended,
      allowedMin: hold.decided,
      allowedMax: hold.decided,
      reason: hold.reason,
    };
    spans.push(open);
  });
  return spans;
}

/** What limits the workers of the whole host in this configuration, and what they cost. */
function capacityNote(config: QscaleConfig, state: DaemonState): string {
  const { limits } = config;
  const cap = `limits.maxWorkers ${limits.maxWorkers} for all queues, memory up to ${limits.memory.maxPercent}%`;
  const last = state.capacity
    ? `; at the end: room for ${state.capacity.maxWorkers} workers, limited by ${state.capacity.why ?? state.capacity.limiter}`
    : '';
  if (!limits.cpu.enforce) {
    return `host capacity: ${cap}; cpu is not a limit here (limits.cpu.enforce: false in this configuration)${last}`;
  }
  return `host capacity: ${cap}, cpu up to ${limits.cpu.maxPercent}% for the workers, priced at what one costs (other processes count only by the time the workers wait for a CPU)${last}`;
}

/** Jobs added per second between consecutive samples (the first: since the start). */
export function arrivalRates(
  tMs: readonly number[],
  jobs: readonly DemoJob[],
  startedAt: number,
): number[] {
  const added = jobs.map((job) => job.addedAt - startedAt).sort((a, b) => a - b);
  let next = 0;
  return tMs.map((t, i) => {
    const from = i === 0 ? 0 : (tMs[i - 1] ?? 0);
    let count = 0;
    // Sorted: what this sample takes is what came after the previous one.
    while (next < added.length && (added[next] ?? 0) <= t) {
      count++;
      next++;
    }
    return t > from ? count / ((t - from) / 1_000) : 0;
  });
}

function emptySeries(): DemoSeries {
  return {
    tMs: [],
    arrivalRate: [],
    pending: [],
    recommended: [],
    decided: [],
    workers: [],
    running: [],
  };
}
