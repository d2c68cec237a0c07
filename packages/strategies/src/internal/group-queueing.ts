// Queueing models of one pool of c slots shared by several queues (classes). Units: loads in
// erlangs (arrival rate x mean service time), times in milliseconds, slots = workers x concurrency.
import type { GroupDiscipline } from '@qscale/contracts';

/** One member queue as the pool sees it. */
export interface ClassLoad {
  /** Jobs arriving per second. */
  arrivalRate: number;
  /** Mean service time, ms. */
  serviceTimeMs: number;
}

/** What one member's SLO asks: P(wait > waitMs) <= 1 - percentile / 100. */
export interface ClassTarget {
  waitMs: number;
  percentile: number;
  /** Allen-Cunneen factor (1 + Cs^2) / 2 of the member's service time; 1 for exponential. */
  variability: number;
}

export function loadOf(load: ClassLoad): number {
  if (!(load.arrivalRate > 0) || !(load.serviceTimeMs > 0)) return 0;
  return (load.arrivalRate * load.serviceTimeMs) / 1_000;
}

/** Each member's share of the pickups while every member has work waiting (weights normalised). */
export function guaranteedShares(discipline: GroupDiscipline, members: number): number[] {
  if (discipline.kind === 'priority')
    return Array.from({ length: members }, (_, i) => (i === 0 ? 1 : 0));
  const weights =
    discipline.kind === 'weighted' ? discipline.weights : Array.from({ length: members }, () => 1);
  const total = weights.reduce((sum, w) => sum + w, 0);
  return weights.map((w) => w / total);
}

/**
 * Slots that work on member k's queue while it has jobs waiting, in a pool of `slots`.
 * Priority: whatever the members ahead of it leave (their load runs first). Weighted and
 * round-robin (generalised processor sharing, which is what Sidekiq's weighted-random order and
 * Celery's rotation give backlogged queues): water-filling, where a member whose load is below
 * its share takes only its load and the rest goes to the backlogged ones by weight.
 */
export function availableSlots(
  discipline: GroupDiscipline,
  loads: readonly number[],
  k: number,
  slots: number,
): number {
  if (discipline.kind === 'priority') {
    let ahead = 0;
    for (let j = 0; j < k; j++) ahead += loads[j] ?? 0;
    return Math.max(0, slots - ahead);
  }
  const shares = guaranteedShares(discipline, loads.length);
  const open = new Set(loads.map((_, j) => j));
  let free = slots;
  for (let changed = true; changed; ) {
    changed = false;
    let weight = 0;
    for (const j of open) weight += shares[j] ?? 0;
    for (const j of open) {
      if (j === k) continue;
      const load = loads[j] ?? 0;
      if (load <= (free * (shares[j] ?? 0)) / weight) {
        free -= load;
        open.delete(j);
        changed = true;
        break;
      }
    }
  }
  let weight = 0;
  for (const j of open) weight += shares[j] ?? 0;
  return Math.max(0, (free * (shares[k] ?? 0)) / weight);
}

/**
 * P(member k waits longer than its target) in a pool of `slots`, given `waitProbability` =
 * Erlang C of the pool at the total load (a job waits iff every slot is busy, whatever its
 * class, since no discipline preempts). The conditional wait is taken as exponential:
 * - priority (non-preemptive M/M/c, Cobham / Kella-Yechiali): class k waits on average
 *   W0 / ((1 - s_{k-1})(1 - s_k)) with s_k the share of the slots the classes up to k load,
 *   so its tail decays at c (1 - s_{k-1})(1 - s_k) / S, S the mean service time of all jobs;
 * - weighted / round-robin: k's backlog is served by the slots `availableSlots` gives it, so it
 *   decays at (available - a_k) / S_k, like an M/M/c queue of those slots.
 * With one member both reduce to the plain Erlang C tail C(c, a) exp(-(c - a) t / S).
 * The decay is divided by the Allen-Cunneen factor, as `slotsForPercentile` does.
 */
