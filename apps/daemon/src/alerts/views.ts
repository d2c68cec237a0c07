import type { RedisConnection } from '../config/schema.js';
import { GroupRuntime } from '../runtime/group-runtime.js';
import type { QueueRuntime } from '../runtime/queue-runtime.js';
import type { AlertQueueView } from './rules.js';

/**
 * What the alert rules read of a pool entry, from the state the loop keeps anyway: a queue's
 * own view; for a worker group, one view per member queue (its own snapshot and SLO, the
 * group's workers) and one of the group's pool (its workers' health).
 */
export function alertViews(runtime: QueueRuntime): AlertQueueView[] {
  const status = runtime.pool?.status() ?? null;
  const counts = runtime.workers();
  const workers = { running: counts.running, desired: runtime.lastDecision?.to ?? null };
  const own: AlertQueueView = {
    name: runtime.config.name,
    slo: runtime.config.slo,
    snapshot: runtime.lastSnapshot,
    poolHealth: status?.health ?? null,
    failedStarts: status?.failedStarts ?? 0,
    workers,
    redis: redisAddress(runtime.config.redis),
  };
  if (!(runtime instanceof GroupRuntime)) return [own];
  const group = runtime.config.name;
  return [
    ...runtime.spec.members.map(
      (member): AlertQueueView => ({
        name: member.name,
        slo: member.slo,
        snapshot: runtime.memberSnapshot(member.name),
        poolHealth: null,
        failedStarts: 0,
        workers,
        redis: redisAddress(member.redis),
        group: { name: group, role: 'member' },
      }),
    ),
    { ...own, group: { name: group, role: 'pool' } },
  ];
}

/** `host:port` of a Redis connection: what alerts name it by, never its credentials. */
export function redisAddress(redis: RedisConnection): string {
  const url = new URL(redis.url);
  return `${url.hostname}:${url.port || '6379'}`;
}
