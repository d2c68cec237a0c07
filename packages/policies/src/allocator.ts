import type { Decision, ScalingContext } from '@qscale/contracts';
import { DEFAULTS } from './defaults.js';
import { PolicyError } from './errors.js';
import { allocateFairShare } from './fair-share.js';
import type { QueueShareSettings } from './host.js';

/** Per queue: what the allocator needs besides the decision and its context. */
export interface QueueAllocationSettings extends QueueShareSettings {
  /** How long a slot granted to this queue is held. @defaultValue the allocator's `cooldownMs` */
  cooldownMs?: number;
}

export interface HostAllocatorConfig {
  /** How long a granted slot is held, for a queue without its own. @defaultValue 30000 (DEFAULTS.cooldownMs) */
  cooldownMs?: number;
}

export interface AllocateOptions {
  /** Epoch ms of the tick: the only clock the allocator reads. */
  now: number;
  /** Workers all queues together may have: the smaller of the host capacity and `limits.maxWorkers`. */
  maxWorkers: number;
  /** What limits `maxWorkers`, for the edit's reason (e.g. `cpu`, `memory`, `config`). */
  limiter?: string;
  /** Settings by queue; min and max default to the context's bounds, priority to 1. */
  queues?: Readonly<Record<string, QueueAllocationSettings>>;
}

/** One queue's decision of this tick, with the context it was decided from. */
export interface AllocationEntry {
  decision: Decision;
  ctx: ScalingContext;
}

/** Shares a host's worker slots among its queues, tick after tick (it keeps who got what when). */
export interface HostAllocator {
  allocate(entries: readonly AllocationEntry[], options: AllocateOptions): Decision[];
}

interface Claim {
  name: string;
  decision: Decision;
  from: number;
  want: number;
  min: number;
  weight: number;
  cooldownMs: number;
  known: boolean;
  idle: boolean;
  pending: number;
  oldestMs: number;
  sloMs: number;
  /** Oldest pending age relative to the SLO (1 = at the SLO); 0 when nothing waits. */
  urgency: number;
  /** Slots above the minimum granted within the cooldown (or all it has, on missing data). */
  held: number;
  /** How long the queue has had nothing to do (0 when it has work; infinite when never seen busy). */
  idleForMs: number;
  given: number;
  firstSlot: boolean;
}

/**
 * The cross-queue allocation of a host's worker slots. When the decided counts fit into
 * `maxWorkers`, they pass unchanged. Otherwise the slots go, in this order:
 * 1. every queue's minimum (a guarantee, even beyond the host);
 * 2. holds: a slot given to a queue stays with it for the queue's cooldown (no up-then-down
 *    reversal), unless the queue is idle (no job waiting, running or arriving; running unknown
 *    counts as none when nothing waits and the measured arrival rate is 0); a queue whose
 *    metrics are missing keeps what it has;
 * 3. one slot to each queue with waiting jobs and no slot yet, most urgent first: a queue at or
 *    past its SLO, then by oldest pending age / SLO x priority, then the one without a worker;
 * 4. the rest to queues with work, in proportion to priority x unmet demand (`allocateFairShare`);
 * 5. idle queues keep what is left of their slots.
 * Every cut is a `fair-share` edit whose reason names the queues that took the slots and why.
 * Deterministic: the same entries, options and history give the same result; time is `now`.
 */
export function createHostAllocator(config: HostAllocatorConfig = {}): HostAllocator {
  const defaultCooldownMs = config.cooldownMs ?? DEFAULTS.cooldownMs;
  if (!(defaultCooldownMs >= 0)) {
    throw new PolicyError(
      'POLICY_CONFIG_INVALID',
      `allocator cooldownMs must be a number >= 0, got ${defaultCooldownMs}`,
    );
  }
  /** Per queue: when each slot above its minimum was granted, oldest first. */
  const grants = new Map<string, number[]>();
  /** Per queue: the last tick it had something to do (epoch ms). */
  const lastWork = new Map<string, number>();

  return {
    allocate(entries, options) {
      const { now, maxWorkers, limiter, queues = {} } = options;
      checkEntries(entries, maxWorkers);
      const claims = entries.map(({ decision, ctx }) => {
        const settings = queues[decision.queue] ?? {};
        const cooldownMs = settings.cooldownMs ?? defaultCooldownMs;
        const fresh = (grants.get(decision.queue) ?? []).filter((at) => now - at < cooldownMs);
        const claim = claimOf(decision, ctx, settings, cooldownMs, fresh.length);
        if (!claim.idle) lastWork.set(claim.name, now);
        claim.idleForMs = now - (lastWork.get(claim.name) ?? Number.NEGATIVE_INFINITY);
        return claim;
      });
      const wanted = claims.reduce((sum, claim) => sum + claim.want, 0);
      const decisions =
        wanted <= maxWorkers
          ? entries.map((entry) => entry.decision)
          : share(claims, maxWorkers, wanted, limiter);
      remember(grants, claims, decisions, now);
      for (const name of [...lastWork.keys()]) if (!grants.has(name)) lastWork.delete(name);
      return decisions;
    },
  };
}

