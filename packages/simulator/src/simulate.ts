import type {
  Decision,
  QueueSnapshot,
  ScalingContext,
  Strategy,
  StrategyInstance,
} from '@qscale/contracts';
import {
  createHostAllocator,
  createPolicyPipeline,
  type PolicyEvent,
  type PolicyPipeline,
  type PolicySettings,
} from '@qscale/policies';
import { createStrategy } from '@qscale/strategies';
import { DEFAULTS } from './defaults.js';
import { SimulatorError } from './errors.js';
import { EventHeap } from './internal/heap.js';
import { mix32, Random } from './internal/rng.js';
import { meanOf, ObservationWindow, percentileOf } from './internal/window.js';
import { arrivalTimes, serviceTimes } from './internal/workload.js';
import { policyProfile } from './profiles.js';
import { parseTrace, type Trace, type TraceInput, type TraceQueue } from './trace.js';

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
  /** Jobs that arrived. */
  jobs: number;
  /** Jobs picked up by a worker. */
  started: number;
  /** Share (0-1) of jobs picked up within the SLO; a job still waiting at the end counts when its wait so far is within. */
  sloAttainment: number;
  /** Pickup waits (still-waiting jobs: their wait so far), ms. */
  waitMs: { p50: number; p95: number; p99: number; max: number };
  /** Seconds of worker processes alive (from spawn to exit), the cost. */
  workerSeconds: number;
  /** Seconds of service divided by concurrency: the least worker-seconds the work needed. */
  busySeconds: number;
  /** Decisions that added workers, and that removed some. */
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

export interface SimulationResult {
  trace: string;
  strategy: string;
  seed: number;
  durationMs: number;
  tickMs: number;
  queues: QueueResult[];
  /** All queues together. */
  total: {
    jobs: number;
    sloAttainment: number;
    workerSeconds: number;
    busySeconds: number;
    scaleEvents: number;
  };
}

type WorkerState = 'starting' | 'running' | 'stopping' | 'gone';

interface Worker {
  spawnAt: number;
  state: WorkerState;
  busy: number;
}

interface Settings {
  name: string;
  slo: { pickupMs: number; percentile: number };
  min: number;
  max: number;
  concurrency: number;
  spawnLatencyMs: number;
  spawnJitter: number;
  priority: number;
}

interface QueueState {
  settings: Settings;
  arrivals: Float64Array;
  services: Float64Array;
  nextArrival: number;
  nextStart: number;
  waits: Float64Array;
  workers: Worker[];
  freeSlots: number;
  activeJobs: number;
  completed: number;
  pickups: ObservationWindow;
  completions: ObservationWindow;
  lastTickAt: number;
  arrivedAtLastTick: number;
  completedAtLastTick: number;
  history: QueueSnapshot[];
  strategy: StrategyInstance;
  pipeline: PolicyPipeline;
  spawnRandom: Random;
  workerMs: number;
  busyMs: number;
  met: number;
  scaleUps: number;
  scaleDowns: number;
  peakWorkers: number;
  editsByPolicy: Record<string, number>;
  sloEvents: PolicyEvent[];
  series: QueueSeries | null;
}

type SimEvent =
  | { kind: 'done'; queue: QueueState; worker: Worker; serviceMs: number }
  | { kind: 'ready'; queue: QueueState; worker: Worker };

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

