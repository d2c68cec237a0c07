// The simulated state: queues (their jobs and observations) and pools (the workers that serve
// them). A queue outside any group has a pool of its own; a group's pool serves its members.
import type {
  GroupDiscipline,
  QueueSnapshot,
  ScalingContext,
  StrategyInstance,
} from '@qscale/contracts';
import type { PolicyEvent, PolicyPipeline } from '@qscale/policies';
import type { GroupStrategyInstance } from '@qscale/strategies';
import type { QueueSeries } from '../simulate.js';
import type { Random } from './rng.js';
import { meanOf, type ObservationWindow, percentileOf } from './window.js';

export type WorkerState = 'starting' | 'running' | 'stopping' | 'gone';

export interface Worker {
  spawnAt: number;
  state: WorkerState;
  busy: number;
}

export interface PoolSettings {
  name: string;
  /** The SLO the pool's policies watch: the queue's, or the tightest member's in a group. */
  slo: { pickupMs: number; percentile: number };
  min: number;
  max: number;
  concurrency: number;
  spawnLatencyMs: number;
  spawnJitter: number;
  priority: number;
}

export interface QueueState {
  name: string;
  slo: { pickupMs: number; percentile: number };
  pool: PoolState;
  arrivals: Float64Array;
  services: Float64Array;
  nextArrival: number;
  nextStart: number;
  waits: Float64Array;
  activeJobs: number;
  completed: number;
  pickups: ObservationWindow;
  completions: ObservationWindow;
  lastTickAt: number;
  arrivedAtLastTick: number;
  completedAtLastTick: number;
  history: QueueSnapshot[];
  busyMs: number;
  met: number;
  series: QueueSeries | null;
}

/** Per member of a group: what it needed over the run, from the decision records. */
export interface MemberTally {
  needSum: number;
  ticks: number;
  /** Ticks where this member's need set the pool's size (the first such member on a tie). */
  deciding: number;
  shareSum: number;
}

export interface PoolState {
  settings: PoolSettings;
  members: QueueState[];
  /** Null for a queue's own pool. */
  group: {
    discipline: GroupDiscipline;
    strategy: GroupStrategyInstance;
    tally: MemberTally[];
  } | null;
  /** The queue's own strategy (pools of one queue). */
  strategy: StrategyInstance | null;
  pipeline: PolicyPipeline;
  /** Snapshots standing for a group, for its pipeline; unused for a queue's own pool. */
  history: QueueSnapshot[];
  workers: Worker[];
  freeSlots: number;
  spawnRandom: Random;
  /** Picks among backlogged members (weighted discipline). */
  pickRandom: Random;
  /** Round-robin: the member to try first. */
  nextTurn: number;
  workerMs: number;
  scaleUps: number;
  scaleDowns: number;
  peakWorkers: number;
  editsByPolicy: Record<string, number>;
  sloEvents: PolicyEvent[];
  /** Workers running at the start (warm). */
  initial: number;
}

export function countWorkers(pool: PoolState): {
  running: number;
  starting: number;
  stopping: number;
} {
  let running = 0;
  let starting = 0;
  let stopping = 0;
  for (const worker of pool.workers) {
    if (worker.state === 'running') running++;
    else if (worker.state === 'starting') starting++;
    else if (worker.state === 'stopping') stopping++;
  }
  return { running, starting, stopping };
}

function hasPending(queue: QueueState): boolean {
  return queue.nextStart < queue.nextArrival;
}

/**
 * The member a free slot takes its next job from, as the backend would; null when none waits.
 * - priority: the first member with a job waiting (Laravel, RQ);
 * - weighted: Sidekiq's fetch tries the queues in a weighted-random order and takes the first
 *   non-empty one, so among the members with jobs waiting, i is chosen with probability
 *   w_i / (sum of their weights);
 * - round-robin: Celery's rotation: the next member with a job waiting after the last served.
 */
export function nextMember(pool: PoolState): QueueState | null {
  const { members, group } = pool;
  if (group === null || group.discipline.kind === 'priority') {
    return members.find(hasPending) ?? null;
  }
  if (group.discipline.kind === 'round-robin') {
    for (let i = 0; i < members.length; i++) {
      const index = (pool.nextTurn + i) % members.length;
      const queue = members[index] as QueueState;
      if (hasPending(queue)) {
        pool.nextTurn = (index + 1) % members.length;
        return queue;
      }
    }
    return null;
  }
  const weights = group.discipline.weights;
  let total = 0;
  for (const [i, queue] of members.entries()) if (hasPending(queue)) total += weights[i] ?? 0;
  if (total === 0) return null;
  let draw = pool.pickRandom.uniform() * total;
  let last: QueueState | null = null;
  for (const [i, queue] of members.entries()) {
    if (!hasPending(queue)) continue;
    last = queue;
    draw -= weights[i] ?? 0;
    if (draw < 0) return queue;
  }
  return last;
}

const SOURCES = {
  pending: 'counter',
  delayed: 'counter',
  active: 'counter',
  oldestPendingAgeMs: 'counter',
  arrivalRate: 'counter',
  completionRate: 'counter',
  serviceTimeMs: 'observed',
  pickupLatencyMs: 'observed',
} as const;

/** What the daemon would hand the strategy for `queue` at `now` (workers are its pool's). */
export function queueContext(
  queue: QueueState,
  now: number,
  tickMs: number,
  observationWindowMs: number,
): ScalingContext {
  const { settings } = queue.pool;
  const spanMs = now - queue.lastTickAt;
  const since = now - observationWindowMs;
  const services = queue.completions.sortedSince(since);
  const serviceTimeMs =
    services.length > 0 ? { mean: meanOf(services), p95: percentileOf(services, 95) } : null;
  const waits = queue.pickups.sortedSince(since);
  const pickupLatencyMs =
    waits.length > 0
      ? {
          p50: percentileOf(waits, 50),
          p95: percentileOf(waits, 95),
          p99: percentileOf(waits, 99),
          samples: waits.length,
        }
      : null;
  const pending = queue.nextArrival - queue.nextStart;
  const snapshot: QueueSnapshot = {
    queue: queue.name,
    backend: 'bullmq',
    at: now,
    pending,
    delayed: 0,
    active: queue.activeJobs,
    oldestPendingAgeMs: pending > 0 ? now - (queue.arrivals[queue.nextStart] as number) : 0,
    arrivalRate: ((queue.nextArrival - queue.arrivedAtLastTick) / spanMs) * 1_000,
    completionRate: ((queue.completed - queue.completedAtLastTick) / spanMs) * 1_000,
    serviceTimeMs,
    pickupLatencyMs,
    sources: SOURCES,
  };
  const counts = countWorkers(queue.pool);
  return {
    now,
    queue: snapshot,
    history: queue.history.slice(),
    workers: { ...counts, concurrency: settings.concurrency },
    slo: queue.slo,
    spawnLatencyMs: settings.spawnLatencyMs,
    tickMs,
    bounds: { min: settings.min, max: settings.max },
  };
}
