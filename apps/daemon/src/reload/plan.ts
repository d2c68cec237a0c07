import type { QscaleConfig, QueueConfig } from '../config/schema.js';
import { sameDecider, samePool, sameSource } from '../runtime/wiring.js';

// What a reload changes, worked out from the running and the new configuration alone (pure):
// which queues come, go or stay, which of those that stay need a new decider or new workers,
// and whether the Redis sources or the HTTP listener change. reload/apply.ts acts on it.

export interface KeptQueue {
  before: QueueConfig;
  queue: QueueConfig;
}

export interface ReloadPlan {
  added: QueueConfig[];
  kept: KeptQueue[];
  /** A queue that became a worker group of the same name (or the reverse) needs a new runtime. */
  regrouped: KeptQueue[];
  /** Kept queues whose strategy or scaling changed: a new decider. */
  redefined: KeptQueue[];
  /** Kept queues whose pool must be updated: a rolling replacement of their workers. */
  replaced: KeptQueue[];
  removed: QueueConfig[];
  sourcesChanged: boolean;
  httpChanged: boolean;
}

export function planReload(config: QscaleConfig, next: QscaleConfig): ReloadPlan {
  const previous = new Map(config.queues.map((queue) => [queue.name, queue]));
  const added = next.queues.filter((queue) => !previous.has(queue.name));
  const kept = next.queues.flatMap((queue) => {
    const before = previous.get(queue.name);
    return before ? [{ before, queue }] : [];
  });
  // A queue that became a worker group of the same name (or the reverse) needs a new runtime.
  const regrouped = kept.filter(({ before, queue }) => !before.workerGroup !== !queue.workerGroup);
  const redefined = kept.filter(({ before, queue }) => !sameDecider(before, queue));
  const replaced = kept.filter(({ before, queue }) => !samePool(before, queue));
  const removed = config.queues.filter(
    (queue) => !next.queues.some((other) => other.name === queue.name),
  );
  const sourcesChanged =
    next.queues.length !== config.queues.length ||
    next.queues.some((queue) => {
      const before = previous.get(queue.name);
      return !before || !sameSource(before, queue);
    });
  const httpChanged = JSON.stringify(next.http) !== JSON.stringify(config.http);
  return { added, kept, regrouped, redefined, replaced, removed, sourcesChanged, httpChanged };
}
