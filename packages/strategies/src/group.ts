import type {
  GroupDiscipline,
  GroupMemberRecommendation,
  GroupRecommendation,
  GroupScalingContext,
  Recommendation,
  ScalingContext,
  Strategy,
  StrategyInstance,
} from '@qscale/contracts';
import { createStrategy } from './create.js';
import { DEFAULTS } from './defaults.js';
import { StrategyError } from './errors.js';
import {
  availableSlots,
  type ClassLoad,
  type ClassTarget,
  guaranteedShares,
  loadOf,
  poolWorkersFor,
  predictedMiss,
} from './internal/group-queueing.js';
import { serviceVariability } from './internal/queueing.js';
import { estimateServiceTime, fmt, fmtMs, recentSnapshots } from './internal/signals.js';

const ALONE: GroupDiscipline = { kind: 'priority' };

/** A strategy that sizes one group: one pool of workers serving several queues. */
export interface GroupStrategyInstance {
  readonly name: string;
  /** How far back `recommend` reads each member's history, ms (the members' strategy's need). */
  readonly historyMs?: number;
  recommend(ctx: GroupScalingContext): GroupRecommendation;
}

interface MemberModel {
  load: ClassLoad;
  target: ClassTarget;
  serviceTimeKnown: boolean;
}

/**
 * A group strategy: one instance of `strategy` per member queue (each keeps its own state,
 * e.g. predictive's quiet memory), combined by queueing theory for the discipline:
 *
 * - `pooledSteady`: the fewest workers of the shared pool with which this member's
 *   P(pickup wait > its SLO) stays within its percentile, given every member's load and how the
 *   discipline divides the pool (priority: non-preemptive M/M/c per class; weighted and
 *   round-robin: processor sharing by weight), never above `separateSteady`, the members'
 *   `ownSteady` together (`pooledModelled` keeps the model's own figure);
 * - `ownSteady`: the same model with this member alone (plain Erlang C);
 * - `sharingCost` = pooledSteady - ownSteady (never below 0): the workers sharing costs it;
 * - `strategyWorkers`: what the member's own strategy asks (steady state, backlog drain,
 *   forecast, quiet...), run on a view of the pool where the workers the other members take
 *   ahead of it are not counted as running;
 * - member need = strategyWorkers + sharingCost; the group's workers = the largest need.
 *
 * With one member this is the member's own strategy, unchanged. Bounds are left to policies, as
 * for a queue.
 *
 * @throws StrategyError `GROUP_INVALID` for no members, duplicate members, or weights that do
 *   not match the members; the errors of `createStrategy` for the strategy and its options.
 */
export function createGroupStrategy(
  strategy: string | Strategy<unknown>,
  options: unknown,
  discipline: GroupDiscipline,
  memberQueues: readonly string[],
): GroupStrategyInstance {
  const name = typeof strategy === 'string' ? strategy : strategy.name;
  checkGroupShape(name, discipline, memberQueues);
  const instances: StrategyInstance[] = memberQueues.map(() => createStrategy(strategy, options));
  const historyMs = instances[0]?.historyMs;
  return {
    name,
    ...(historyMs === undefined ? {} : { historyMs }),
    recommend(ctx) {
      checkContext(name, discipline, memberQueues, ctx);
      return recommendGroup(ctx, instances);
    },
  };
}

function checkGroupShape(
  name: string,
  discipline: GroupDiscipline,
  members: readonly string[],
): void {
  const fail = (message: string) => {
    throw new StrategyError('GROUP_INVALID', name, message);
  };
  if (members.length === 0) fail('a worker group needs at least one member queue, got none');
  const seen = new Set<string>();
  for (const queue of members) {
    if (seen.has(queue)) fail(`worker group lists queue "${queue}" twice`);
    seen.add(queue);
  }
  if (discipline.kind === 'weighted') {
    if (discipline.weights.length !== members.length) {
      fail(
        `weighted group of ${members.length} queues (${members.join(', ')}) has ${discipline.weights.length} weights, expected one per queue`,
      );
    }
    const bad = discipline.weights.findIndex((w) => !(w > 0) || !Number.isFinite(w));
    if (bad >= 0) {
      fail(
        `weight of queue "${members[bad]}" must be a positive number, got ${discipline.weights[bad]}`,
      );
    }
  }
}

