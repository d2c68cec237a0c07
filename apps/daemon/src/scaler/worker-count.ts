import { readFileSync } from 'node:fs';
import type { Logger, WorkerCounts } from '@qscale/contracts';
import { DEFAULTS as READER_DEFAULTS } from '@qscale/metrics-reader';
import { Redis, type RedisOptions } from 'ioredis';
import type { QueueConfig, RedisConnection } from '../config/schema.js';

// When the workers are pods (KEDA scales them), qscale spawns nothing and must learn how many
// run from the queue system itself. Where the backend keeps a registry of its workers, that is
// the count; where it keeps none (Laravel, Celery), the count is what qscale last decided,
// raised to the jobs the queue shows running.

/** Where a queue's worker count came from, as logs and /api/state say it. */
export type WorkerCountSource =
  /** BullMQ: the queue's workers in CLIENT LIST (what `Queue.getWorkers()` reads). */
  | 'bullmq-clients'
  /** Sidekiq: live processes in the `processes` set that serve the queue. */
  | 'sidekiq-processes'
  /** RQ: live workers in `rq:workers:<queue>`. */
  | 'rq-workers'
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
  /** One count per queue (by name), each Redis read once (one pipeline per Redis). */
  count(queues: readonly QueueConfig[]): Promise<Map<string, CountedWorkers>>;
  close(): Promise<void>;
}

const REGISTRY_SOURCE: Partial<Record<QueueConfig['driver'], WorkerCountSource>> = {
  bullmq: 'bullmq-clients',
  sidekiq: 'sidekiq-processes',
  rq: 'rq-workers',
};

