import type {
  Decision,
  HostCapacity,
  QueueSnapshot,
  ResourceSnapshot,
  WorkerCounts,
} from '@qscale/contracts';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { heldBackBy } from './held-back.js';

/** What the gauges show, read from the daemon when Prometheus scrapes (not every tick). */
export interface MetricsSource {
  queues(): readonly {
    name: string;
    snapshot: QueueSnapshot | null;
    workers: WorkerCounts;
    /** Workers decided by the last tick; null before the first. */
    desired: number | null;
    /** The last decision, with the strategy's recommendation and every policy edit. */
    decision?: Decision | null;
    /** The queue's pickup SLO. */
    slo?: { pickupMs: number; percentile: number };
  }[];
  /**
   * The member queues of worker groups: each queue's snapshot, SLO and the workers its group
   * needs for it (its term at the last tick).
   */
  groupMembers?(): readonly {
    group: string;
    queue: string;
    snapshot: QueueSnapshot | null;
    slo: { pickupMs: number; percentile: number };
    workersNeeded: number | null;
  }[];
  /** Redis round trips of the last metrics read; null before the first. */
  roundTrips(): number | null;
  /** What the last tick read of the host, and the capacity the allocator shared. */
  host?(): {
    resources: ResourceSnapshot | null;
    capacity: HostCapacity | null;
    /** `limits.maxWorkers`. */
    maxWorkers: number;
  };
  /** Outgoing alert webhooks: deliveries waiting, by webhook name. */
  alertQueues?(): readonly { webhook: string; queued: number }[];
}

type QueueView = ReturnType<MetricsSource['queues']>[number];
type Fill<L extends string> = (
  set: (labels: Partial<Record<L, string>>, value: number | null | undefined) => void,
) => void;

/** The resources that can limit the host's workers, as `qscale_host_capacity_limited_by` lists them. */
const LIMITERS = ['cpu', 'memory', 'config'] as const;

/**
 * The daemon's Prometheus metrics, in their own registry (never the global one, so two
 * daemons in one process do not collide). Gauges are computed from the daemon's state at
 * scrape time, so a tick pays nothing for them and a queue that left the configuration leaves
 * /metrics too; counters and the tick histogram are updated as events happen. Every name
 * carries its unit (`_seconds`, `_bytes`, `_cores`, `_per_second`, `_jobs`, `_workers`,
 * `_total`), as Prometheus' naming conventions ask and `promtool check metrics` checks.
 */
export class DaemonMetrics {
  readonly registry = new Registry();

