import type { Decision, QueueSnapshot, WorkerCounts } from '@qscale/contracts';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The daemon's Prometheus metrics, in their own registry (never the global one, so two
 * daemons in one process, e.g. in tests, do not collide). Seconds, per Prometheus convention.
 */
export class DaemonMetrics {
  readonly registry = new Registry();

  readonly #pending = this.#gauge('qscale_queue_pending_jobs', 'Jobs ready and waiting', ['queue']);
  readonly #delayed = this.#gauge('qscale_queue_delayed_jobs', 'Jobs scheduled for later', [
    'queue',
  ]);
  readonly #active = this.#gauge('qscale_queue_active_jobs', 'Jobs being processed', ['queue']);
  readonly #oldestAge = this.#gauge(
    'qscale_queue_oldest_pending_age_seconds',
    'Age of the oldest pending job',
    ['queue'],
  );
  readonly #pickup = this.#gauge(
    'qscale_queue_pickup_latency_seconds',
    'Wait before pickup over the sliding window, by quantile',
    ['queue', 'quantile'],
  );
  readonly #arrivalRate = this.#gauge('qscale_queue_arrival_rate', 'Jobs arriving per second', [
    'queue',
  ]);
  readonly #completionRate = this.#gauge(
    'qscale_queue_completion_rate',
    'Jobs finishing per second',
    ['queue'],
  );
  readonly #workers = this.#gauge('qscale_workers', 'Worker processes by state', [
    'queue',
    'state',
  ]);
  readonly #desired = this.#gauge('qscale_workers_desired', 'Workers decided by the last tick', [
    'queue',
  ]);
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
    help: 'Worker lifecycle events (spawned, exited, crashed, recycled, killed, ...)',
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
  readonly #roundTrips = this.#gauge(
    'qscale_redis_round_trips',
    'Redis round trips of the last metrics read',
    [],
  );

  observeSnapshot(snapshot: QueueSnapshot): void {
    const queue = { queue: snapshot.queue };
    setOrRemove(this.#pending, queue, snapshot.pending);
    setOrRemove(this.#delayed, queue, snapshot.delayed);
    setOrRemove(this.#active, queue, snapshot.active);
    setOrRemove(this.#oldestAge, queue, seconds(snapshot.oldestPendingAgeMs));
    setOrRemove(this.#arrivalRate, queue, snapshot.arrivalRate);
    setOrRemove(this.#completionRate, queue, snapshot.completionRate);
    const pickup = snapshot.pickupLatencyMs ?? null;
    for (const quantile of ['0.5', '0.95', '0.99'] as const) {
      const key = ({ '0.5': 'p50', '0.95': 'p95', '0.99': 'p99' } as const)[quantile];
      setOrRemove(this.#pickup, { ...queue, quantile }, pickup ? pickup[key] / 1_000 : null);
    }
    if (snapshot.error)
      this.#readerErrors.inc({ queue: snapshot.queue, code: snapshot.error.code });
  }

  observeWorkers(queue: string, counts: WorkerCounts): void {
    for (const state of ['running', 'starting', 'stopping'] as const) {
      this.#workers.set({ queue, state }, counts[state]);
    }
  }

  observeDecision(decision: Decision): void {
    this.#desired.set({ queue: decision.queue }, decision.to);
    if (decision.to !== decision.from) {
      const direction = decision.to > decision.from ? 'up' : 'down';
      this.#decisions.inc({ queue: decision.queue, direction });
    }
  }

  observeWorkerEvent(queue: string, event: string): void {
    this.#workerEvents.inc({ queue, event });
  }

  observeTick(durationMs: number, overran: boolean): void {
    this.#tickDuration.observe(durationMs / 1_000);
    if (overran) this.#tickOverruns.inc();
  }

  observeRoundTrips(count: number): void {
    this.#roundTrips.set(count);
  }

  /** Drops every series of a queue that left the configuration. */
  forgetQueue(queue: string): void {
    for (const metric of [
      this.#pending,
      this.#delayed,
      this.#active,
      this.#oldestAge,
      this.#arrivalRate,
      this.#completionRate,
      this.#desired,
    ]) {
      metric.remove({ queue });
    }
    for (const quantile of ['0.5', '0.95', '0.99']) this.#pickup.remove({ queue, quantile });
    for (const state of ['running', 'starting', 'stopping']) this.#workers.remove({ queue, state });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  #gauge<L extends string>(name: string, help: string, labelNames: L[]): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }
}

function seconds(ms: number | null): number | null {
  return ms === null ? null : ms / 1_000;
}

// An unknown figure is absent, not 0: a dashboard must not show "0 pending" during an outage.
function setOrRemove<L extends string>(
  gauge: Gauge<L>,
  labels: Record<L, string>,
  value: number | null,
): void {
  if (value === null) gauge.remove(labels);
  else gauge.set(labels, value);
}
