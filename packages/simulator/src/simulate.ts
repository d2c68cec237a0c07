import type { Decision, GroupDiscipline, ScalingContext, Strategy } from '@qscale/contracts';
import { createHostAllocator, type PolicyEvent, type PolicySettings } from '@qscale/policies';
import { DEFAULTS } from './defaults.js';
import { SimulatorError } from './errors.js';
import { buildPools, decide, finish } from './internal/build.js';
import { EventHeap } from './internal/heap.js';
import {
  countWorkers,
  nextMember,
  type PoolState,
  type QueueState,
  type Worker,
} from './internal/pool.js';
import { policyProfile } from './profiles.js';
import { parseTrace, type Trace, type TraceInput } from './trace.js';

export interface SimulateOptions {
  /**
   * The strategy, by built-in name or as a plugin (e.g. from `loadStrategy`); each queue gets
   * its own instance. @defaultValue `predictive`
   */
  strategy?: string | Strategy<unknown>;
  /** Options for the strategy's schema. @defaultValue `{}` */
  strategyOptions?: unknown;
  /**
   * Policy settings of every queue's pipeline, over the strategy's profile
   * (`policyProfile(strategy)`: qscale's defaults, or the baseline system's own damping).
   */
  policies?: PolicySettings;
  /** Seed of every random stream; the same trace, seed and strategy give the same result. @defaultValue 1 */
  seed?: number;
  /** Record a per-tick time series (for charts). @defaultValue true */
  series?: boolean;
  /** Called with the share of simulated time done (0-1), about every 5 %. */
  onProgress?: (done: number) => void;
  /** Called with every decision, after the host's fair share. */
  onDecision?: (decision: Decision, ctx: ScalingContext) => void;
  /** Window of the observed service times and pickup waits of each snapshot. @defaultValue 60000 */
  observationWindowMs?: number;
  /** History handed to the strategy each tick. @defaultValue 300000 */
  historyMs?: number;
}

/** Per-tick figures of one queue, for charts; index i is tick i. */
export interface QueueSeries {
  /** Tick times, ms since the start. */
  tMs: number[];
  /** Arrivals per second during the tick. */
  arrivalRate: number[];
  /** Jobs waiting at the tick. */
  pending: number[];
  /** Workers after the tick's decision (running + starting). */
  workers: number[];
  /** Workers taking jobs at the tick. */
  running: number[];
  /** The decided count. */
  desired: number[];
}

export interface QueueResult {
  queue: string;
  /** The group whose pool served the queue; null for a queue with a pool of its own. */
  group: string | null;
  /** Jobs that arrived. */
  jobs: number;
  /** Jobs picked up by a worker. */
  started: number;
  /** Share (0-1) of jobs picked up within the SLO; a job still waiting at the end counts when its wait so far is within. */
  sloAttainment: number;
  /** Pickup waits (still-waiting jobs: their wait so far), ms. */
  waitMs: { p50: number; p95: number; p99: number; max: number };
  /**
   * Seconds of worker processes alive (from spawn to exit), the cost. A group member gets the
   * group's worker-seconds in proportion to its busy-seconds (the group's own figure is in
   * `groups`).
   */
  workerSeconds: number;
  /** Seconds of service divided by concurrency: the least worker-seconds the work needed. */
  busySeconds: number;
  /** Decisions that added workers, and that removed some (a group member: its group's). */
  scaleUps: number;
  scaleDowns: number;
  /** Most workers at once (running + starting). */
  peakWorkers: number;
  /** How many decisions each policy edited. */
  editsByPolicy: Record<string, number>;
  /** SLO breach and recovery events of the pipeline (rate-limited). */
  sloEvents: PolicyEvent[];
  series: QueueSeries | null;
}

/** One worker group's pool over the run, and what each member needed of it. */
export interface GroupResult {
  group: string;
  discipline: GroupDiscipline['kind'];
  /** Seconds of the pool's worker processes alive. */
  workerSeconds: number;
  /** The members' busy-seconds together. */
  busySeconds: number;
  scaleUps: number;
  scaleDowns: number;
  peakWorkers: number;
  editsByPolicy: Record<string, number>;
  sloEvents: PolicyEvent[];
  /**
   * From the decision records, per member: its mean need (workers of the pool it needed for its
   * own SLO), how many ticks its need set the pool's size, and its mean share of the pickups
   * while all are backlogged (`share` term).
   */
  members: { queue: string; meanNeed: number; decidingTicks: number; share: number }[];
}

export interface SimulationResult {
  trace: string;
  strategy: string;
  seed: number;
  durationMs: number;
  tickMs: number;
  queues: QueueResult[];
  /** The trace's worker groups (empty without groups). */
  groups: GroupResult[];
  /** All queues together (a group's worker-seconds counted once). */
  total: {
    jobs: number;
    sloAttainment: number;
    workerSeconds: number;
    busySeconds: number;
    scaleEvents: number;
  };
}