export function waitTail(
  discipline: GroupDiscipline,
  classes: readonly ClassLoad[],
  loads: readonly number[],
  k: number,
  slots: number,
  waitProbability: number,
  target: ClassTarget,
): number {
  const own = loads[k] ?? 0;
  const member = classes[k] as ClassLoad;
  let decayPerMs: number;
  if (discipline.kind === 'priority') {
    let ahead = 0;
    for (let j = 0; j < k; j++) ahead += loads[j] ?? 0;
    const total = loads.reduce((sum, a) => sum + a, 0);
    const rate = classes.reduce((sum, c) => sum + (loadOf(c) > 0 ? c.arrivalRate : 0), 0);
    const mixServiceMs = rate > 0 ? (total * 1_000) / rate : member.serviceTimeMs;
    decayPerMs = (slots * (1 - ahead / slots) * (1 - (ahead + own) / slots)) / mixServiceMs;
    if (ahead + own >= slots) decayPerMs = 0;
  } else {
    // While every slot is busy, slots free at c / S (S: the mean service time of all jobs) and
    // the fetch gives this member its share of them whenever the others have jobs waiting too;
    // the slots the others leave unused (processor sharing, `availableSlots`) help only as far
    // as they are not backlogged themselves. So the decay goes from the guaranteed rate towards
    // the leftover by the share of their guaranteed slots the others leave idle. Checked against
    // the simulation: bench/strategies/groups-model.ts.
    const total = loads.reduce((sum, a) => sum + a, 0);
    const rate = classes.reduce((sum, c) => sum + (loadOf(c) > 0 ? c.arrivalRate : 0), 0);
    const mixServiceMs = rate > 0 ? (total * 1_000) / rate : member.serviceTimeMs;
    const shares = guaranteedShares(discipline, loads.length);
    const guaranteed = ((shares[k] ?? 0) * slots) / mixServiceMs - member.arrivalRate / 1_000;
    const leftover = (availableSlots(discipline, loads, k, slots) - own) / member.serviceTimeMs;
    let othersShare = 0;
    let othersUse = 0;
    for (const [j, load] of loads.entries()) {
      if (j === k) continue;
      const slotsOfJ = (shares[j] ?? 0) * slots;
      othersShare += slotsOfJ;
      othersUse += Math.min(load, slotsOfJ);
    }
    const idle = othersShare > 0 ? 1 - othersUse / othersShare : 1;
    decayPerMs = leftover > guaranteed ? guaranteed + idle * (leftover - guaranteed) : leftover;
  }
  if (!(decayPerMs > 0)) return 1;
  return Math.min(
    1,
    waitProbability * Math.exp((-decayPerMs * target.waitMs) / target.variability),
  );
}

export interface PoolSizing {
  /** Fewest workers that meet member k's target; `maxWorkers` when none up to it does. */
  workers: number;
  /** Whether `workers` meets the target (false: capped at `maxWorkers`). */
  feasible: boolean;
}

/**
 * The fewest workers (of `concurrency` slots each) with which member k meets its target in the
 * shared pool. 0 when member k brings no load. Erlang B is carried slot by slot (stable for
 * thousands of slots), Erlang C derived from it at each whole worker.
 */
export function poolWorkersFor(
  discipline: GroupDiscipline,
  classes: readonly ClassLoad[],
  k: number,
  target: ClassTarget,
  concurrency: number,
  maxWorkers: number,
): PoolSizing {
  const loads = classes.map(loadOf);
  if ((loads[k] ?? 0) === 0) return { workers: 0, feasible: true };
  const total = loads.reduce((sum, a) => sum + a, 0);
  const allowed = Math.max(1e-9, 1 - target.percentile / 100);
  const cap = Math.max(1, Math.ceil(maxWorkers));
  let blocking = 1;
  for (let servers = 1; servers <= cap * concurrency; servers++) {
    blocking = (total * blocking) / (servers + total * blocking);
    if (servers % concurrency !== 0) continue;
    // An overloaded pool keeps every slot busy: every job waits, and whether this member's
    // wait stays bounded depends on its place (priority, share), which `waitTail` decays by.
    const waitProbability =
      servers <= total ? 1 : (servers * blocking) / (servers - total * (1 - blocking));
    const tail = waitTail(discipline, classes, loads, k, servers, waitProbability, target);
    if (tail <= allowed) return { workers: servers / concurrency, feasible: true };
  }
  return { workers: cap, feasible: false };
}

/** The predicted P(wait > target) of member k in a pool of `workers`; 1 when it cannot keep up. */
export function predictedMiss(
  discipline: GroupDiscipline,
  classes: readonly ClassLoad[],
  k: number,
  target: ClassTarget,
  slots: number,
): number {
  const loads = classes.map(loadOf);
  if ((loads[k] ?? 0) === 0) return 0;
  const total = loads.reduce((sum, a) => sum + a, 0);
  if (!(slots > 0)) return 1;
  let blocking = 1;
  for (let servers = 1; servers <= slots; servers++)
    blocking = (total * blocking) / (servers + total * blocking);
  const waitProbability =
    slots <= total ? 1 : (slots * blocking) / (slots - total * (1 - blocking));
  return waitTail(discipline, classes, loads, k, slots, waitProbability, target);
}