function checkEntries(entries: readonly AllocationEntry[], maxWorkers: number): void {
  if (!Number.isInteger(maxWorkers) || maxWorkers < 0) {
    throw new PolicyError(
      'POLICY_CONFIG_INVALID',
      `host maxWorkers must be a whole number >= 0, got ${maxWorkers}`,
    );
  }
  const names = new Set<string>();
  for (const { decision } of entries) {
    if (names.has(decision.queue)) {
      throw new PolicyError(
        'POLICY_CONFIG_INVALID',
        `two decisions for queue "${decision.queue}": one per queue expected`,
      );
    }
    names.add(decision.queue);
  }
}

function claimOf(
  decision: Decision,
  ctx: ScalingContext,
  settings: QueueAllocationSettings,
  cooldownMs: number,
  freshGrants: number,
): Claim {
  const { queue } = ctx;
  const min = settings.min ?? ctx.bounds.min;
  const max = settings.max ?? Number.POSITIVE_INFINITY;
  const want = Math.max(min, Math.min(decision.to, Math.max(max, min)));
  // Sidekiq writes running jobs to Redis only at its heartbeat, so `active` is null whenever
  // its list is empty. Nothing pending and no arrival over the rate window (a measured 0, not
  // an unknown) leaves no job that could have started since: such a queue is idle, as the
  // predictive strategy's quiet rule already takes it (a job older than the window still
  // finishes: workers stop gracefully).
  const drained = queue.pending === 0 && queue.arrivalRate === 0;
  const known = !queue.error && queue.pending !== null && (queue.active !== null || drained);
  const pending = queue.pending ?? 0;
  const idle =
    known && pending === 0 && (queue.active ?? 0) === 0 && (queue.arrivalRate ?? 0) === 0;
  const oldestMs = pending > 0 ? (queue.oldestPendingAgeMs ?? 0) : 0;
  const sloMs = ctx.slo.pickupMs;
  const keepable = Math.max(0, Math.min(want, decision.from) - min);
  return {
    name: decision.queue,
    decision,
    from: decision.from,
    want,
    min,
    weight: settings.priority ?? 1,
    cooldownMs,
    known,
    idle,
    pending,
    oldestMs,
    sloMs,
    urgency: known && pending > 0 && sloMs > 0 ? oldestMs / sloMs : 0,
    // Never scale down on missing data: such a queue keeps its slots as if just granted.
    // The slots given within the cooldown stay; older ones go back into the share (holding a
    // big queue's whole count for one new slot starves the others: bench contention).
    held: !known ? keepable : idle ? 0 : Math.min(freshGrants, keepable),
    idleForMs: 0,
    given: min,
    firstSlot: false,
  };
}

