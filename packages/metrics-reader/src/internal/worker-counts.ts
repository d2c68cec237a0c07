import type { WorkerCount, WorkerRegistry } from '../types.js';
import { Batch } from './batch.js';
import type { Command, RedisLink, Reply } from './connection.js';
import type { ResolvedSource } from './options.js';

// When the workers run elsewhere (pods that KEDA scales), how many run is read from the queue
// system's own registry, over the reader's connection: the one that already follows Sentinel,
// Unix sockets, client certificates and Cluster. Laravel and Celery keep no registry in Redis.

const REGISTRY: Partial<Record<ResolvedSource['driver'], WorkerRegistry>> = {
  bullmq: 'bullmq-clients',
  sidekiq: 'sidekiq-processes',
  rq: 'rq-workers',
};

const NO_REGISTRY: Partial<Record<ResolvedSource['driver'], string>> = {
  laravel: 'Laravel keeps no registry of its workers in Redis',
  celery: 'Celery workers register nowhere in Redis (they answer broadcast pings only)',
};

/**
 * The workers of `sources` (all on `connection`): two round trips at most, the first reading
 * the registries (CLIENT LIST, the process and worker sets), the second each member's hash.
 * A Redis that cannot be read gives every queue of it a null count with the reason.
 */
export async function countWorkers(
  connection: RedisLink,
  sources: readonly ResolvedSource[],
): Promise<WorkerCount[]> {
  const counted = sources.filter((source) => REGISTRY[source.driver]);
  const counts = new Map<ResolvedSource, number>();
  /** Each source's live registry members (Sidekiq process identities, RQ worker keys). */
  const ids = new Map<ResolvedSource, string[]>();
  try {
    if (counted.some((source) => source.driver === 'bullmq')) {
      const names = await clientNames(connection);
      for (const source of counted) {
        if (source.driver === 'bullmq') counts.set(source, bullmqWorkers(names, source));
      }
    }
    const members = new Map<ResolvedSource, string[]>();
    const first = new Batch();
    for (const source of counted) {
      const key = registryKey(source);
      if (key) first.add(['smembers', key], (reply) => members.set(source, strings(reply)));
    }
    await run(connection, first);
    const second = new Batch();
    for (const [source, list] of members) {
      const alive: string[] = [];
      counts.set(source, 0);
      ids.set(source, alive);
      for (const member of list) {
        second.add(memberRead(source, member), (reply) => {
          if (!isLive(source, reply)) return;
          alive.push(member);
          counts.set(source, alive.length);
        });
      }
    }
    await run(connection, second);
  } catch (error) {
    const reason = `the worker registry cannot be read: ${connection.describe(error as Error).message}`;
    return sources.map((source) => ({
      queue: source.queue,
      workers: null,
      registry: REGISTRY[source.driver] ?? null,
      reason: NO_REGISTRY[source.driver] ?? reason,
    }));
  }
  return sources.map((source) => {
    const registry = REGISTRY[source.driver];
    if (!registry) {
      return {
        queue: source.queue,
        workers: null,
        registry: null,
        reason: NO_REGISTRY[source.driver] ?? 'no registry',
      };
    }
    const live = ids.get(source);
    return {
      queue: source.queue,
      workers: counts.get(source) ?? 0,
      registry,
      ...(live ? { workerIds: live } : {}),
    };
  });
}

async function run(connection: RedisLink, batch: Batch): Promise<void> {
  if (batch.size === 0) return;
  const replies = await connection.exec(batch.commands);
  // A reply that is an error (a wrong type, a denied command) fails the count: a partial
  // registry would undercount.
  const failed = replies.find((reply): reply is Error => reply instanceof Error);
  if (failed) throw failed;
  batch.dispatch(replies);
}

/** Every client name of CLIENT LIST; on a Cluster, of every master (BullMQ names each link). */
async function clientNames(connection: RedisLink): Promise<string[]> {
  const names: string[] = [];
  for (const link of await connection.scanTargets()) {
    const list = String(await link.call(['client', 'list']));
    for (const line of list.split('\n')) {
      const match = / name=(\S*)/.exec(` ${line}`);
      if (match?.[1]) names.push(match[1]);
    }
  }
  return names;
}

/** BullMQ names a worker's connections `<prefix>:<base64 queue>` or `...:w:<worker name>`. */
function bullmqWorkers(names: readonly string[], source: ResolvedSource): number {
  const base = `${source.prefix}:${Buffer.from(source.backendName).toString('base64')}`;
  return names.filter((name) => name === base || name.startsWith(`${base}:w:`)).length;
}

function registryKey(source: ResolvedSource): string | null {
  if (source.driver === 'sidekiq') return `${source.prefix}processes`;
  if (source.driver === 'rq') return `${source.prefix}rq:workers:${source.backendName}`;
  return null;
}

function memberRead(source: ResolvedSource, member: string): Command {
  return source.driver === 'sidekiq'
    ? ['hget', `${source.prefix}${member}`, 'info']
    : ['hmget', `${source.prefix}${member}`, 'birth', 'death'];
}

/**
 * Sidekiq: the process's hash still exists (it expires a minute after the last heartbeat) and
 * its queues include this one. RQ: the worker's hash exists (it expires with the worker's TTL)
 * and records no `death` (a stopped worker keeps its hash for a minute).
 */
function isLive(source: ResolvedSource, reply: Reply): boolean {
  if (source.driver === 'sidekiq') {
    return typeof reply === 'string' && sidekiqQueues(reply).includes(source.backendName);
  }
  const [birth, death] = Array.isArray(reply) ? reply : [];
  return birth !== null && birth !== undefined && !death;
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

function strings(reply: Reply): string[] {
  return Array.isArray(reply) ? reply.map(String) : [];
}
