import { performance } from 'node:perf_hooks';
import type { QueueSnapshot } from '@qscale/contracts';
import { alertViews } from '../alerts/views.js';
import type { DaemonContext } from '../daemon-context.js';
import type { TickPhase } from '../daemon-types.js';
import { memberSnapshots, servingRuntime } from '../runtime/group-runtime.js';
import type { QueueRuntime } from '../runtime/queue-runtime.js';
import { applyDecisions } from './tick-apply.js';
import { decideQueues } from './tick-decide.js';
import { readQueuesAndHost } from './tick-read.js';

// One tick of the control loop (ARCHITECTURE.md), phase by phase: read the queues and the
// host (tick-read.ts), decide per queue (tick-decide.ts), share the host and apply
// (tick-apply.ts); then record what the tick saw for alerts, the dashboard and the wake poller,
// and time each phase for /api/state.

export async function runTick(ctx: DaemonContext): Promise<void> {
  const started = performance.now();
  const now = Date.now();
  // read: the Redis snapshot; resources: what /proc and capacity add after it (the two
  // reads overlap); decide and apply follow.
  const phasesMs = { read: 0, resources: 0, decide: 0, apply: 0 };
  let mark = started;
  const lap = (phase: TickPhase) => {
    const at = performance.now();
    phasesMs[phase] = at - mark;
    mark = at;
  };
  const reading = await readQueuesAndHost(ctx, lap);
  const decisions = await decideQueues(ctx, reading, now);
  lap('decide');
  await applyDecisions(ctx, decisions, reading.live, now);
  lap('apply');
  recordTick(ctx, reading.live, reading.snapshots, decisions.pooled, now);
  ctx.ticks++;
  const durationMs = performance.now() - started;
  ctx.lastTick = { at: now, durationMs, phasesMs };
  ctx.metrics.observeTick(durationMs, durationMs > ctx.config.tickMs);
  ctx.pods?.keep(new Set(ctx.runtimes.keys()));
  for (const listener of ctx.tickListeners) {
    try {
      listener();
    } catch (error) {
      ctx.logger.error('a tick listener failed', { error });
    }
  }
}

/** Hands what the tick saw to the alerts, the dashboard's charts and the wake poller. */
function recordTick(
  ctx: DaemonContext,
  live: QueueRuntime[],
  snapshots: readonly QueueSnapshot[],
  pooled: readonly QueueSnapshot[],
  now: number,
): void {
  const { history, runtimes } = ctx;
  ctx.alerts.observe(
    now,
    live.filter((runtime) => runtimes.has(runtime.config.name)).flatMap(alertViews),
  );
  // The dashboard's charts: one fixed-size slot per queue and time bucket, no allocation.
  for (const snapshot of pooled) {
    const runtime = runtimes.get(snapshot.queue);
    if (!runtime) continue;
    const running = runtime.workers().running;
    const desired = runtime.lastDecision?.to ?? null;
    history.recordSnapshot(snapshot, running, desired);
    // A group's members too, each under its own name with the pool's workers: the
    // dashboard charts each member against its own SLO, under its group.
    for (const member of memberSnapshots(runtime)) history.recordSnapshot(member, running, desired);
  }
  history.prune(now);
  ctx.wakePoller?.watch(asleep(runtimes, snapshots));
}

/** Queues with no worker whose last read found no job: a first job wakes the loop. */
const asleep = (
  runtimes: ReadonlyMap<string, QueueRuntime>,
  snapshots: readonly QueueSnapshot[],
): string[] =>
  snapshots.flatMap((snapshot) => {
    const runtime = servingRuntime(runtimes, snapshot.queue);
    if (!runtime || snapshot.error || snapshot.pending !== 0) return [];
    const counts = runtime.workers();
    return counts.running + counts.starting === 0 ? [snapshot.queue] : [];
  });