/** Most urgent first: at or past the SLO, then urgency x priority, then fewer workers, then name. */
function byUrgency(a: Claim, b: Claim): number {
  return (
    Number(b.urgency >= 1) - Number(a.urgency >= 1) ||
    b.urgency * b.weight - a.urgency * a.weight ||
    a.from - b.from ||
    (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  );
}

function share(claims: Claim[], maxWorkers: number, wanted: number, limiter?: string): Decision[] {
  let left = maxWorkers - claims.reduce((sum, claim) => sum + claim.min, 0);
  // 2. holds; should they not all fit (the host shrank), missing data first, then by urgency.
  const holders = claims
    .filter((claim) => claim.held > 0)
    .sort((a, b) => Number(a.known) - Number(b.known) || byUrgency(a, b));
  for (const claim of holders) {
    const slots = Math.max(0, Math.min(claim.held, left));
    claim.given += slots;
    left -= slots;
  }
  // 3. a first slot for every queue with waiting jobs, most urgent first.
  const waiting = claims
    .filter((claim) => claim.pending > 0 && claim.given === 0 && claim.want > 0)
    .sort(byUrgency);
  for (const claim of waiting) {
    if (left <= 0) break;
    claim.given = 1;
    claim.firstSlot = true;
    left--;
  }
  // 4. the rest to queues with work, by priority x unmet demand.
  const busy = claims.filter((claim) => !claim.idle && claim.given < claim.want);
  if (left > 0 && busy.length > 0) {
    const shares = allocateFairShare(
      busy.map((claim) => ({
        key: claim.name,
        demand: claim.want - claim.given,
        weight: claim.weight,
      })),
      left,
    );
    for (const claim of busy) {
      const slots = shares[claim.name] ?? 0;
      claim.given += slots;
      left -= slots;
    }
  }
  // 5. idle queues keep what is left of their slots (never a new spawn for them); the one idle
  // the shortest keeps its slot first, as it is the likeliest to get work again.
  const idle = claims
    .filter((claim) => claim.idle && claim.given < Math.min(claim.want, claim.from))
    .sort((a, b) => a.idleForMs - b.idleForMs || (a.name < b.name ? -1 : 1));
  for (const claim of idle) {
    const slots = Math.max(0, Math.min(Math.min(claim.want, claim.from) - claim.given, left));
    claim.given += slots;
    left -= slots;
  }
  const limit = `the host holds ${maxWorkers} workers${limiter ? ` (limited by ${limiter})` : ''} and the queues want ${wanted}`;
  const takers = claims.filter((claim) => claim.given > claim.from).sort(byUrgency);
  return claims.map((claim) => {
    const { decision } = claim;
    if (claim.given === decision.to) return decision;
    return {
      ...decision,
      to: claim.given,
      edits: [
        ...decision.edits,
        {
          policy: 'fair-share',
          from: decision.to,
          to: claim.given,
          why: `${limit}: ${explain(claim, takers)}`,
        },
      ],
    };
  });
}

/** Why a queue got fewer slots than it wanted, naming who took them. */
function explain(claim: Claim, takers: readonly Claim[]): string {
  const others = takers.filter((taker) => taker !== claim);
  const tookBy = others.length > 0 ? `; the slots went to ${listTakers(others)}` : '';
  if (claim.idle) {
    const idleFor = Number.isFinite(claim.idleForMs) ? ` for ${seconds(claim.idleForMs)}` : '';
    return `${claim.name} is idle${idleFor} (no job waiting, running or arriving), so it keeps ${claim.given === claim.min ? `only its minimum ${claim.min}` : claim.given}${tookBy}`;
  }
  if (claim.pending > 0 && claim.given === 0) {
    return `its oldest job has waited ${seconds(claim.oldestMs)} of its ${seconds(claim.sloMs)} SLO; queues given a slot within their cooldown keep theirs, and more urgent queues come first${tookBy}`;
  }
  const kept =
    claim.held > 0
      ? `it keeps the ${claim.held} slot${claim.held === 1 ? '' : 's'} given within its ${seconds(claim.cooldownMs)} cooldown; `
      : '';
  const firstly = claim.firstSlot ? 'it got a first slot for its waiting jobs; ' : '';
  const priority = claim.weight === 1 ? '' : ` x priority ${claim.weight}`;
  return `${kept}${firstly}after holds and a first slot for every queue with waiting jobs, the rest is shared by unmet demand${priority}, which gives ${claim.given}${tookBy}`;
}

function listTakers(takers: readonly Claim[]): string {
  const shown = takers.slice(0, 3).map((taker) => {
    const what =
      taker.pending > 0
        ? `${taker.pending} waiting, oldest ${seconds(taker.oldestMs)} of its ${seconds(taker.sloMs)} SLO${taker.from === 0 ? ', no worker' : ''}`
        : 'more work than workers';
    return `${taker.name} (+${taker.given - taker.from}: ${what})`;
  });
  const more = takers.length > 3 ? ` and ${takers.length - 3} more` : '';
  return `${shown.join(', ')}${more}`;
}

/** Records the slots granted this tick; forgets queues that are gone and expired grants. */
function remember(
  grants: Map<string, number[]>,
  claims: readonly Claim[],
  decisions: readonly Decision[],
  now: number,
): void {
  const seen = new Set<string>();
  claims.forEach((claim, i) => {
    const to = (decisions[i] as Decision).to;
    seen.add(claim.name);
    const kept = (grants.get(claim.name) ?? []).filter((at) => now - at < claim.cooldownMs);
    for (let slot = claim.from; slot < to; slot++) kept.push(now);
    const aboveMin = Math.max(0, to - claim.min);
    grants.set(claim.name, kept.slice(Math.max(0, kept.length - aboveMin)));
  });
  for (const name of [...grants.keys()]) if (!seen.has(name)) grants.delete(name);
}

function seconds(ms: number): string {
  return `${Number((ms / 1_000).toFixed(1))}s`;
}
