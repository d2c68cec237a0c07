import type { RedisConnection } from '../config/schema.js';
import type { QueueRuntime } from '../runtime/queue-runtime.js';
import type { AlertQueueView } from './rules.js';

/** What the alert rules read of a queue, from the state the loop keeps anyway. */
export function alertView(runtime: QueueRuntime): AlertQueueView {
  const status = runtime.pool?.status() ?? null;
  const counts = runtime.workers();
  return {
    name: runtime.config.name,
    slo: runtime.config.slo,
    snapshot: runtime.lastSnapshot,
    poolHealth: status?.health ?? null,
    failedStarts: status?.failedStarts ?? 0,
    workers: { running: counts.running, desired: runtime.lastDecision?.to ?? null },
    redis: redisAddress(runtime.config.redis),
  };
}

/** `host:port` of a Redis connection: what alerts name it by, never its credentials. */
export function redisAddress(redis: RedisConnection): string {
  const url = new URL(redis.url);
  return `${url.hostname}:${url.port || '6379'}`;
}
