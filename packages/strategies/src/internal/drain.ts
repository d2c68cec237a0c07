import type { QueueSnapshot } from '@qscale/contracts';

export interface DrainInput {
  /** Snapshots oldest first, the last one now (its pending, oldest age, active). */
  snapshots: readonly QueueSnapshot[];
  now: number;
  pickupMs: number;
  serviceMs: number;
  /** Slots taking jobs now. */
  runningSlots: number;
  spawnLatencyMs: number;
  /** Shortest budget divided by (a job already at or past its SLO). */
  floorMs: number;
  /**
   * The loop's tick: a tick's arrivals are taken a tick older than they are, since the next
   * look at the queue (and any worker added then) comes only a tick later.
   */
  tickMs: number;
}

/**
 * Slots to start every queued job before its own SLO runs out (FIFO). A job with `ahead` jobs
 * before it and `age` starts after (ahead + active / 2) x S slot-ms of work; running slots work
 * from now, new ones after the spawn latency. The ages come from the arrivals of each past
 * tick: the queue holds the latest `pending` arrivals, so counting them back from now says how
 * old each part of the queue is and how many jobs wait ahead of it. Jobs the counted arrivals
 * do not cover (unknown rates, a short history) are taken as old as the oldest one. Taking
 * every job as old as the oldest (a dump) gives the old bound (pending + active/2) S / (SLO - oldest).
 */
export function fifoDrainSlots(input: DrainInput): { slots: number; budgetMs: number } {
  const { snapshots, now, pickupMs, serviceMs, runningSlots, spawnLatencyMs, floorMs, tickMs } =
    input;
  const current = snapshots.at(-1);
  const pending = current?.pending ?? 0;
  const oldestMs = current?.oldestPendingAgeMs ?? 0;
  const active = current?.active ?? 0;
  if (pending <= 0) return { slots: 0, budgetMs: Math.max(pickupMs - oldestMs, floorMs) };
  const slotsFor = (ahead: number, ageMs: number) => {
    const workMs = (ahead + active / 2) * serviceMs;
    const budgetMs = Math.max(pickupMs - ageMs, floorMs);
    if (runningSlots * budgetMs >= workMs) return workMs / budgetMs;
    return (
      runningSlots +
      (workMs - runningSlots * budgetMs) / Math.max(budgetMs - spawnLatencyMs, floorMs)
    );
  };
  let slots = 0;
  let tightestBudgetMs = Number.POSITIVE_INFINITY;
  const consider = (ahead: number, ageMs: number) => {
    const need = slotsFor(ahead, ageMs);
    if (need >= slots) {
      slots = need;
      tightestBudgetMs = Math.max(pickupMs - ageMs, floorMs);
    }
  };
  let newer = 0;
  for (let i = snapshots.length - 1; i >= 1 && newer < pending; i--) {
    const snapshot = snapshots[i] as QueueSnapshot;
    const previousAt = (snapshots[i - 1] as QueueSnapshot).at;
    // Unknown arrivals, or a tick that ended before the oldest queued job arrived: stop.
    if (snapshot.arrivalRate === null || snapshot.at <= now - oldestMs) break;
    const arrived = (snapshot.arrivalRate * (snapshot.at - previousAt)) / 1_000;
    if (arrived <= 0) continue;
    const ageMs = Math.min(now - previousAt + tickMs, oldestMs);
    // The oldest job of this tick's arrivals still queued.
    consider(Math.max(0, pending - newer - arrived), ageMs);
    newer += arrived;
  }
  // The rest, as old as the oldest: the youngest of them has the most ahead.
  if (newer < pending) consider(Math.max(0, Math.ceil(pending - newer - 1e-9) - 1), oldestMs);
  consider(0, oldestMs);
  // A lone job with nothing running asks for no work ahead of it, yet only a slot can start it
  // (a first job on a queue at zero workers, its arrival rate not known yet).
  if (runningSlots === 0 && slots === 0) slots = 1;
  return { slots, budgetMs: tightestBudgetMs };
}