/**
 * Runs a workload trace through a strategy and the policy pipeline, exactly as the daemon
 * does each tick: a QueueSnapshot per queue from what the simulated metrics would show
 * (pending, active, oldest age, arrival and completion rates since the previous tick,
 * service time and pickup waits over the observation window), a ScalingContext with the
 * history, `strategy.recommend`, `pipeline.apply`, the host's fair share, then the workers
 * are reconciled: spawns take the spawn latency, a stopping worker finishes its jobs.
 * Arrivals and service times come from the seed alone, so every strategy meets the same jobs.
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

  const queues = parsed.queues.map((queue, index) =>
    initQueue(queue, index, parsed, seed, {
      strategy,
      strategyOptions: options.strategyOptions,
      policies,
      recordSeries,
    }),
  );
  const events = new EventHeap<SimEvent>();
  // As the daemon: one allocator for the host, holding a granted slot for the queue's cooldown.
  const allocator = createHostAllocator(
    policies.cooldownMs === undefined ? {} : { cooldownMs: policies.cooldownMs },
  );

  const retire = (queue: QueueState, worker: Worker, now: number) => {
    worker.state = 'gone';
    queue.workerMs += now - worker.spawnAt;
  };

  const dispatch = (queue: QueueState, now: number) => {
    const { concurrency, slo } = queue.settings;
    while (queue.freeSlots > 0 && queue.nextStart < queue.nextArrival) {
      const worker = queue.workers.find((w) => w.state === 'running' && w.busy < concurrency);
      if (!worker) break;
      const job = queue.nextStart++;
      const wait = now - (queue.arrivals[job] as number);
      queue.waits[job] = wait;
      if (wait <= slo.pickupMs) queue.met++;
      queue.pickups.add(now, wait);
      const serviceMs = queue.services[job] as number;
      worker.busy++;
      queue.freeSlots--;
      queue.activeJobs++;
      queue.busyMs += Math.min(serviceMs, durationMs - now);
      events.push(now + serviceMs, { kind: 'done', queue, worker, serviceMs });
    }
  };

  const spawn = (queue: QueueState, now: number) => {
    const worker: Worker = { spawnAt: now, state: 'starting', busy: 0 };
    queue.workers.push(worker);
    const { spawnLatencyMs, spawnJitter } = queue.settings;
    const latency = spawnLatencyMs * (1 + spawnJitter * (2 * queue.spawnRandom.uniform() - 1));
    events.push(now + latency, { kind: 'ready', queue, worker });
  };

  const tick = (now: number) => {
    const decided: { queue: QueueState; decision: Decision; ctx: ScalingContext }[] = [];
    for (const queue of queues) {
      while ((queue.history[0]?.at ?? now) < now - historyMs) queue.history.shift();
      const ctx = context(queue, now, tickMs, observationWindowMs);
      const recommendation = queue.strategy.recommend(ctx);
      decided.push({ queue, decision: queue.pipeline.apply(recommendation, ctx), ctx });
      queue.history.push(ctx.queue);
      queue.lastTickAt = now;
      queue.arrivedAtLastTick = queue.nextArrival;
      queue.completedAtLastTick = queue.completed;
    }
    let decisions = decided.map((d) => d.decision);
    if (parsed.host) {
      const settings = Object.fromEntries(
        queues.map((q) => [
          q.settings.name,
          { min: q.settings.min, max: q.settings.max, priority: q.settings.priority },
        ]),
      );
      decisions = allocator.allocate(decided, {
        now,
        maxWorkers: parsed.host.maxWorkers,
        limiter: 'config',
        queues: settings,
      });
    }
    decided.forEach(({ queue, ctx }, i) => {
      const decision = decisions[i] as Decision;
      for (const edit of decision.edits) {
        queue.editsByPolicy[edit.policy] = (queue.editsByPolicy[edit.policy] ?? 0) + 1;
      }
      options.onDecision?.(decision, ctx);
      reconcile(queue, decision.to, now);
      const series = queue.series;
      if (series) {
        series.tMs.push(now);
        series.arrivalRate.push(ctx.queue.arrivalRate ?? 0);
        series.pending.push(ctx.queue.pending ?? 0);
        series.running.push(ctx.workers.running);
        const after = countWorkers(queue);
        series.workers.push(after.running + after.starting);
        series.desired.push(decision.to);
      }
    });
  };

  const reconcile = (queue: QueueState, target: number, now: number) => {
    const counts = countWorkers(queue);
    const current = counts.running + counts.starting;
    if (target > current) {
      queue.scaleUps++;
      for (let i = current; i < target; i++) spawn(queue, now);
    } else if (target < current) {
      queue.scaleDowns++;
      let remove = current - target;
      const { concurrency } = queue.settings;
      // Cheapest first: spawns not yet ready, then idle workers, then busy ones (which finish).
      for (const pass of ['starting', 'idle', 'busy'] as const) {
        for (let i = queue.workers.length - 1; i >= 0 && remove > 0; i--) {
          const worker = queue.workers[i] as Worker;
          if (pass === 'starting' && worker.state === 'starting') {
            retire(queue, worker, now);
          } else if (pass === 'idle' && worker.state === 'running' && worker.busy === 0) {
            queue.freeSlots -= concurrency;
            retire(queue, worker, now);
          } else if (pass === 'busy' && worker.state === 'running') {
            queue.freeSlots -= concurrency - worker.busy;
            worker.state = 'stopping';
          } else {
            continue;
          }
          remove--;
        }
      }
    }
    queue.workers = queue.workers.filter((worker) => worker.state !== 'gone');
    const after = countWorkers(queue);
    queue.peakWorkers = Math.max(queue.peakWorkers, after.running + after.starting);
  };

  // Workers present at the start are warm.
  for (const queue of queues) {
    const initial = Math.max(queue.settings.min, initialWorkers(queue, parsed));
    for (let i = 0; i < initial; i++) {
      queue.workers.push({ spawnAt: 0, state: 'running', busy: 0 });
      queue.freeSlots += queue.settings.concurrency;
    }
    queue.peakWorkers = queue.workers.length;
  }

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
      const { queue, worker } = event;
      if (event.kind === 'ready') {
        if (worker.state !== 'starting') continue;
        worker.state = 'running';
        queue.freeSlots += queue.settings.concurrency;
      } else {
        worker.busy--;
        queue.activeJobs--;
        queue.completed++;
        queue.completions.add(now, event.serviceMs);
        if (worker.state === 'running') queue.freeSlots++;
        else if (worker.state === 'stopping' && worker.busy === 0) retire(queue, worker, now);
      }
      dispatch(queue, now);
    } else if (arriving !== null && arrivalAt <= nextTick) {
      arriving.nextArrival++;
      dispatch(arriving, now);
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
  return finish(queues, parsed, strategyName, seed, tickMs, durationMs);
}

function initialWorkers(queue: QueueState, trace: Trace): number {
  const config = trace.queues.find((q) => q.name === queue.settings.name);
  return config?.workers?.initial ?? queue.settings.min;
}

function initQueue(
  queue: TraceQueue,
  index: number,
  trace: Trace,
  seed: number,
  shared: {
    strategy: string | Strategy<unknown>;
    strategyOptions: unknown;
    policies: PolicySettings;
    recordSeries: boolean;
  },
): QueueState {
  const d = DEFAULTS.trace;
  const settings: Settings = {
    name: queue.name,
    slo: queue.slo ?? d.slo,
    min: queue.workers?.min ?? d.workers.min,
    max: queue.workers?.max ?? d.workers.max,
    concurrency: queue.workers?.concurrency ?? d.workers.concurrency,
    spawnLatencyMs: queue.spawnLatencyMs ?? d.spawnLatencyMs,
    spawnJitter: queue.spawnJitter ?? d.spawnJitter,
    priority: queue.priority ?? d.priority,
  };
  const queueSeed = mix32(seed ^ mix32(index + 1));
  const arrivals = arrivalTimes(
    queue.arrivals,
    trace.durationMs,
    queue.arrivals.kind === 'poisson'
      ? (queue.arrivals.interpolation ?? d.interpolation)
      : d.interpolation,
    new Random(queueSeed, 1),
  );
  const services = serviceTimes(queue.service, arrivals.length, new Random(queueSeed, 2));
  const sloEvents: PolicyEvent[] = [];
  return {
    settings,
    arrivals,
    services,
    nextArrival: 0,
    nextStart: 0,
    waits: new Float64Array(arrivals.length),
    workers: [],
    freeSlots: 0,
    activeJobs: 0,
    completed: 0,
    pickups: new ObservationWindow(DEFAULTS.observationSamples),
    completions: new ObservationWindow(DEFAULTS.observationSamples),
    lastTickAt: 0,
    arrivedAtLastTick: 0,
    completedAtLastTick: 0,
    history: [],
    strategy: createStrategy(shared.strategy, shared.strategyOptions),
    pipeline: createPolicyPipeline({
      ...shared.policies,
      onEvent: (event) => sloEvents.push(event),
    }),
    spawnRandom: new Random(queueSeed, 3),
    workerMs: 0,
    busyMs: 0,
    met: 0,
    scaleUps: 0,
    scaleDowns: 0,
    peakWorkers: 0,
    editsByPolicy: {},
    sloEvents,
    series: shared.recordSeries
      ? { tMs: [], arrivalRate: [], pending: [], workers: [], running: [], desired: [] }
      : null,
  };
}

function countWorkers(queue: QueueState): { running: number; starting: number; stopping: number } {
  let running = 0;
  let starting = 0;
  let stopping = 0;
  for (const worker of queue.workers) {
    if (worker.state === 'running') running++;
    else if (worker.state === 'starting') starting++;
    else if (worker.state === 'stopping') stopping++;
  }
  return { running, starting, stopping };
}

/** What the daemon would hand the strategy at `now`. */
function context(
  queue: QueueState,
  now: number,
  tickMs: number,
  observationWindowMs: number,
): ScalingContext {
  const { settings } = queue;
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
    queue: settings.name,
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
  const counts = countWorkers(queue);
  return {
    now,
    queue: snapshot,
    history: queue.history.slice(),
    workers: { ...counts, concurrency: settings.concurrency },
    slo: settings.slo,
    spawnLatencyMs: settings.spawnLatencyMs,
    tickMs,
    bounds: { min: settings.min, max: settings.max },
  };
}

