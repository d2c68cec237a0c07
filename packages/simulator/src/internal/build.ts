// Building the pools of a trace, one tick's decision of a pool, and the results of a run.
import type {
  Decision,
  GroupRecommendation,
  GroupScalingContext,
  ScalingContext,
  Strategy,
} from '@qscale/contracts';
import { createPolicyPipeline, type PolicyEvent, type PolicySettings } from '@qscale/policies';
import { createGroupStrategy, createStrategy, groupSnapshot } from '@qscale/strategies';
import { DEFAULTS } from '../defaults.js';
import type { GroupResult, QueueResult, SimulationResult } from '../simulate.js';
import type { Trace, TraceGroup, TraceQueue } from '../trace.js';
import {
  type MemberTally,
  type PoolSettings,
  type PoolState,
  type QueueState,
  queueContext,
} from './pool.js';
import { mix32, Random } from './rng.js';
import { ObservationWindow, percentileOf } from './window.js';
import { arrivalTimes, serviceTimes } from './workload.js';

export interface SharedSettings {
  strategy: string | Strategy<unknown>;
  strategyOptions: unknown;
  policies: PolicySettings;
  recordSeries: boolean;
}

/**
 * Queues in trace order, and pools: one per queue outside a group (in trace order, seeded by
 * the queue's index, so a trace without groups runs exactly as before groups existed), then one
 * per group. Workers present at the start are warm.
 */
export function buildPools(
  trace: Trace,
  seed: number,
  shared: SharedSettings,
): { queues: QueueState[]; pools: PoolState[] } {
  const groupOf = new Map<string, TraceGroup>();
  for (const group of trace.groups ?? []) for (const name of group.queues) groupOf.set(name, group);
  const pools: PoolState[] = [];
  const queues: QueueState[] = [];
  trace.queues.forEach((queue, index) => {
    const queueSeed = mix32(seed ^ mix32(index + 1));
    const own = groupOf.has(queue.name) ? null : newPool(queue, queueSeed, null, shared);
    const state = newQueue(queue, trace, queueSeed, own, shared.recordSeries);
    queues.push(state);
    if (own) {
      own.members.push(state);
      pools.push(own);
    }
  });
  (trace.groups ?? []).forEach((group, index) => {
    const groupSeed = mix32(seed ^ mix32(0x6700 + index + 1));
    const members = group.queues.map((name) => queues.find((q) => q.name === name) as QueueState);
    const tightest = members.reduce((a, b) => (b.slo.pickupMs < a.slo.pickupMs ? b : a));
    const pool = newPool(
      { ...group, slo: tightest.slo },
      groupSeed,
      {
        group,
        strategy: createGroupStrategy(
          shared.strategy,
          shared.strategyOptions,
          group.discipline,
          group.queues,
        ),
      },
      shared,
    );
    for (const member of members) {
      member.pool = pool;
      pool.members.push(member);
    }
    pools.push(pool);
  });
  for (const pool of pools) {
    const initial = Math.max(pool.settings.min, pool.initial);
    for (let i = 0; i < initial; i++) {
      pool.workers.push({ spawnAt: 0, state: 'running', busy: 0 });
      pool.freeSlots += pool.settings.concurrency;
    }
    pool.peakWorkers = pool.workers.length;
  }
  return { queues, pools };
}

type PoolSource = Pick<
  TraceQueue,
  'name' | 'workers' | 'spawnLatencyMs' | 'spawnJitter' | 'priority' | 'slo'
>;

