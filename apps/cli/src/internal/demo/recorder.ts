import type { DaemonState, QueueConfig } from '@qscale/daemon';
import type { StopSummary } from '@qscale/process-supervisor';
import type { QueueResult, QueueSeries, SimulationResult } from '@qscale/simulator';
import Table from 'cli-table3';
import { formatDuration } from '../format.js';

/**
 * Records what the live daemon did, second by second, and turns it into the same result
 * shape the simulator reports, so the demo's chart and summary read like `qscale simulate`'s.
 */
export class DemoRecorder {
  readonly #series = new Map<string, QueueSeries>();

  constructor(queues: readonly string[]) {
    for (const queue of queues) {
      this.#series.set(queue, {
        tMs: [],
        arrivalRate: [],
        pending: [],
        workers: [],
        running: [],
        desired: [],
      });
    }
  }

  sample(tMs: number, state: DaemonState, arrivals: ReadonlyMap<string, number[]>): void {
    const second = Math.floor(tMs / 1_000) - 1;
    for (const queue of state.queues) {
      const series = this.#series.get(queue.name);
      if (!series) continue;
      series.tMs.push(tMs);
      series.arrivalRate.push(arrivals.get(queue.name)?.[second] ?? 0);
      series.pending.push(queue.snapshot?.pending ?? 0);
      series.workers.push(queue.workers.running + queue.workers.starting);
      series.running.push(queue.workers.running);
      series.desired.push(queue.lastDecision?.to ?? 0);
    }
  }

  result(
    queues: readonly QueueConfig[],
    pickups: ReadonlyMap<string, { waits: number[]; busyMs: number }>,
    state: DaemonState,
    tickMs: number,
  ): SimulationResult {
    const results: QueueResult[] = queues.map((queue) => {
      const series = this.#series.get(queue.name) ?? null;
      const { waits = [], busyMs = 0 } = pickups.get(queue.name) ?? {};
      const sorted = [...waits].sort((a, b) => a - b);
      const at = (q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? 0;
      const decisions = state.decisions.filter((decision) => decision.queue === queue.name);
      // Each sample stands for the second before it.
      const workerSeconds = (series?.workers ?? []).reduce((sum, workers) => sum + workers, 0);
      return {
        queue: queue.name,
        jobs: waits.length,
        started: waits.length,
        sloAttainment:
          waits.length === 0
            ? 1
            : waits.filter((wait) => wait <= queue.slo.pickupMs).length / waits.length,
        waitMs: { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted.at(-1) ?? 0 },
        workerSeconds,
        busySeconds: busyMs / 1_000 / queue.workers.concurrency,
        scaleUps: decisions.filter((decision) => decision.direction === 'up').length,
        scaleDowns: decisions.filter((decision) => decision.direction === 'down').length,
        peakWorkers: Math.max(0, ...(series?.workers ?? [])),
        editsByPolicy: {},
        sloEvents: [],
        series,
      };
    });
    const jobs = results.reduce((sum, queue) => sum + queue.jobs, 0);
    const met = results.reduce((sum, queue) => sum + queue.sloAttainment * queue.jobs, 0);
    const durationMs = Math.max(0, ...results.map((queue) => queue.series?.tMs.at(-1) ?? 0));
    return {
      trace: 'qscale demo: real Redis, real BullMQ workers',
      strategy: 'predictive (live daemon)',
      seed: 0,
      durationMs,
      tickMs,
      queues: results,
      total: {
        jobs,
        sloAttainment: jobs === 0 ? 1 : met / jobs,
        workerSeconds: results.reduce((sum, queue) => sum + queue.workerSeconds, 0),
        busySeconds: results.reduce((sum, queue) => sum + queue.busySeconds, 0),
        scaleEvents: results.reduce((sum, queue) => sum + queue.scaleUps + queue.scaleDowns, 0),
      },
    };
  }

  summary(result: SimulationResult, stopped: StopSummary | null): string {
    const table = new Table({
      head: [
        'queue',
        'jobs',
        'SLO met',
        'p95 pickup',
        'worker-s',
        'busy-s',
        'scale up/down',
        'peak workers',
      ],
      colAligns: ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
      style: { head: [], border: [], compact: true },
    });
    for (const queue of result.queues) {
      table.push([
        queue.queue,
        queue.jobs,
        `${(queue.sloAttainment * 100).toFixed(1)}%`,
        formatDuration(queue.waitMs.p95),
        Math.round(queue.workerSeconds),
        Math.round(queue.busySeconds),
        `${queue.scaleUps}/${queue.scaleDowns}`,
        queue.peakWorkers,
      ]);
    }
    const stop = stopped
      ? `stopped ${stopped.stopped} workers gracefully${stopped.escalated > 0 ? ` (${stopped.escalated} needed SIGKILL)` : ''}`
      : 'no workers to stop';
    return [
      `done in ${formatDuration(result.durationMs)}: ${result.total.jobs} jobs, ${(result.total.sloAttainment * 100).toFixed(1)}% picked up within their SLO; ${stop}`,
      table.toString(),
    ].join('\n');
  }
}
