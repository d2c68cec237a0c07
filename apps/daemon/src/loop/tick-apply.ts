import type { Decision } from '@qscale/contracts';
import { capToQueueCapacity } from '@qscale/policies';
import type { DaemonContext } from '../daemon-context.js';
import { fleetDecisions } from '../fleet/reconcile.js';
import type { DecisionRecord } from '../runtime/holds.js';
import type { QueueRuntime } from '../runtime/queue-runtime.js';
import { shareSettings } from '../runtime/wiring.js';
import type { TickDecisions } from './tick-decide.js';

// The tick's `apply` phase: the queues' decisions are fitted into what the host holds (or, in
// a fleet, split across the hosts), then each pool is scaled to its share and every change or
// hold is logged and kept for /api/state.

export async function applyDecisions(
  ctx: DaemonContext,
  { decided, fleetReady }: TickDecisions,
  live: QueueRuntime[],
  now: number,
): Promise<void> {
  const { config, fleet, hostCapacity, runtimes } = ctx;
  // Each queue first to what the host's CPU and memory hold of its own workers (priced at
  // their cost); limits.maxWorkers is the allocator's to share across queues...
  const capped = capToQueueCapacity(
    decided.map((entry) => entry.decision),
    Object.fromEntries(
      Object.entries(hostCapacity?.perQueue ?? {}).filter(([, own]) => own.limiter !== 'config'),
    ),
    Object.fromEntries(config.queues.map((queue) => [queue.name, queue.workers.min])),
  );
  // ...then all of them into what the host holds together.
  const limit = Math.min(config.limits.maxWorkers, hostCapacity?.maxWorkers ?? Infinity);
  const shared = ctx.allocator.allocate(
    decided.map((entry, index) => ({ ...entry, decision: capped[index] ?? entry.decision })),
    {
      now,
      maxWorkers: limit,
      limiter:
        hostCapacity && hostCapacity.maxWorkers < config.limits.maxWorkers
          ? (hostCapacity.why ?? hostCapacity.limiter)
          : 'config',
      queues: shareSettings(config),
    },
  );
  // A fleet splits the leader's totals across the hosts instead (src/fleet/split.ts).
  const applied = fleet
    ? await fleetDecisions(
        fleet,
        fleetReady,
        decided.map((entry) => entry.decision),
        live,
        now,
      )
    : shared;
  for (const decision of applied) {
    const runtime = runtimes.get(decision.queue);
    if (!runtime) continue;
    applyDecision(ctx, runtime, decision, now);
  }
  ctx.holds.keep(new Set(runtimes.keys()));
}

/** Scales one queue's pool (or its virtual workers) to the decision, and logs and keeps it. */
function applyDecision(
  ctx: DaemonContext,
  runtime: QueueRuntime,
  decision: Decision,
  now: number,
): void {
  const { holds, logger } = ctx;
  runtime.lastDecision = decision;
  ctx.metrics.observeDecision(decision);
  if (runtime.pool) runtime.pool.scaleTo(decision.to);
  else runtime.virtualWorkers = decision.to;
  const held = holds.hold(
    decision,
    { resources: ctx.resources, capacity: ctx.hostCapacity, limits: ctx.config.limits },
    now,
  );
  if (decision.to === decision.from) {
    if (held) holds.recordHold(decision, held, now, ctx.ticks);
    logger.debug(`hold ${decision.queue} at ${decision.to}`, {
      queue: decision.queue,
      workers: decision.to,
      reason: decision.recommendation.reason,
      recommended: decision.recommendation.workers,
      edits: decision.edits,
    });
    return;
  }
  const record: DecisionRecord = {
    ...decision,
    at: now,
    tick: ctx.ticks,
    direction: decision.to > decision.from ? 'up' : 'down',
    ...(held ? { held } : {}),
  };
  ctx.decisions.push(record);
  holds.changed(decision.queue);
  logger.info(`scale ${record.direction} ${decision.queue}: ${decision.from} -> ${decision.to}`, {
    queue: decision.queue,
    from: decision.from,
    to: decision.to,
    reason: decision.recommendation.reason,
    recommended: decision.recommendation.workers,
    terms: decision.recommendation.terms,
    edits: decision.edits,
    ...(held ? { heldBy: held.by } : {}),
    dryRun: ctx.dryRun,
  });
}
