import type { QueueBackend } from '@qscale/contracts';
import type { Redis } from 'ioredis';
import {
  type Candidate,
  celeryQueueOfBinding,
  classifyKeys,
  isInteresting,
  isLaravelPayload,
  laravelPrefixForHorizon,
  type Registry,
} from './classify.js';

/** Bounds of a discovery; every one keeps a huge or busy Redis from being walked for long. */
export const DISCOVER_DEFAULTS = {
  /** Keys SCAN asks for per call. @defaultValue 1000 */
  scanCount: 1_000,
  /** Most keys examined (SCAN calls × scanCount); past it the result says it is partial. @defaultValue 1000000 */
  maxKeys: 1_000_000,
  /** Longest time the scan may take, ms. @defaultValue 10000 */
  timeLimitMs: 10_000,
  /** Most members read from one registry set (Sidekiq's `queues`, RQ's `rq:queues`, ...). @defaultValue 10000 */
  maxRegistryMembers: 10_000,
} as const;

export interface DiscoverOptions {
  /** Only keys starting with this are looked at (SCAN MATCH); '' looks at the whole db. */
  scope?: string;
  maxKeys?: number;
  timeLimitMs?: number;
  scanCount?: number;
}

/** A queue found in Redis. */
export interface FoundQueue {
  driver: QueueBackend;
  /** The system's key prefix, exactly as the configuration's `prefix` takes it. */
  prefix: string;
  /** The queue's name in the backend. */
  name: string;
  /** The key that showed it (for the written comment). */
  evidence: string;
  /** Horizon's prefix when Horizon keeps metadata for this Laravel app; null otherwise. */
  horizonPrefix: string | null;
}

export interface DiscoveryResult {
  /** Sorted by driver, prefix, then name. */
  queues: FoundQueue[];
  /** Keys SCAN returned (within the scope). */
  keysSeen: number;
  /** Why the scan stopped early, or null when it went through the whole keyspace. */
  stoppedBy: 'maxKeys' | 'timeLimit' | null;
}

/**
 * Finds every Laravel (with or without Horizon), BullMQ, Sidekiq, RQ and Celery queue in the
 * Redis db `redis` is connected to, with SCAN and SSCAN only (never KEYS), bounded in keys
 * examined and in time. Custom prefixes are found from the layout itself (`<p>:<q>:meta`,
 * `<p>queues:<q>`, `<ns>:queues`, `<p>rq:queues`, `<p>_kombu.binding.*`, `<p>horizon:*`), and
 * each candidate is confirmed by the type and content of its keys before it is reported.
 */
export async function discoverQueues(
  redis: Redis,
  options: DiscoverOptions = {},
): Promise<DiscoveryResult> {
  const scope = options.scope ?? '';
  const scanCount = options.scanCount ?? DISCOVER_DEFAULTS.scanCount;
  const maxCalls = Math.max(
    1,
    Math.ceil((options.maxKeys ?? DISCOVER_DEFAULTS.maxKeys) / scanCount),
  );
  const deadline = Date.now() + (options.timeLimitMs ?? DISCOVER_DEFAULTS.timeLimitMs);

  const interesting = new Set<string>();
  let keysSeen = 0;
  let calls = 0;
  let cursor = '0';
  let stoppedBy: DiscoveryResult['stoppedBy'] = null;
  const match = scope === '' ? [] : ['MATCH', `${escapeGlob(scope)}*`];
  do {
    if (calls >= maxCalls) {
      stoppedBy = 'maxKeys';
      break;
    }
    if (Date.now() > deadline) {
      stoppedBy = 'timeLimit';
      break;
    }
    calls++;
    const [next, keys] = (await redis.call('SCAN', cursor, ...match, 'COUNT', scanCount)) as [
      string,
      string[],
    ];
    cursor = next;
    keysSeen += keys.length;
    for (const key of keys) if (isInteresting(key)) interesting.add(key);
  } while (cursor !== '0');

  const { candidates, registries } = classifyKeys(interesting);
  const found = [
    ...(await confirmCandidates(redis, candidates)),
    ...(await readRegistries(redis, registries)),
  ];
  attachHorizon(found, registries, await horizonQueues(redis, registries));
  return { queues: dedupe(found), keysSeen, stoppedBy };
}