type SimEvent =
  | { kind: 'done'; queue: QueueState; worker: Worker; serviceMs: number }
  | { kind: 'ready'; pool: PoolState; worker: Worker };

/**
 * Runs a workload trace through a strategy and the policy pipeline, exactly as the daemon
 * does each tick: a QueueSnapshot per queue from what the simulated metrics would show
 * (pending, active, oldest age, arrival and completion rates since the previous tick,
 * service time and pickup waits over the observation window), a ScalingContext with the
 * history, `strategy.recommend`, `pipeline.apply`, the host's fair share, then the workers
 * are reconciled: spawns take the spawn latency, a stopping worker finishes its jobs.
 * Arrivals and service times come from the seed alone, so every strategy meets the same jobs.
 *
 * A trace's `groups` run as one pool each: its workers take jobs from the member queues by
 * the group's discipline, `createGroupStrategy` sizes it from every member's context, and its
 * pipeline sees `groupSnapshot` (with the tightest member SLO).
 *
 * @throws SimulatorError `TRACE_INVALID` for a trace that fails the schema,
 *   `SIMULATION_OPTIONS_INVALID` for a bad seed or window; StrategyError / PolicyError for
 *   a bad strategy or policy setting.
 */
export function simulate(
  trace: Trace | TraceInput,
  options: SimulateOptions = {},
): SimulationResult {
  const parsed = parseTrace(trace, `trace "${(trace as { name?: unknown }).name ?? '?'}"`);
  const seed = options.seed ?? DEFAULTS.seed;
  if (!Number.isInteger(seed) || seed < 0) {
    throw new SimulatorError(
      'SIMULATION_OPTIONS_INVALID',
      `seed must be a whole number >= 0, got ${seed}`,
    );
  }
  const observationWindowMs = options.observationWindowMs ?? DEFAULTS.observationWindowMs;
  const historyMs = options.historyMs ?? DEFAULTS.historyMs;
  if (!(observationWindowMs > 0) || !(historyMs >= 0)) {
    throw new SimulatorError(
      'SIMULATION_OPTIONS_INVALID',
      `observationWindowMs must be > 0 and historyMs >= 0, got ${observationWindowMs} and ${historyMs}`,
    );
  }
  const strategy = options.strategy ?? 'predictive';
  const strategyName = typeof strategy === 'string' ? strategy : strategy.name;
  const tickMs = parsed.tickMs ?? DEFAULTS.trace.tickMs;
  const durationMs = parsed.durationMs;
  const policies: PolicySettings = { ...policyProfile(strategyName), ...options.policies };
  const recordSeries = options.series ?? true;

  const { queues, pools } = buildPools(parsed, seed, {
    strategy,
    strategyOptions: options.strategyOptions,
    policies,
    recordSeries,
  });
  const events = new EventHeap<SimEvent>();
  // As the daemon: one allocator for the host, holding a granted slot for the queue's cooldown.
  const allocator = createHostAllocator(
    policies.cooldownMs === undefined ? {} : { cooldownMs: policies.cooldownMs },
  );

  const retire = (pool: PoolState, worker: Worker, now: number) => {
    worker.state = 'gone';
    pool.workerMs += now - worker.spawnAt;
  };

  const dispatch = (pool: PoolState, now: number) => {
    const { concurrency } = pool.settings;
    while (pool.freeSlots > 0) {
      const worker = pool.workers.find((w) => w.state === 'running' && w.busy < concurrency);
      if (!worker) break;
      const queue = nextMember(pool);
      if (queue === null) break;
      const job = queue.nextStart++;
      const wait = now - (queue.arrivals[job] as number);
      queue.waits[job] = wait;
      if (wait <= queue.slo.pickupMs) queue.met++;
      queue.pickups.add(now, wait);
      const serviceMs = queue.services[job] as number;
      worker.busy++;
      pool.freeSlots--;
      queue.activeJobs++;
      queue.busyMs += Math.min(serviceMs, durationMs - now);
      events.push(now + serviceMs, { kind: 'done', queue, worker, serviceMs });
    }
  };

  const spawn = (pool: PoolState, now: number) => {
    const worker: Worker = { spawnAt: now, state: 'starting', busy: 0 };
    pool.workers.push(worker);
    const { spawnLatencyMs, spawnJitter } = pool.settings;
    const latency = spawnLatencyMs * (1 + spawnJitter * (2 * pool.spawnRandom.uniform() - 1));
    events.push(now + latency, { kind: 'ready', pool, worker });
  };

  const tick = (now: number) => {
    const decided = pools.map((pool) => {
      const { decision, ctx } = decide(pool, now, tickMs, observationWindowMs, historyMs);
      for (const queue of pool.members) {
        queue.lastTickAt = now;
        queue.arrivedAtLastTick = queue.nextArrival;
        queue.completedAtLastTick = queue.completed;
      }
      return { pool, decision, ctx };
    });
    let decisions = decided.map((d) => d.decision);
    if (parsed.host) {
      const settings = Object.fromEntries(
        pools.map((p) => [
          p.settings.name,
          { min: p.settings.min, max: p.settings.max, priority: p.settings.priority },
        ]),
      );
      decisions = allocator.allocate(decided, {
        now,
        maxWorkers: parsed.host.maxWorkers,
        limiter: 'config',
        queues: settings,
      });
    }
    decided.forEach(({ pool, ctx }, i) => {
      const decision = decisions[i] as Decision;
      for (const edit of decision.edits) {
        pool.editsByPolicy[edit.policy] = (pool.editsByPolicy[edit.policy] ?? 0) + 1;
      }
      options.onDecision?.(decision, ctx);
      reconcile(pool, decision.to, now);
      const after = countWorkers(pool);
      for (const queue of pool.members) {
        const series = queue.series;
        if (!series) continue;
        const last = queue.history.at(-1);
        series.tMs.push(now);
        series.arrivalRate.push(last?.arrivalRate ?? 0);
        series.pending.push(last?.pending ?? 0);
        series.running.push(ctx.workers.running);
        series.workers.push(after.running + after.starting);
        series.desired.push(decision.to);
      }
    });
  };

  const reconcile = (pool: PoolState, target: number, now: number) => {
    const counts = countWorkers(pool);
    const current = counts.running + counts.starting;
    if (target > current) {
      pool.scaleUps++;
      for (let i = current; i < target; i++) spawn(pool, now);
    } else if (target < current) {
      pool.scaleDowns++;
      let remove = current - target;
      const { concurrency } = pool.settings;
      // Cheapest first: spawns not yet ready, then idle workers, then busy ones (which finish).
      for (const pass of ['starting', 'idle', 'busy'] as const) {
        for (let i = pool.workers.length - 1; i >= 0 && remove > 0; i--) {
          const worker = pool.workers[i] as Worker;
          if (pass === 'starting' && worker.state === 'starting') {
            retire(pool, worker, now);
          } else if (pass === 'idle' && worker.state === 'running' && worker.busy === 0) {
            pool.freeSlots -= concurrency;
            retire(pool, worker, now);
          } else if (pass === 'busy' && worker.state === 'running') {
            pool.freeSlots -= concurrency - worker.busy;
            worker.state = 'stopping';
          } else {
            continue;
          }
          remove--;
        }
      }
    }
    pool.workers = pool.workers.filter((worker) => worker.state !== 'gone');
    const after = countWorkers(pool);
    pool.peakWorkers = Math.max(pool.peakWorkers, after.running + after.starting);
  };

  let nextTick = tickMs;
  let progressStep = 0;
  for (;;) {
    let arrivalAt = Number.POSITIVE_INFINITY;
    let arriving: QueueState | null = null;
    for (const queue of queues) {
      if (queue.nextArrival < queue.arrivals.length) {
        const at = queue.arrivals[queue.nextArrival] as number;
        if (at < arrivalAt) {
          arrivalAt = at;
          arriving = queue;
        }
      }
    }
    const eventAt = events.peekTime();
    const now = Math.min(eventAt, arrivalAt, nextTick);
    if (now > durationMs) break;
    if (eventAt <= arrivalAt && eventAt <= nextTick) {
      const event = events.pop() as SimEvent;
      const { worker } = event;
      if (event.kind === 'ready') {
        if (worker.state !== 'starting') continue;
        worker.state = 'running';
        event.pool.freeSlots += event.pool.settings.concurrency;
        dispatch(event.pool, now);
      } else {
        const { queue } = event;
        const pool = queue.pool;
        worker.busy--;
        queue.activeJobs--;
        queue.completed++;
        queue.completions.add(now, event.serviceMs);
        if (worker.state === 'running') pool.freeSlots++;
        else if (worker.state === 'stopping' && worker.busy === 0) retire(pool, worker, now);
        dispatch(pool, now);
      }
    } else if (arriving !== null && arrivalAt <= nextTick) {
      arriving.nextArrival++;
      dispatch(arriving.pool, now);
    } else {
      tick(now);
      nextTick += tickMs;
      const step = Math.floor((now / durationMs) * 20);
      if (options.onProgress && step > progressStep) {
        progressStep = step;
        options.onProgress(Math.min(1, now / durationMs));
      }
    }
  }
  return finish(queues, pools, parsed, strategyName, seed, tickMs, durationMs);
}