function newPool(
  source: PoolSource,
  poolSeed: number,
  group: { group: TraceGroup; strategy: ReturnType<typeof createGroupStrategy> } | null,
  shared: SharedSettings,
): PoolState {
  const d = DEFAULTS.trace;
  const settings: PoolSettings = {
    name: source.name,
    slo: source.slo ?? d.slo,
    min: source.workers?.min ?? d.workers.min,
    max: source.workers?.max ?? d.workers.max,
    concurrency: source.workers?.concurrency ?? d.workers.concurrency,
    spawnLatencyMs: source.spawnLatencyMs ?? d.spawnLatencyMs,
    spawnJitter: source.spawnJitter ?? d.spawnJitter,
    priority: source.priority ?? d.priority,
  };
  const sloEvents: PolicyEvent[] = [];
  return {
    settings,
    initial: source.workers?.initial ?? settings.min,
    members: [],
    group:
      group === null
        ? null
        : {
            discipline: group.group.discipline,
            strategy: group.strategy,
            tally: group.group.queues.map(
              (): MemberTally => ({ needSum: 0, ticks: 0, deciding: 0, shareSum: 0 }),
            ),
          },
    strategy: group === null ? createStrategy(shared.strategy, shared.strategyOptions) : null,
    pipeline: createPolicyPipeline({
      ...shared.policies,
      onEvent: (event) => sloEvents.push(event),
    }),
    history: [],
    workers: [],
    freeSlots: 0,
    spawnRandom: new Random(poolSeed, 3),
    pickRandom: new Random(poolSeed, 4),
    nextTurn: 0,
    workerMs: 0,
    scaleUps: 0,
    scaleDowns: 0,
    peakWorkers: 0,
    editsByPolicy: {},
    sloEvents,
  };
}

function newQueue(
  queue: TraceQueue,
  trace: Trace,
  queueSeed: number,
  pool: PoolState | null,
  recordSeries: boolean,
): QueueState {
  const d = DEFAULTS.trace;
  const arrivals = arrivalTimes(
    queue.arrivals,
    trace.durationMs,
    queue.arrivals.kind === 'poisson'
      ? (queue.arrivals.interpolation ?? d.interpolation)
      : d.interpolation,
    new Random(queueSeed, 1),
  );
  const services = serviceTimes(queue.service, arrivals.length, new Random(queueSeed, 2));
  return {
    name: queue.name,
    slo: queue.slo ?? d.slo,
    // A group member's pool is set when its group is built.
    pool: pool as PoolState,
    arrivals,
    services,
    nextArrival: 0,
    nextStart: 0,
    waits: new Float64Array(arrivals.length),
    activeJobs: 0,
    completed: 0,
    pickups: new ObservationWindow(DEFAULTS.observationSamples),
    completions: new ObservationWindow(DEFAULTS.observationSamples),
    lastTickAt: 0,
    arrivedAtLastTick: 0,
    completedAtLastTick: 0,
    history: [],
    busyMs: 0,
    met: 0,
    series: recordSeries
      ? { tMs: [], arrivalRate: [], pending: [], workers: [], running: [], desired: [] }
      : null,
  };
}

/**
 * One pool's decision at `now`, as the daemon makes it: a queue's own pool through its
 * strategy; a group's through the group strategy, its pipeline seeing `groupSnapshot` with
 * the tightest member SLO. Every member's snapshot joins its history.
 */
export function decide(
  pool: PoolState,
  now: number,
  tickMs: number,
  observationWindowMs: number,
  historyMs: number,
): { decision: Decision; ctx: ScalingContext } {
  for (const queue of pool.members) {
    while ((queue.history[0]?.at ?? now) < now - historyMs) queue.history.shift();
  }
  const contexts = pool.members.map((q) => queueContext(q, now, tickMs, observationWindowMs));
  for (const [i, queue] of pool.members.entries()) {
    queue.history.push((contexts[i] as ScalingContext).queue);
  }
  if (pool.group === null) {
    const ctx = contexts[0] as ScalingContext;
    const recommendation = (pool.strategy as NonNullable<PoolState['strategy']>).recommend(ctx);
    return { decision: pool.pipeline.apply(recommendation, ctx), ctx };
  }
  while ((pool.history[0]?.at ?? now) < now - historyMs) pool.history.shift();
  const first = contexts[0] as ScalingContext;
  const groupCtx: GroupScalingContext = {
    now,
    group: pool.settings.name,
    discipline: pool.group.discipline,
    members: contexts,
    workers: first.workers,
    bounds: first.bounds,
    spawnLatencyMs: pool.settings.spawnLatencyMs,
  };
  const recommendation = pool.group.strategy.recommend(groupCtx);
  tally(pool.group.tally, recommendation);
  const ctx: ScalingContext = {
    ...first,
    queue: groupSnapshot(groupCtx),
    history: pool.history.slice(),
    slo: pool.settings.slo,
  };
  pool.history.push(ctx.queue);
  return { decision: pool.pipeline.apply(recommendation, ctx), ctx };
}

