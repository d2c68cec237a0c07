import type { DaemonContext } from '../daemon-context.js';
import type { DaemonState, QueueState } from '../daemon-types.js';
import { groupStateOf } from '../runtime/group-runtime.js';
import type { QueueRuntime } from '../runtime/queue-runtime.js';

// The daemon's state as /api/state, `qscale status` and the dashboard see it: a view built on
// demand from what the loop keeps anyway (no second source of truth), health included.

export function daemonState(ctx: DaemonContext): DaemonState {
  const { config, holds, pods, runtimes, unreadable } = ctx;
  const queues = config.queues.flatMap((queue): QueueState[] => {
    const runtime = runtimes.get(queue.name);
    if (!runtime) return [];
    return [
      {
        name: queue.name,
        driver: queue.driver,
        slo: queue.slo,
        bounds: { min: queue.workers.min, max: queue.workers.max },
        snapshot: runtime.lastSnapshot,
        workers: runtime.workers(),
        pool: runtime.pool?.status() ?? null,
        lastDecision: runtime.lastDecision,
        held: holds.current(queue.name),
        ...(pods ? { workerCount: pods.view(queue.name) } : {}),
        ...groupStateOf(runtime),
      },
    ];
  });
  const reasons = [
    ...[...unreadable.keys()].map((queue) => `queue ${queue} cannot be read`),
    ...queues
      .filter((queue) => queue.pool?.health === 'degraded')
      .map((queue) => `workers of ${queue.name} keep failing to start`),
  ];
  return {
    version: 1,
    startedAt: ctx.startedAt,
    now: Date.now(),
    dryRun: ctx.dryRun,
    tickMs: config.tickMs,
    ticks: ctx.ticks,
    lastTick: ctx.lastTick,
    health: { status: reasons.length === 0 ? 'ok' : 'degraded', reasons },
    resources: ctx.resources,
    capacity: ctx.hostCapacity,
    queues,
    decisions: ctx.decisions.toArray(),
    alerts: ctx.alerts.state(),
    holds: ctx.holdLog.toArray(),
    ...(ctx.fleet ? { cluster: ctx.fleet.state() } : {}),
  };
}

/** A pool whose workers keep failing to start: /healthz says `degraded` without building the state. */
export const anyPoolDegraded = (runtimes: ReadonlyMap<string, QueueRuntime>): boolean =>
  [...runtimes.values()].some((runtime) => runtime.pool?.status().health === 'degraded');