  readonly #decisions = this.#counter(
    'qscale_decisions_total',
    'Decisions that changed the worker count, by direction',
    ['queue', 'direction'],
  );
  readonly #readerErrors = this.#counter(
    'qscale_reader_errors_total',
    'Queue snapshots that could not be read completely, by error code',
    ['queue', 'code'],
  );
  readonly #workerEvents = this.#counter(
    'qscale_worker_events_total',
    'Worker lifecycle events (spawned, exited, crashed, recycled, escalated, ...)',
    ['queue', 'event'],
  );
  readonly #tickDuration = new Histogram({
    name: 'qscale_tick_duration_seconds',
    help: 'Duration of one control-loop tick',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly #tickOverruns = this.#counter(
    'qscale_tick_overruns_total',
    'Ticks that took longer than the tick period',
    [],
  );
  readonly #alertDeliveries = this.#counter(
    'qscale_alert_deliveries_total',
    'Alert webhook deliveries by outcome: sent (2xx), failed (a 4xx other than 429, or retries exhausted)',
    ['webhook', 'outcome'],
  );
  readonly #alertRetries = this.#counter(
    'qscale_alert_retries_total',
    'Alert webhook attempts retried after a 5xx, a 429, a timeout or a network error',
    ['webhook'],
  );
  readonly #alertsDropped = this.#counter(
    'qscale_alert_dropped_total',
    'Alerts dropped, oldest first, because the webhook queue was full',
    ['webhook'],
  );
  readonly #alertsSuppressed = this.#counter(
    'qscale_alert_suppressed_total',
    'Alert events not sent because the same event key fired within alerts.minInterval',
    ['event'],
  );

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
    perQueue(
      'qscale_queue_failed_jobs',
      'Failed jobs the backend keeps',
      (q) => q.snapshot?.failed,
    );
    perQueue('qscale_queue_oldest_pending_age_seconds', 'Age of the oldest pending job', (q) =>
      seconds(q.snapshot?.oldestPendingAgeMs),
    );
    perQueue(
      'qscale_queue_arrivals_per_second',
      'Jobs arriving per second (measured over the last tick)',
      (q) => q.snapshot?.arrivalRate,
    );
    perQueue(
      'qscale_queue_completions_per_second',
      'Jobs finishing (completed or failed) per second',
      (q) => q.snapshot?.completionRate,
    );
    // One gauge per percentile, not a `quantile` label: that label is reserved for summaries,
    // and the average of a p50 and a p99 means nothing (see the README).
    for (const p of ['p50', 'p95', 'p99'] as const) {
      perQueue(
        `qscale_queue_pickup_latency_${p}_seconds`,
        `Wait before pickup over the reader's sliding window, ${p}`,
        (q) => seconds(q.snapshot?.pickupLatencyMs?.[p]),
      );
    }
    perQueue(
      'qscale_queue_pickup_latency_samples',
      'Pickups measured in the sliding window behind the pickup percentiles',
      (q) => q.snapshot?.pickupLatencyMs?.samples,
    );
    perQueue('qscale_queue_service_time_mean_seconds', 'Mean time to run one job', (q) =>
      seconds(q.snapshot?.serviceTimeMs?.mean),
    );
    perQueue('qscale_queue_service_time_p95_seconds', 'Time to run one job, p95', (q) =>
      seconds(q.snapshot?.serviceTimeMs?.p95),
    );
    perQueue('qscale_queue_slo_pickup_seconds', 'The pickup SLO: the target wait', (q) =>
      seconds(q.slo?.pickupMs),
    );
    perQueue(
      'qscale_queue_slo_pickup_quantile',
      'The pickup SLO: share of jobs (0-1) that must start within the target',
      (q) => (q.slo ? q.slo.percentile / 100 : null),
    );
    this.#gauge('qscale_queue_workers', 'Worker processes by state', ['queue', 'state'], (set) => {
      for (const queue of source.queues()) {
        for (const state of ['running', 'starting', 'stopping'] as const) {
          set({ queue: queue.name, state }, queue.workers[state]);
        }
      }
    });
    perQueue('qscale_queue_workers_desired', 'Workers decided by the last tick', (q) => q.desired);
    perQueue(
      'qscale_queue_workers_recommended',
      "Workers the strategy recommended at the last tick, before the policies' edits",
      (q) => q.decision?.recommendation.workers,
    );
    this.#gauge(
      'qscale_queue_workers_held_back',
      'Workers the last decision kept below the recommendation, by the policy that made the (last) cut',
      ['queue', 'policy'],
      (set) => {
        for (const queue of source.queues()) {
          const held = queue.decision ? heldBackBy(queue.decision) : null;
          if (held) set({ queue: queue.name, policy: held.policy }, held.workers);
        }
      },
    );
    this.#hostGauges(source);
    this.#groupGauges(source);
    this.#gauge(
      'qscale_redis_round_trips',
      'Redis round trips of the last metrics read',
      [],
      (set) => set({}, source.roundTrips()),
    );
    this.#gauge(
      'qscale_alert_queue_length',
      'Alert deliveries waiting to be sent, by webhook',
      ['webhook'],
      (set) => {
        for (const { webhook, queued } of source.alertQueues?.() ?? []) set({ webhook }, queued);
      },
    );
  }

  /** A group's pool is a queue above; its member queues get their own figures here. */
  #groupGauges(source: MetricsSource): void {
    type Member = NonNullable<ReturnType<NonNullable<MetricsSource['groupMembers']>>>[number];
    const perMember = (
      name: string,
      help: string,
      value: (member: Member) => number | null | undefined,
    ) =>
      this.#gauge(name, help, ['group', 'queue'], (set) => {
        for (const member of source.groupMembers?.() ?? []) {
          set({ group: member.group, queue: member.queue }, value(member));
        }
      });
    perMember(
      'qscale_group_member_pending_jobs',
      'Jobs ready and waiting in a member queue of a worker group',
      (m) => m.snapshot?.pending,
    );
    perMember(
      'qscale_group_member_pickup_latency_p95_seconds',
      "Wait before pickup in a member queue over the reader's sliding window, p95",
      (m) => seconds(m.snapshot?.pickupLatencyMs?.p95),
    );
    perMember(
      'qscale_group_member_slo_pickup_seconds',
      "A member queue's own pickup SLO: the target wait",
      (m) => seconds(m.slo.pickupMs),
    );
    perMember(
      'qscale_group_member_workers_needed',
      "Workers the whole group needs for this member queue's SLO at the last tick (its term)",
      (m) => m.workersNeeded,
    );
  }

  /** Host capacity (what the allocator shared), its limiting resource, and what was read. */
  #hostGauges(source: MetricsSource): void {
    const host = () => source.host?.() ?? null;
    const hostGauge = (
      name: string,
      help: string,
      value: (view: NonNullable<ReturnType<typeof host>>) => number | null | undefined,
    ) =>
      this.#gauge(name, help, [], (set) => {
        const view = host();
        if (view) set({}, value(view));
      });
    hostGauge(
      'qscale_host_capacity_workers',
      'Workers of all queues together the host can hold: the smallest of CPU, memory and limits.maxWorkers',
      (view) => Math.min(view.maxWorkers, view.capacity?.maxWorkers ?? Number.POSITIVE_INFINITY),
    );
    this.#gauge(
      'qscale_host_capacity_limited_by',
      'What limits the host capacity: 1 for the limiting resource (cpu, memory or config), 0 for the others',
      ['resource'],
      (set) => {
        const view = host();
        if (!view) return;
        const limiter = limiterOf(view.capacity, view.maxWorkers);
        for (const resource of LIMITERS) set({ resource }, resource === limiter ? 1 : 0);
      },
    );
    hostGauge(
      'qscale_host_headroom_cpu_cores',
      'CPU left for more workers under limits.cpu.maxPercent, in cores',
      (view) => view.capacity?.headroom.cpuCores,
    );
    hostGauge(
      'qscale_host_headroom_memory_bytes',
      'Memory left for more workers under limits.memory.maxPercent',
      (view) => view.capacity?.headroom.memoryBytes,
    );
    hostGauge(
      'qscale_host_cpu_limit_cores',
      "CPU available to the daemon's cgroup (or the host), in cores",
      (view) => view.resources?.cpu.limitCores,
    );
    hostGauge(
      'qscale_host_cpu_used_cores',
      'CPU used in the cgroup (or the host) since the previous reading, in cores',
      (view) => view.resources?.cpu.usedCores,
    );
    hostGauge(
      'qscale_host_memory_limit_bytes',
      "Memory limit of the daemon's cgroup, or the host's total",
      (view) => view.resources?.memory.limitBytes,
    );
    hostGauge(
      'qscale_host_memory_used_bytes',
      'Memory in use (working set: usage minus inactive file cache)',
      (view) => view.resources?.memory.usedBytes,
    );
    const perQueue = <K extends 'maxWorkers' | 'cpuCoresPerWorker' | 'memoryBytesPerWorker'>(
      name: string,
      help: string,
      key: K,
    ) =>
      this.#gauge(name, help, ['queue'], (set) => {
        const perQueue = host()?.capacity?.perQueue ?? {};
        for (const [queue, capacity] of Object.entries(perQueue)) set({ queue }, capacity[key]);
      });
    perQueue(
      'qscale_queue_capacity_workers',
      'Workers of this queue the host can hold if only this queue grows',
      'maxWorkers',
    );
    perQueue(
      'qscale_queue_worker_cpu_cores',
      'CPU one worker of this queue is expected to use (measured, configured or default)',
      'cpuCoresPerWorker',
    );
    perQueue(
      'qscale_queue_worker_memory_bytes',
      'Memory one worker of this queue is expected to use (measured, configured or default)',
      'memoryBytesPerWorker',
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

  /** What the alert webhooks report: a delivery's end, a retry, a drop, a suppressed event. */
  readonly alerts = {
    delivered: (webhook: string, outcome: 'sent' | 'failed') =>
      this.#alertDeliveries.inc({ webhook, outcome }),
    retried: (webhook: string) => this.#alertRetries.inc({ webhook }),
    dropped: (webhook: string) => this.#alertsDropped.inc({ webhook }),
    suppressed: (event: string) => this.#alertsSuppressed.inc({ event }),
  };

  render(): Promise<string> {
    return this.registry.metrics();
  }

  #counter<L extends string>(name: string, help: string, labelNames: L[]): Counter<L> {
    return new Counter<L>({ name, help, labelNames, registers: [this.registry] });
  }

  /** A gauge whose values are set from the daemon's state on every scrape. */
  #gauge<L extends string>(name: string, help: string, labelNames: L[], fill: Fill<L>): void {
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        fill((labels, value) => {
          if (value !== null && value !== undefined && Number.isFinite(value)) {
            this.set(labels, value);
          }
        });
      },
    });
  }
}

/** What limited the workers the allocator shared: the same rule as the daemon's tick. */
export function limiterOf(
  capacity: HostCapacity | null,
  maxWorkers: number,
): 'cpu' | 'memory' | 'config' {
  return capacity && capacity.maxWorkers < maxWorkers ? capacity.limiter : 'config';
}

function seconds(ms: number | null | undefined): number | null {
  return ms === null || ms === undefined ? null : ms / 1_000;
}