function tally(tallies: MemberTally[], recommendation: GroupRecommendation): void {
  const deciding = recommendation.members.findIndex((m) => m.workers === recommendation.workers);
  recommendation.members.forEach((member, k) => {
    const t = tallies[k] as MemberTally;
    t.needSum += member.workers;
    t.ticks++;
    t.shareSum += member.terms.share ?? 0;
    if (k === deciding && recommendation.workers > 0) t.deciding++;
  });
}

export function finish(
  queues: QueueState[],
  pools: PoolState[],
  trace: Trace,
  strategy: string,
  seed: number,
  tickMs: number,
  durationMs: number,
): SimulationResult {
  const poolWorkerMs = new Map<PoolState, number>();
  for (const pool of pools) {
    let workerMs = pool.workerMs;
    for (const worker of pool.workers) workerMs += durationMs - worker.spawnAt;
    poolWorkerMs.set(pool, workerMs);
  }
  const results = queues.map((queue): QueueResult => {
    const { pool } = queue;
    const jobs = queue.nextArrival;
    let met = queue.met;
    const waits = queue.waits.subarray(0, jobs);
    for (let i = queue.nextStart; i < jobs; i++) {
      const wait = durationMs - (queue.arrivals[i] as number);
      waits[i] = wait;
      if (wait <= queue.slo.pickupMs) met++;
    }
    const sorted = Float64Array.from(waits).sort();
    const poolBusyMs = pool.members.reduce((sum, q) => sum + q.busyMs, 0);
    const share = pool.members.length === 1 ? 1 : poolBusyMs > 0 ? queue.busyMs / poolBusyMs : 0;
    return {
      queue: queue.name,
      group: pool.group === null ? null : pool.settings.name,
      jobs,
      started: queue.nextStart,
      sloAttainment: jobs > 0 ? met / jobs : 1,
      waitMs: {
        p50: percentileOf(sorted, 50),
        p95: percentileOf(sorted, 95),
        p99: percentileOf(sorted, 99),
        max: sorted.length > 0 ? (sorted[sorted.length - 1] as number) : 0,
      },
      workerSeconds: ((poolWorkerMs.get(pool) ?? 0) * share) / 1_000,
      busySeconds: queue.busyMs / pool.settings.concurrency / 1_000,
      scaleUps: pool.scaleUps,
      scaleDowns: pool.scaleDowns,
      peakWorkers: pool.peakWorkers,
      editsByPolicy: pool.editsByPolicy,
      sloEvents: pool.sloEvents,
      series: queue.series,
    };
  });
  const groups = pools.flatMap((pool): GroupResult[] => {
    if (pool.group === null) return [];
    const busyMs = pool.members.reduce((sum, q) => sum + q.busyMs, 0);
    return [
      {
        group: pool.settings.name,
        discipline: pool.group.discipline.kind,
        workerSeconds: (poolWorkerMs.get(pool) ?? 0) / 1_000,
        busySeconds: busyMs / pool.settings.concurrency / 1_000,
        scaleUps: pool.scaleUps,
        scaleDowns: pool.scaleDowns,
        peakWorkers: pool.peakWorkers,
        editsByPolicy: pool.editsByPolicy,
        sloEvents: pool.sloEvents,
        members: pool.members.map((queue, k) => {
          const t = pool.group?.tally[k] as MemberTally;
          return {
            queue: queue.name,
            meanNeed: t.ticks > 0 ? t.needSum / t.ticks : 0,
            decidingTicks: t.deciding,
            share: t.ticks > 0 ? t.shareSum / t.ticks : 0,
          };
        }),
      },
    ];
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
    groups,
    total: {
      jobs,
      sloAttainment: jobs > 0 ? met / jobs : 1,
      workerSeconds: [...poolWorkerMs.values()].reduce((sum, ms) => sum + ms, 0) / 1_000,
      busySeconds: results.reduce((sum, r) => sum + r.busySeconds, 0),
      scaleEvents: pools.reduce((sum, p) => sum + p.scaleUps + p.scaleDowns, 0),
    },
  };
}