function checkContext(
  name: string,
  discipline: GroupDiscipline,
  members: readonly string[],
  ctx: GroupScalingContext,
): void {
  const got = ctx.members.map((m) => m.queue.queue);
  if (got.length !== members.length || got.some((queue, i) => queue !== members[i])) {
    throw new StrategyError(
      'GROUP_INVALID',
      name,
      `group "${ctx.group}": context has members [${got.join(', ')}], expected [${members.join(', ')}] in that order`,
    );
  }
  if (JSON.stringify(ctx.discipline) !== JSON.stringify(discipline)) {
    throw new StrategyError(
      'GROUP_INVALID',
      name,
      `group "${ctx.group}": context discipline ${JSON.stringify(ctx.discipline)} differs from the one the strategy was created with, ${JSON.stringify(discipline)}`,
    );
  }
}

function recommendGroup(
  ctx: GroupScalingContext,
  instances: readonly StrategyInstance[],
): GroupRecommendation {
  const { discipline } = ctx;
  const concurrency = ctx.workers.concurrency;
  const maxWorkers = ctx.bounds.max + 1;
  const runningSlots = ctx.workers.running * concurrency;
  // First pass: each member's load from its own snapshots, so every member's strategy can be
  // shown the pool less what the others take ahead of it.
  const observed = ctx.members.map((member) => memberModel(member));
  const observedLoads = observed.map((m) => loadOf(m.load));
  const own = ctx.members.map((member, k) => {
    const freeSlots = availableSlots(discipline, observedLoads, k, runningSlots);
    const view = memberView(member, ctx, Math.floor(freeSlots / concurrency + 1e-9));
    return (instances[k] as StrategyInstance).recommend(view);
  });
  // Second pass: where the strategy estimated the rate itself (level, shift, quiet), use it.
  const models = observed.map((model, k) => withStrategyRates(model, own[k] as Recommendation));
  const classes = models.map((m) => m.load);
  const loads = classes.map(loadOf);
  const shares = guaranteedShares(discipline, ctx.members.length);

  // Alone, every discipline is the plain Erlang C pool (one class, priority 1 of 1).
  const alones = models.map((model) =>
    poolWorkersFor(ALONE, [model.load], 0, model.target, concurrency, maxWorkers),
  );
  // The separate pools the group replaces, together: a configuration known to meet every
  // member's SLO. The sharing models (weighted and round-robin are approximations, about a
  // worker generous) never size the shared pool above it.
  const separateSteady = alones.reduce((sum, alone) => sum + alone.workers, 0);

  const members: GroupMemberRecommendation[] = ctx.members.map((member, k) => {
    const model = models[k] as MemberModel;
    const mine = own[k] as Recommendation;
    const alone = alones[k] as { workers: number };
    const modelled = poolWorkersFor(discipline, classes, k, model.target, concurrency, maxWorkers);
    const pooled = { ...modelled, workers: Math.min(modelled.workers, separateSteady) };
    const sharingCost = Math.max(0, pooled.workers - alone.workers);
    const workers = mine.workers + sharingCost;
    return {
      queue: member.queue.queue,
      workers,
      reason: memberReason(ctx, k, model, loads, sharingCost, mine, shares[k] ?? 0),
      terms: {
        ...mine.terms,
        arrivalRate: model.load.arrivalRate,
        serviceTimeMs: model.load.serviceTimeMs,
        serviceTimeKnown: model.serviceTimeKnown ? 1 : 0,
        variability: model.target.variability,
        loadErlangs: loads[k] ?? 0,
        share: shares[k] ?? 0,
        strategyWorkers: mine.workers,
        ownSteady: alone.workers,
        pooledSteady: pooled.workers,
        pooledModelled: modelled.workers,
        separateSteady,
        pooledFeasible: pooled.feasible ? 1 : 0,
        sharingCost,
      },
    };
  });

  let winner = 0;
  for (let k = 1; k < members.length; k++) {
    if ((members[k]?.workers ?? 0) > (members[winner]?.workers ?? 0)) winner = k;
  }
  const workers = members[winner]?.workers ?? 0;
  const slots = workers * concurrency;
  for (const [k, member] of members.entries()) {
    member.terms.availableSlots = availableSlots(discipline, loads, k, slots);
    member.terms.predictedMiss = predictedMiss(
      discipline,
      classes,
      k,
      (models[k] as MemberModel).target,
      slots,
    );
  }
  const terms: Record<string, number> = {
    loadErlangs: loads.reduce((sum, a) => sum + a, 0),
  };
  for (const member of members) terms[`need:${member.queue}`] = member.workers;
  const top = members[winner] as GroupMemberRecommendation;
  return {
    workers,
    reason:
      workers === 0
        ? 'no member queue has arrivals, backlog or running jobs: no workers needed'
        : `${workers} workers, set by queue "${top.queue}": ${top.reason}`,
    terms,
    members,
  };
}

