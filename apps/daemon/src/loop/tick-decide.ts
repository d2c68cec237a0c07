import type { QueueSnapshot } from '@qscale/contracts';
import type { AllocationEntry } from '@qscale/policies';
import type { DaemonContext } from '../daemon-context.js';
import { fleetContext } from '../fleet/reconcile.js';
import { poolSnapshots } from '../runtime/group-runtime.js';
import type { QueueRuntime } from '../runtime/queue-runtime.js';
import type { TickReading } from './tick-read.js';

// The tick's `decide` phase: each queue's strategy and policies over what the tick read, one
// queue at a time so that one failing queue never stops the others. In a fleet it first
// syncs with the other hosts, and only the leader decides.

export interface TickDecisions {
  /** The snapshots decided on: a worker group's members pooled into one (runtime/group-runtime.ts). */
  pooled: QueueSnapshot[];
  /** Each queue's decision, with the context its strategy saw. */
  decided: AllocationEntry[];
  /** A fleet: whether this tick could read the fleet's Redis (else nothing may change). */
  fleetReady: boolean;
}

export async function decideQueues(
  ctx: DaemonContext,
  { live, snapshots, podCounts }: TickReading,
  now: number,
): Promise<TickDecisions> {
  const { config, fleet, logger, runtimes } = ctx;
  // A fleet: heartbeat, lease and the assignment in force, in one round trip. Without
  // Redis the host decides and changes nothing until it can read again.
  const fleetReady = fleet
    ? await fleet.sync(
        Math.min(config.limits.maxWorkers, ctx.hostCapacity?.maxWorkers ?? Infinity),
        Object.fromEntries(live.map((runtime) => [runtime.config.name, runtime.workers()])),
      )
    : true;

  const decided: AllocationEntry[] = [];
  // A group decides from its members' snapshots as one pool (runtime/group-runtime.ts).
  const pooled = poolSnapshots(snapshots, runtimes, now, config.tickMs);
  for (const snapshot of pooled) {
    const runtime = runtimes.get(snapshot.queue);
    if (!runtime) continue;
    try {
      ctx.metrics.observeSnapshot(snapshot);
      reportReadability(ctx, snapshot, runtime, now);
      ctx.pods?.observe(runtime, podCounts?.get(snapshot.queue), snapshot, now);
      const queueCtx = runtime.context(snapshot, now, config.tickMs);
      runtime.remember(snapshot);
      // In a fleet only the leader decides, for every host's workers together.
      if (fleet && !(fleetReady && fleet.isLeader)) continue;
      const fleetCtx = fleet ? fleetContext(fleet, queueCtx, snapshot.queue) : queueCtx;
      decided.push({ decision: runtime.decide(fleetCtx, logger), ctx: fleetCtx });
    } catch (error) {
      // One queue failing never stops the others.
      logger.error('cannot decide for queue; keeping its workers', {
        queue: snapshot.queue,
        error,
      });
    }
  }
  return { pooled, decided, fleetReady };
}

/** Logs when a queue becomes unreadable and when it is readable again, once each. */
function reportReadability(
  ctx: DaemonContext,
  snapshot: QueueSnapshot,
  runtime: QueueRuntime,
  now: number,
): void {
  const { logger, unreadable } = ctx;
  const since = unreadable.get(snapshot.queue);
  if (snapshot.error && since === undefined) {
    unreadable.set(snapshot.queue, now);
    const counts = runtime.workers();
    logger.warn('cannot read queue; keeping its workers until it can be read', {
      queue: snapshot.queue,
      code: snapshot.error.code,
      reason: snapshot.error.message,
      workers: counts.running + counts.starting,
    });
  } else if (!snapshot.error && since !== undefined) {
    unreadable.delete(snapshot.queue);
    logger.info('queue readable again', { queue: snapshot.queue, outageMs: now - since });
  }
}
