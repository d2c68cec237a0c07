import type { HostCapacity, QueueSnapshot, ResourceSnapshot } from '@qscale/contracts';
import { capacity } from '@qscale/resource-monitor';
import type { DaemonContext } from '../daemon-context.js';
import type { TickPhase } from '../daemon-types.js';
import type { QueueRuntime } from '../runtime/queue-runtime.js';
import { capacityWorkers } from '../runtime/wiring.js';
import type { CountedWorkers } from '../scaler/worker-count.js';

// The tick's first two phases: `read` (every queue's snapshot from Redis) and `resources`
// (the host from /proc and the cgroup, and what capacity that leaves). They run at once, as
// they are independent; the host's figures land in the context for the phases that follow.

/** What the tick read: the queues' runtimes in configuration order, their snapshots, their pods. */
export interface TickReading {
  live: QueueRuntime[];
  snapshots: QueueSnapshot[];
  /** The workers run elsewhere: each queue's counted pods; else undefined. */
  podCounts: Map<string, CountedWorkers> | undefined;
}

/** Reads the queues and the host; calls `lap` as each of the two phases ends. */
export async function readQueuesAndHost(
  ctx: DaemonContext,
  lap: (phase: TickPhase) => void,
): Promise<TickReading> {
  const { logger, runtimes, supervisor, pods } = ctx;
  const live = ctx.config.queues.flatMap((queue) => {
    const runtime = runtimes.get(queue.name);
    return runtime ? [runtime] : [];
  });
  const pids = live.map((runtime) => runtime.pool?.pids() ?? []);
  // Redis and /proc are independent: read both at once (and count the pods, if elsewhere).
  const [snapshots, host, podCounts] = await Promise.all([
    ctx.reader.snapshot().finally(() => lap('read')),
    ctx.monitor.snapshot(pids.flat()).catch((error: unknown) => {
      logger.error('cannot read host resources', { error });
      return null;
    }),
    pods?.count(live.map((runtime) => runtime.config)),
  ]);
  ctx.resources = host;
  if (ctx.resources) supervisor?.observeResources(ctx.resources.perWorker);
  // Pods elsewhere do not use this host's CPU and memory: only limits.maxWorkers bounds them.
  ctx.hostCapacity = ctx.resources && !pods ? hostCapacityOf(ctx, ctx.resources, live, pids) : null;
  lap('resources');
  return { live, snapshots, podCounts };
}

function hostCapacityOf(
  ctx: DaemonContext,
  snapshot: ResourceSnapshot,
  live: QueueRuntime[],
  pids: number[][],
): HostCapacity | null {
  try {
    const running = live.map((runtime, index) => ({
      queue: runtime.config.name,
      runningPids: runtime.pool ? (pids[index] ?? []) : [],
    }));
    const measured = ctx.workerCosts.observe(snapshot, running);
    return capacity({
      resources: snapshot,
      perWorker: live.map((runtime, index) => {
        const counts = runtime.workers();
        const liveWorkers = counts.running + counts.starting + counts.stopping;
        return capacityWorkers(
          runtime.config,
          running[index]?.runningPids ?? [],
          liveWorkers,
          measured[runtime.config.name],
        );
      }),
      limits: ctx.config.limits,
    });
  } catch (error) {
    ctx.logger.error('cannot compute host capacity; using limits.maxWorkers', { error });
    return null;
  }
}