/** Checks BullMQ and Laravel candidates by their keys' type and content, in one pipeline. */
async function confirmCandidates(redis: Redis, candidates: Candidate[]): Promise<FoundQueue[]> {
  if (candidates.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const candidate of candidates) {
    pipeline.type(candidate.key);
    if (candidate.driver === 'bullmq') {
      pipeline.hmget(candidate.key, 'opts.maxLenEvents', 'version');
    } else {
      // A list's head, or the first member of a delayed/reserved set: one job either way.
      pipeline.lindex(candidate.key, 0).zrange(candidate.key, 0, 0);
    }
  }
  const replies = ((await pipeline.exec()) ?? []).map(([error, value]) => (error ? null : value));
  const found: FoundQueue[] = [];
  let at = 0;
  for (const candidate of candidates) {
    const type = replies[at++];
    let confirmed = false;
    if (candidate.driver === 'bullmq') {
      const [maxLen, version] = (replies[at++] as (string | null)[] | null) ?? [];
      confirmed =
        type === 'hash' && (maxLen != null || (version ?? '').toLowerCase().startsWith('bullmq'));
    } else {
      const head = replies[at++] as string | null;
      const first = (replies[at++] as string[] | null)?.[0] ?? null;
      confirmed =
        (type === 'list' && isLaravelPayload(head)) || (type === 'zset' && isLaravelPayload(first));
    }
    if (confirmed) {
      const { driver, prefix, name, key } = candidate;
      found.push({ driver, prefix, name, evidence: key, horizonPrefix: null });
    }
  }
  return found;
}

/** Sidekiq's `queues`, RQ's `rq:queues` and kombu's binding sets list the queues themselves. */
async function readRegistries(redis: Redis, registries: Registry[]): Promise<FoundQueue[]> {
  const found: FoundQueue[] = [];
  for (const registry of registries) {
    if (registry.kind === 'horizon') continue;
    if ((await redis.type(registry.key)) !== 'set') continue;
    const { prefix, key } = registry;
    for (const member of await members(redis, key)) {
      let name: string | null = null;
      if (registry.kind === 'sidekiq') name = member;
      else if (registry.kind === 'rq') {
        const head = `${prefix}rq:queue:`;
        name = member.startsWith(head) ? member.slice(head.length) : null;
      } else name = celeryQueueOfBinding(member);
      if (name) {
        found.push({ driver: registry.kind, prefix, name, evidence: key, horizonPrefix: null });
      }
    }
  }
  return found;
}

/** The queues Horizon measures (`<p>horizon:measured_queues`, members `queue:<name>`). */
async function horizonQueues(redis: Redis, registries: Registry[]): Promise<Map<string, string[]>> {
  const queues = new Map<string, string[]>();
  for (const registry of registries) {
    if (registry.kind !== 'horizon') continue;
    const names = (await members(redis, registry.key))
      .filter((member) => member.startsWith('queue:'))
      .map((member) => member.slice('queue:'.length));
    queues.set(registry.prefix, names);
  }
  return queues;
}

/**
 * Marks the Laravel queues of an app that runs Horizon, and adds the queues Horizon measures
 * that are idle now (an empty Laravel queue has no key of its own).
 */
function attachHorizon(
  found: FoundQueue[],
  registries: Registry[],
  measured: Map<string, string[]>,
): void {
  for (const registry of registries) {
    if (registry.kind !== 'horizon') continue;
    const laravelPrefixes = [
      ...new Set(found.filter((q) => q.driver === 'laravel').map((q) => q.prefix)),
    ];
    const prefix = laravelPrefixForHorizon(registry.prefix, laravelPrefixes);
    for (const queue of found) {
      if (queue.driver === 'laravel' && queue.prefix === prefix) {
        queue.horizonPrefix = registry.prefix;
      }
    }
    for (const name of measured.get(registry.prefix) ?? []) {
      if (found.some((q) => q.driver === 'laravel' && q.prefix === prefix && q.name === name)) {
        continue;
      }
      found.push({
        driver: 'laravel',
        prefix,
        name,
        evidence: registry.key,
        horizonPrefix: registry.prefix,
      });
    }
  }
}

/** A set's members with SSCAN, at most `maxRegistryMembers`. */
async function members(redis: Redis, key: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = (await redis.call('SSCAN', key, cursor, 'COUNT', 1_000)) as [
      string,
      string[],
    ];
    cursor = next;
    found.push(...batch);
  } while (cursor !== '0' && found.length < DISCOVER_DEFAULTS.maxRegistryMembers);
  return found.slice(0, DISCOVER_DEFAULTS.maxRegistryMembers);
}

function dedupe(queues: FoundQueue[]): FoundQueue[] {
  const byId = new Map<string, FoundQueue>();
  for (const queue of queues) {
    const id = [queue.driver, queue.prefix, queue.name].join('\0');
    if (!byId.has(id)) byId.set(id, queue);
  }
  return [...byId.values()].sort(
    (a, b) =>
      a.driver.localeCompare(b.driver) ||
      a.prefix.localeCompare(b.prefix) ||
      a.name.localeCompare(b.name),
  );
}

/** Escapes the glob characters of a literal prefix for SCAN MATCH. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (char) => `\\${char}`);
}