function finish(
  queues: QueueState[],
  trace: Trace,
  strategy: string,
  seed: number,
  tickMs: number,
  durationMs: number,
): SimulationResult {
  const results = queues.map((queue): QueueResult => {
    const { settings } = queue;
    let workerMs = queue.workerMs;
    for (const worker of queue.workers) workerMs += durationMs - worker.spawnAt;
    const jobs = queue.nextArrival;
    let met = queue.met;
    const waits = queue.waits.subarray(0, jobs);
    for (let i = queue.nextStart; i < jobs; i++) {
      const wait = durationMs - (queue.arrivals[i] as number);
      waits[i] = wait;
      if (wait <= settings.slo.pickupMs) met++;
    }
    const sorted = Float64Array.from(waits).sort();
    return {
      queue: settings.name,
      jobs,
      started: queue.nextStart,
      sloAttainment: jobs > 0 ? met / jobs : 1,
      waitMs: {
        p50: percentileOf(sorted, 50),
        p95: percentileOf(sorted, 95),
        p99: percentileOf(sorted, 99),
        max: sorted.length > 0 ? (sorted[sorted.length - 1] as number) : 0,
      },
      workerSeconds: workerMs / 1_000,
      busySeconds: queue.busyMs / settings.concurrency / 1_000,
      scaleUps: queue.scaleUps,
      scaleDowns: queue.scaleDowns,
      peakWorkers: queue.peakWorkers,
      editsByPolicy: queue.editsByPolicy,
      sloEvents: queue.sloEvents,
      series: queue.series,
    };
  });
  const jobs = results.reduce((sum, r) => sum + r.jobs, 0);
  const met = results.reduce((sum, r) => sum + r.sloAttainment * r.jobs, 0);
  return {
    trace: trace.name,
    strategy,
    seed,
    durationMs,
    tickMs,
    queues: results,
    total: {
      jobs,
      sloAttainment: jobs > 0 ? met / jobs : 1,
      workerSeconds: results.reduce((sum, r) => sum + r.workerSeconds, 0),
      busySeconds: results.reduce((sum, r) => sum + r.busySeconds, 0),
      scaleEvents: results.reduce((sum, r) => sum + r.scaleUps + r.scaleDowns, 0),
    },
  };
}
