import type { Decision, HostCapacity, ResourceSnapshot } from '@qscale/contracts';
import type { RingBuffer } from '../loop/ring-buffer.js';

/**
 * A decision that keeps a queue below its strategy's recommendation: what was asked, what was
 * allowed, which policies cut it (in the order they acted) and why, in one line.
 */
export interface QueueHold {
  /** Workers the strategy recommended. */
  recommended: number;
  /** Workers decided after every policy. */
  decided: number;
  /** The policies that lowered the count, as named in the decision's edits (`bounds`, `fair-share`, ...). */
  by: string[];
  /** Each policy's reason, `policy: why`, joined with `; `; a host-capacity cut says what the host is busy with. */
  reason: string;
  /** Epoch ms since when the queue has been held below its recommendation, tick after tick. */
  since: number;
}

/** What the host looked like this tick, for the reason of a `fair-share` cut. */
export interface HostView {
  resources: ResourceSnapshot | null;
  capacity: HostCapacity | null;
  limits: { maxWorkers: number; cpu: { maxPercent: number }; memory: { maxPercent: number } };
}

/** The hold of a decision, or null when it reaches its recommendation. */
export function holdOf(decision: Decision, host: HostView, since: number): QueueHold | null {
  const recommended = decision.recommendation.workers;
  if (decision.to >= recommended) return null;
  const cuts = decision.edits.filter((edit) => edit.to < edit.from);
  const by = [...new Set(cuts.map((edit) => edit.policy))];
  const reason = cuts
    .map((edit) => `${edit.policy}: ${edit.policy === 'fair-share' ? hostLimit(host) : edit.why}`)
    .join('; ');
  return { recommended, decided: decision.to, by, reason, since };
}

/**
 * The limit the host's slots were shared under, in words: with a CPU or memory limit, the
 * resource's figures (budget, what other processes use or the workers wait, free / per-worker
 * cost = workers); with the configured cap, its value.
 */
export function hostLimit({ capacity, limits }: HostView): string {
  if (!capacity || capacity.limiter === 'config') {
    return `limits.maxWorkers is ${limits.maxWorkers} for all queues together, shared across them`;
  }
  const room = `room for ${capacity.maxWorkers} worker${capacity.maxWorkers === 1 ? '' : 's'}`;
  return `host capacity (${capacity.why ?? capacity.limiter}): ${room} for all queues together`;
}

/**
 * One decision that changed a queue's worker count, or held it below the strategy's
 * recommendation, as logs and /api/state show it.
 */
export interface DecisionRecord extends Decision {
  /** Epoch ms of the tick (of the first tick, for a run of holds). */
  at: number;
  /** Index of the tick that decided it (0 for the first). */
  tick: number;
  /** `up` or `down`; `hold` (only in `holds`): the count stayed, below the recommendation. */
  direction: 'up' | 'down' | 'hold';
  /** Set when the decision is below the recommendation: by how much, which policies, why. */
  held?: QueueHold;
  /** A run of identical holds is one record: epoch ms of its last tick, and how many ticks. */
  until?: number;
  heldTicks?: number;
}

/**
 * Keeps each queue's hold start and folds repeated holds into one record: a queue held at
 * the same count by the same policies tick after tick is one `hold` record whose `until` and
 * `heldTicks` grow (moved to the end of the log, so "recent decisions" shows it).
 */
export class HoldLog {
  readonly #since = new Map<string, number>();
  readonly #current = new Map<string, QueueHold>();
  readonly #lastHold = new Map<string, DecisionRecord>();

  constructor(private readonly log: RingBuffer<DecisionRecord>) {}

  /** The hold of this tick's decision (null when none), remembering since when it lasts. */
  hold(decision: Decision, host: HostView, now: number): QueueHold | null {
    const since = this.#since.get(decision.queue) ?? now;
    const hold = holdOf(decision, host, since);
    if (hold) {
      this.#since.set(decision.queue, since);
      this.#current.set(decision.queue, hold);
    } else {
      this.#since.delete(decision.queue);
      this.#current.delete(decision.queue);
    }
    return hold;
  }

  /** The queue's hold as of its last decision, or null. */
  current(queue: string): QueueHold | null {
    return this.#current.get(queue) ?? null;
  }

  /** Logs a decision that changed nothing but held the queue below its recommendation. */
  recordHold(decision: Decision, hold: QueueHold, now: number, tick: number): void {
    const last = this.#lastHold.get(decision.queue);
    if (last && last.to === decision.to && sameList(last.held?.by ?? [], hold.by)) {
      this.log.remove(last);
      const merged: DecisionRecord = {
        ...last,
        recommendation: decision.recommendation,
        edits: decision.edits,
        held: hold,
        until: now,
        heldTicks: (last.heldTicks ?? 1) + 1,
      };
      this.log.push(merged);
      this.#lastHold.set(decision.queue, merged);
      return;
    }
    const record: DecisionRecord = {
      ...decision,
      at: now,
      tick,
      direction: 'hold',
      held: hold,
      until: now,
      heldTicks: 1,
    };
    this.log.push(record);
    this.#lastHold.set(decision.queue, record);
  }

  /** A change of the worker count ends the run of holds it would fold into. */
  changed(queue: string): void {
    this.#lastHold.delete(queue);
  }

  /** Forgets queues that are gone. */
  keep(queues: ReadonlySet<string>): void {
    for (const map of [this.#since, this.#current, this.#lastHold]) {
      for (const name of [...map.keys()]) if (!queues.has(name)) map.delete(name);
    }
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((value, index) => value === b[index]);
}