/** Rate, service time and SLO of one member, from its own history. */
function memberModel(member: ScalingContext): MemberModel {
  const window = recentSnapshots(member, DEFAULTS.predictive.rateWindowMs);
  const service = estimateServiceTime(window, DEFAULTS.fallbackServiceTimeMs);
  const cs2 =
    service.p95Ms === null ? 1 : Math.min(8, serviceVariability(service.meanMs, service.p95Ms));
  const rates = window.map((s) => s.arrivalRate ?? s.completionRate).filter((r) => r !== null);
  const arrivalRate = rates.length > 0 ? rates.reduce((sum, r) => sum + r, 0) / rates.length : 0;
  return {
    load: { arrivalRate, serviceTimeMs: service.meanMs },
    target: {
      waitMs: member.slo.pickupMs,
      percentile: member.slo.percentile,
      variability: (1 + cs2) / 2,
    },
    serviceTimeKnown: service.source !== 'fallback',
  };
}

/**
 * The member's strategy's own rate and service time where it reports them (`arrivalRate`,
 * `serviceTimeMs` terms): its level and shift tests know better than a window mean. A member
 * its strategy finds drained and quiet (`quietForMs`) brings no load.
 */
function withStrategyRates(model: MemberModel, own: Recommendation): MemberModel {
  const rate = own.terms.arrivalRate;
  const serviceMs = own.terms.serviceTimeMs;
  const quiet = own.terms.quietForMs !== undefined;
  return {
    ...model,
    load: {
      arrivalRate: quiet ? 0 : rate !== undefined && rate >= 0 ? rate : model.load.arrivalRate,
      serviceTimeMs:
        serviceMs !== undefined && serviceMs > 0 ? serviceMs : model.load.serviceTimeMs,
    },
  };
}

/** The member's context as its own strategy should see it: the group's pool, less the others' share. */
function memberView(
  member: ScalingContext,
  ctx: GroupScalingContext,
  runningForMember: number,
): ScalingContext {
  return {
    ...member,
    now: ctx.now,
    workers: { ...ctx.workers, running: Math.min(ctx.workers.running, runningForMember) },
    bounds: ctx.bounds,
    spawnLatencyMs: ctx.spawnLatencyMs,
  };
}

function memberReason(
  ctx: GroupScalingContext,
  k: number,
  model: MemberModel,
  loads: readonly number[],
  sharingCost: number,
  own: Recommendation,
  share: number,
): string {
  const member = ctx.members[k] as ScalingContext;
  const slo = `p${member.slo.percentile} pickup <= ${fmtMs(member.slo.pickupMs)}`;
  const others = loads.reduce((sum, a, j) => (j === k ? sum : sum + a), 0);
  const position =
    ctx.discipline.kind === 'priority'
      ? `priority ${k + 1} of ${ctx.members.length}, behind ${fmt(loads.slice(0, k).reduce((s, a) => s + a, 0))} busy slots of the queues ahead`
      : `${fmt(share * 100, 0)} % of the pickups while all are backlogged, others bring ${fmt(others)} busy slots`;
  const service = model.serviceTimeKnown
    ? fmtMs(model.load.serviceTimeMs)
    : `${fmtMs(model.load.serviceTimeMs)} (assumed: no service time seen)`;
  return `${own.workers} of its own (${own.reason}) + ${sharingCost} for sharing the pool (${fmt(model.load.arrivalRate)} jobs/s x ${service}, ${position}, ${slo})`;
}