/** A client per distinct Redis, created on first use and kept for the counter's life. */
export function createWorkerCounter(options: { logger: Logger }): WorkerCounter {
  const clients = new Map<string, Redis>();
  const warned = new Set<string>();

  const clientFor = (redis: RedisConnection): Redis => {
    const key = JSON.stringify(redis);
    let client = clients.get(key);
    if (!client) {
      client = new Redis(redis.url, redisOptions(redis));
      // Errors reach the caller through the commands; the event must not crash the process.
      client.on('error', () => {});
      clients.set(key, client);
    }
    return client;
  };

  const countOn = async (
    client: Redis,
    queues: readonly QueueConfig[],
  ): Promise<Map<string, number>> => {
    const counts = new Map<string, number>();
    const bull = queues.filter((queue) => queue.driver === 'bullmq');
    if (bull.length > 0) {
      const names = clientNames(String(await client.call('CLIENT', 'LIST')));
      for (const queue of bull) counts.set(queue.name, bullmqWorkers(names, queue));
    }
    for (const queue of queues) {
      if (queue.driver === 'sidekiq') counts.set(queue.name, await sidekiqProcesses(client, queue));
      if (queue.driver === 'rq') counts.set(queue.name, await rqWorkers(client, queue));
    }
    return counts;
  };

  return {
    async count(queues) {
      const result = new Map<string, CountedWorkers>();
      const byRedis = new Map<string, QueueConfig[]>();
      for (const queue of queues) {
        if (!REGISTRY_SOURCE[queue.driver]) {
          result.set(queue.name, { registered: null, source: 'decision' });
          continue;
        }
        const key = JSON.stringify(queue.redis);
        byRedis.set(key, [...(byRedis.get(key) ?? []), queue]);
      }
      await Promise.all(
        [...byRedis.values()].map(async (group) => {
          const first = group[0];
          if (!first) return;
          try {
            const counts = await countOn(clientFor(first.redis), group);
            for (const queue of group) {
              const registered = counts.get(queue.name) ?? null;
              const source = REGISTRY_SOURCE[queue.driver] ?? 'decision';
              result.set(queue.name, { registered, source });
              warned.delete(queue.name);
            }
          } catch (error) {
            const note = `the worker registry cannot be read: ${(error as Error).message}`;
            for (const queue of group) {
              result.set(queue.name, { registered: null, source: 'decision', note });
              if (!warned.has(queue.name)) {
                warned.add(queue.name);
                options.logger.warn('cannot count the workers; using the last decision', {
                  queue: queue.name,
                  reason: note,
                });
              }
            }
          }
        }),
      );
      return result;
    },
    async close() {
      await Promise.allSettled([...clients.values()].map((client) => client.quit()));
      clients.clear();
    },
  };
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

function redisOptions(redis: RedisConnection): RedisOptions {
  const tls =
    redis.tls || redis.url.startsWith('rediss://')
      ? {
          ...(redis.tls?.caFile ? { ca: readFileSync(redis.tls.caFile) } : {}),
          ...(redis.tls?.servername ? { servername: redis.tls.servername } : {}),
          rejectUnauthorized: redis.tls?.rejectUnauthorized ?? true,
        }
      : undefined;
  return {
    ...(redis.username ? { username: redis.username } : {}),
    ...(redis.password ? { password: redis.password } : {}),
    ...(redis.db !== null ? { db: redis.db } : {}),
    ...(tls ? { tls } : {}),
    lazyConnect: false,
    // A count that cannot be made fails fast; the tick falls back to the last decision.
    maxRetriesPerRequest: 1,
    commandTimeout: 2_000,
    connectTimeout: 2_000,
  };
}

/** The `name=` field of every client in CLIENT LIST's output. */
function clientNames(list: string): string[] {
  const names: string[] = [];
  for (const line of list.split('\n')) {
    const match = / name=(\S*)/.exec(` ${line}`);
    if (match?.[1]) names.push(match[1]);
  }
  return names;
}

/** BullMQ names a worker's connections `<prefix>:<base64 queue>` or `...:w:<worker name>`. */
function bullmqWorkers(names: readonly string[], queue: QueueConfig): number {
  const prefix = queue.prefix ?? READER_DEFAULTS.prefixes.bullmq;
  const base = `${prefix}:${Buffer.from(queue.backendName).toString('base64')}`;
  return names.filter((name) => name === base || name.startsWith(`${base}:w:`)).length;
}

/** Sidekiq processes whose heartbeat key still exists and whose queues include this one. */
async function sidekiqProcesses(client: Redis, queue: QueueConfig): Promise<number> {
  const prefix = queue.prefix ?? READER_DEFAULTS.prefixes.sidekiq;
  const identities = await client.smembers(`${prefix}processes`);
  if (identities.length === 0) return 0;
  const pipeline = client.pipeline();
  for (const identity of identities) pipeline.hget(`${prefix}${identity}`, 'info');
  const replies = (await pipeline.exec()) ?? [];
  let serving = 0;
  for (const [error, info] of replies) {
    if (error || typeof info !== 'string') continue; // expired: the process is gone
    if (sidekiqQueues(info).includes(queue.backendName)) serving++;
  }
  return serving;
}

function sidekiqQueues(info: string): string[] {
  try {
    const parsed = JSON.parse(info) as { queues?: unknown };
    // A weighted queue may appear as `name,weight`.
    return Array.isArray(parsed.queues)
      ? parsed.queues.map((entry) => String(entry).split(',')[0] ?? '')
      : [];
  } catch {
    return [];
  }
}

/**
 * RQ workers registered for the queue whose own hash still exists (it expires with the
 * worker's TTL) and records no `death` (a worker that stopped keeps its hash for a minute).
 */
async function rqWorkers(client: Redis, queue: QueueConfig): Promise<number> {
  const prefix = queue.prefix ?? READER_DEFAULTS.prefixes.rq;
  const members = await client.smembers(`${prefix}rq:workers:${queue.backendName}`);
  if (members.length === 0) return 0;
  const pipeline = client.pipeline();
  for (const member of members) pipeline.hmget(`${prefix}${member}`, 'birth', 'death');
  const replies = (await pipeline.exec()) ?? [];
  return replies.filter(([error, fields]) => {
    const [birth, death] = (fields ?? []) as (string | null)[];
    return !error && birth !== null && birth !== undefined && !death;
  }).length;
}
