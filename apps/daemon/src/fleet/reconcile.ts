import type { Decision, ScalingContext } from '@qscale/contracts';
import type { QueueRuntime } from '../runtime/queue-runtime.js';
import type { Fleet } from './fleet.js';

// The two hooks the daemon's tick calls in a fleet: what the leader's strategies see, and
// the decisions each host applies to its own pools.

/** The leader decides for the whole fleet: its strategy sees every member's workers. */
export function fleetContext(fleet: Fleet, ctx: ScalingContext, queue: string): ScalingContext {
  return { ...ctx, workers: fleet.fleetWorkers(queue, ctx.workers.concurrency) };
}

/**
 * The leader publishes the shares of the totals it decided; then every host turns its share
 * of each queue (in the assignment in force) into the decision its pool applies. Nothing when
 * Redis could not be read this tick (`ready` false): the host keeps its workers as they are.
 */
export async function fleetDecisions(
  fleet: Fleet,
  ready: boolean,
  decided: readonly Decision[],
  live: readonly QueueRuntime[],
  now: number,
): Promise<Decision[]> {
  if (!ready) return [];
  const byQueue = new Map(decided.map((decision) => [decision.queue, decision]));
  if (fleet.isLeader) {
    await fleet.publish(
      live.map((runtime) => {
        const name = runtime.config.name;
        // A queue whose decision failed this tick keeps its total in force.
        const total = byQueue.get(name)?.to ?? fleet.total(name) ?? runtime.config.workers.min;
        return { name, total, max: runtime.config.workers.max };
      }),
      now,
    );
  }
  const decisions = live.flatMap((runtime) => {
    const counts = runtime.workers();
    const own = fleet.localDecision(
      runtime.config.name,
      counts.running + counts.starting,
      fleet.isLeader ? byQueue.get(runtime.config.name) : undefined,
    );
    return own ? [own] : [];
  });
  fleet.markApplied();
  return decisions;
}
