import type { Decision, QueueSnapshot, WorkerCounts } from '@qscale/contracts';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What the gauges show, read from the daemon when Prometheus scrapes (not every tick). */
export interface MetricsSource {
  queues(): readonly {
    name: string;
    snapshot: QueueSnapshot | null;
    workers: WorkerCounts;
    /** Workers decided by the last tick; null before the first. */
    desired: number | null;
  }[];
  /** Redis round trips of the last metrics read; null before the first. */
  roundTrips(): number | null;
}

type QueueView = ReturnType<MetricsSource['queues']>[number];

/**
 * The daemon's Prometheus metrics, in their own registry (never the global one, so two
 * daemons in one process do not collide). Gauges are computed from the daemon's state at
 * scrape time, so a tick pays nothing for them and a queue that left the configuration leaves
 * /metrics too; counters and the tick histogram are updated as events happen. Seconds, per
 * Prometheus convention.
 */
export class DaemonMetrics {
  readonly registry = new Registry();

  readonly #decisions = new Counter({
    name: 'qscale_decisions_total',
    help: 'Decisions that changed the worker count, by direction',
    labelNames: ['queue', 'direction'],
    registers: [this.registry],
  });
  readonly #readerErrors = new Counter({
    name: 'qscale_reader_errors_total',
    help: 'Queue snapshots that could not be read completely, by error code',
    labelNames: ['queue', 'code'],
    registers: [this.registry],
  });
  readonly #workerEvents = new Counter({
    name: 'qscale_worker_events_total',
    help: 'Worker lifecycle events (spawned, exited, crashed, recycled, escalated, ...)',
    labelNames: ['queue', 'event'],
    registers: [this.registry],
  });
  readonly #tickDuration = new Histogram({
    name: 'qscale_tick_duration_seconds',
    help: 'Duration of one control-loop tick',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly #tickOverruns = new Counter({
    name: 'qscale_tick_overruns_total',
    help: 'Ticks that took longer than the tick period',
    registers: [this.registry],
  });

  constructor(source: MetricsSource) {
    const perQueue = (
      name: string,
      help: string,
      value: (queue: QueueView) => number | null | undefined,
    ) =>
      this.#gauge(name, help, ['queue'], (set) => {
        for (const queue of source.queues()) set({ queue: queue.name }, value(queue));
      });
    // An unknown figure is absent, not 0: a dashboard must not show "0 pending" in an outage.
    perQueue('qscale_queue_pending_jobs', 'Jobs ready and waiting', (q) => q.snapshot?.pending);
    perQueue('qscale_queue_delayed_jobs', 'Jobs scheduled for later', (q) => q.snapshot?.delayed);
    perQueue('qscale_queue_active_jobs', 'Jobs being processed', (q) => q.snapshot?.active);
    perQueue('qscale_queue_oldest_pending_age_seconds', 'Age of the oldest pending job', (q) =>
      seconds(q.snapshot?.oldestPendingAgeMs),
    );
    perQueue(
      'qscale_queue_arrival_rate',
      'Jobs arriving per second',
      (q) => q.snapshot?.arrivalRate,
    );
    perQueue(
      'qscale_queue_completion_rate',
      'Jobs finishing per second',
      (q) => q.snapshot?.completionRate,
    );
    perQueue('qscale_workers_desired', 'Workers decided by the last tick', (q) => q.desired);
    this.#gauge(
      'qscale_queue_pickup_latency_seconds',
      'Wait before pickup over the sliding window, by quantile',
      ['queue', 'quantile'],
      (set) => {
        for (const queue of source.queues()) {
          const pickup = queue.snapshot?.pickupLatencyMs;
          if (!pickup) continue;
          set({ queue: queue.name, quantile: '0.5' }, pickup.p50 / 1_000);
          set({ queue: queue.name, quantile: '0.95' }, pickup.p95 / 1_000);
          set({ queue: queue.name, quantile: '0.99' }, pickup.p99 / 1_000);
        }
      },
    );
    this.#gauge('qscale_workers', 'Worker processes by state', ['queue', 'state'], (set) => {
      for (const queue of source.queues()) {
        for (const state of ['running', 'starting', 'stopping'] as const) {
          set({ queue: queue.name, state }, queue.workers[state]);
        }
      }
    });
    this.#gauge(
      'qscale_redis_round_trips',
      'Redis round trips of the last metrics read',
      [],
      (set) => set({}, source.roundTrips()),
    );
  }

  /** Counts a snapshot that could not be read completely. */
  observeSnapshot(snapshot: QueueSnapshot): void {
    if (snapshot.error)
      this.#readerErrors.inc({ queue: snapshot.queue, code: snapshot.error.code });
  }

  observeDecision(decision: Decision): void {
    if (decision.to === decision.from) return;
    const direction = decision.to > decision.from ? 'up' : 'down';
    this.#decisions.inc({ queue: decision.queue, direction });
  }

  observeWorkerEvent(queue: string, event: string): void {
    this.#workerEvents.inc({ queue, event });
  }

  observeTick(durationMs: number, overran: boolean): void {
    this.#tickDuration.observe(durationMs / 1_000);
    if (overran) this.#tickOverruns.inc();
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** A gauge whose values are set from the daemon's state on every scrape. */
  #gauge<L extends string>(
    name: string,
    help: string,
    labelNames: L[],
    fill: (
      set: (labels: Partial<Record<L, string>>, value: number | null | undefined) => void,
    ) => void,
  ): void {
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        fill((labels, value) => {
          if (value !== null && value !== undefined) this.set(labels, value);
        });
      },
    });
  }
}

function seconds(ms: number | null | undefined): number | null {
  return ms === null || ms === undefined ? null : ms / 1_000;
}
