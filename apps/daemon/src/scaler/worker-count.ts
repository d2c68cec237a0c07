import type { Logger, WorkerCounts } from '@qscale/contracts';
import type { MetricsReader, WorkerCount, WorkerRegistry } from '@qscale/metrics-reader';
import type { QueueConfig } from '../config/schema.js';

// When the workers are pods (KEDA scales them), qscale spawns nothing and must learn how many
// run from the queue system itself. The metrics reader counts them over its own connections
// (Sentinel, Unix sockets, client certificates and Cluster as for the queue reads); where the
// backend keeps no registry (Laravel, Celery), the count is what qscale last decided, raised to
// the jobs the queue shows running.

/** Where a queue's worker count came from, as logs and /api/state say it. */
export type WorkerCountSource =
  | WorkerRegistry
  /** No registry (Laravel, Celery) or it could not be read: the last decision, or more if busy. */
  | 'decision';

export interface CountedWorkers {
  /** Workers the backend shows, or null when it has no registry or could not be read. */
  registered: number | null;
  source: WorkerCountSource;
  /** Why the source is `decision` when the driver has a registry. */
  note?: string;
}

export interface WorkerCounter {
  /** One count per queue (by name), each Redis read in at most two round trips. */
  count(queues: readonly QueueConfig[]): Promise<Map<string, CountedWorkers>>;
}

/**
 * Counts with the reader that reads the queues (it must have every queue counted as a source;
 * a worker group's members are its sources). A group's count is its pods once each: the
 * registry entries serving any member, as a union (a Sidekiq process serving `high` and
 * `default`, an RQ worker listening on both, is one pod, not one per queue it serves).
 */
export function createWorkerCounter(options: {
  logger: Logger;
  reader: Pick<MetricsReader, 'workerCounts'>;
}): WorkerCounter {
  const warned = new Set<string>();
  return {
    async count(queues) {
      const result = new Map<string, CountedWorkers>();
      const names = queues.flatMap((queue) =>
        queue.workerGroup ? queue.workerGroup.members.map((member) => member.name) : [queue.name],
      );
      const read = await options.reader.workerCounts(names);
      const byName = new Map(read.map((count) => [count.queue, count]));
      const counts = queues.flatMap((queue): WorkerCount[] => {
        if (!queue.workerGroup)
          return byName.has(queue.name) ? [byName.get(queue.name) as WorkerCount] : [];
        return [
          groupCount(
            queue.name,
            queue.workerGroup.members.map((member) => byName.get(member.name)),
          ),
        ];
      });
      for (const count of counts) {
        if (count.workers !== null && count.registry !== null) {
          result.set(count.queue, { registered: count.workers, source: count.registry });
          warned.delete(count.queue);
          continue;
        }
        if (count.registry === null) {
          result.set(count.queue, { registered: null, source: 'decision' });
          continue;
        }
        const note = count.reason ?? 'the worker registry cannot be read';
        result.set(count.queue, { registered: null, source: 'decision', note });
        if (!warned.has(count.queue)) {
          warned.add(count.queue);
          options.logger.warn('cannot count the workers; using the last decision', {
            queue: count.queue,
            reason: note,
          });
        }
      }
      return result;
    },
  };
}

/**
 * A group's pods from its members' counts: the union of the registry entries that serve any
 * member. A member not counted (its registry unreadable) leaves the group's count unknown: a
 * partial union would undercount.
 */
function groupCount(group: string, members: readonly (WorkerCount | undefined)[]): WorkerCount {
  const first = members[0];
  const registry = first?.registry ?? null;
  if (registry === null) {
    return { queue: group, workers: null, registry: null, reason: first?.reason ?? 'no registry' };
  }
  const ids = new Set<string>();
  for (const member of members) {
    if (!member || member.workers === null || !member.workerIds) {
      return {
        queue: group,
        workers: null,
        registry,
        reason:
          member?.reason ?? `the worker registry of ${member?.queue ?? 'a member'} cannot be read`,
      };
    }
    for (const id of member.workerIds) ids.add(id);
  }
  return { queue: group, workers: ids.size, registry, workerIds: [...ids] };
}

/**
 * The workers as the strategy and policies see them when the pods are elsewhere: `running`
 * is what the backend shows; the pods decided but not registered yet are `starting`, so the
 * count the policies start from (running + starting) is what was decided, not a dip while
 * pods start. Without a registry, the last decision (raised to the busy workers the queue
 * shows: jobs running / concurrency) is all there is.
 */
export function observedWorkers(
  counted: CountedWorkers,
  lastDecided: number | null,
  activeJobs: number | null,
  concurrency: number,
): WorkerCounts {
  const busy = activeJobs === null ? 0 : Math.ceil(activeJobs / concurrency);
  if (counted.registered === null) {
    return {
      running: Math.max(lastDecided ?? 0, busy),
      starting: 0,
      stopping: 0,
      concurrency,
    };
  }
  const running = counted.registered;
  return {
    running,
    starting: Math.max(0, (lastDecided ?? running) - running),
    stopping: 0,
    concurrency,
  };
}
