import type { QueueBackend } from '@qscale/contracts';

// Which keys can show a queue, by each system's layout (shared/reference/queue-layouts.md and
// the metrics-reader drivers). Pure: names in, candidates out; discover.ts confirms them in Redis.

/** A queue one key suggests, before Redis has confirmed it. */
export interface Candidate {
  driver: QueueBackend;
  /** The system's key prefix, as the metrics reader takes it. */
  prefix: string;
  /** The queue's name in the backend. */
  name: string;
  /** The key that suggests it. */
  key: string;
}

/** Keys that list queues rather than being one: read with SSCAN. */
export interface Registry {
  kind: 'sidekiq' | 'rq' | 'celery' | 'horizon';
  prefix: string;
  key: string;
}

export interface Classified {
  candidates: Candidate[];
  registries: Registry[];
}

// `<prefix>:<queue>:meta`. A queue name may hold `:` too, so the split is a guess: the last
// segment is taken as the name (prefixes with `:` are far more common than such names).
const BULLMQ_META = /^(.+):([^:]+):meta$/;
// `<prefix>queues:<name>` lists, with `:delayed`/`:reserved` sets that show idle queues.
// The `:notify` list only mirrors the main one.
const LARAVEL = /^(.*?)queues:(.+?)(:delayed|:reserved)?$/;
// Sidekiq's `queues` set, under a redis-namespace `<ns>:` when one is used (Sidekiq < 7).
const SIDEKIQ_REGISTRY = /^((?:.*:)?)queues$/;
const RQ_REGISTRY = /^(.*)rq:queues$/;
const CELERY_BINDING = /^(.*)_kombu\.binding\.(.+)$/;
// Horizon's metadata lives under its own prefix (`laravel_horizon:` by default).
const HORIZON_REGISTRY = /^(.*horizon:)measured_queues$/;
/** Celery's own exchanges (remote control, events, replies), not task queues. */
export const CELERY_INTERNAL = /(^|\.)pidbox$|^celeryev(\.|$)|\.reply\.celery\.pidbox$/;

/** Whether a key can show a queue or list some; the scan keeps only these. */
export function isInteresting(key: string): boolean {
  return (
    BULLMQ_META.test(key) ||
    LARAVEL.test(key) ||
    SIDEKIQ_REGISTRY.test(key) ||
    RQ_REGISTRY.test(key) ||
    CELERY_BINDING.test(key) ||
    HORIZON_REGISTRY.test(key)
  );
}

/** Sorts keys into queue candidates and registries to read. */
export function classifyKeys(keys: Iterable<string>): Classified {
  const candidates: Candidate[] = [];
  const registries: Registry[] = [];
  const laravel: string[] = [];
  for (const key of keys) {
    let match = HORIZON_REGISTRY.exec(key);
    if (match) {
      registries.push({ kind: 'horizon', prefix: match[1] ?? '', key });
      continue;
    }
    match = RQ_REGISTRY.exec(key);
    if (match) {
      registries.push({ kind: 'rq', prefix: match[1] ?? '', key });
      continue;
    }
    match = SIDEKIQ_REGISTRY.exec(key);
    if (match) {
      registries.push({ kind: 'sidekiq', prefix: match[1] ?? '', key });
      continue;
    }
    match = CELERY_BINDING.exec(key);
    if (match) {
      if (!CELERY_INTERNAL.test(match[2] ?? '')) {
        registries.push({ kind: 'celery', prefix: match[1] ?? '', key });
      }
      continue;
    }
    match = BULLMQ_META.exec(key);
    if (match) {
      candidates.push({ driver: 'bullmq', prefix: match[1] ?? '', name: match[2] ?? '', key });
      continue;
    }
    laravel.push(key);
  }
  // A BullMQ queue's own keys (say a queue called `queues`) are not Laravel's.
  const bullBases = candidates.map((candidate) => `${candidate.prefix}:${candidate.name}:`);
  const seen = new Set<string>();
  for (const key of laravel) {
    if (bullBases.some((base) => key.startsWith(base))) continue;
    const match = LARAVEL.exec(key);
    if (!match) continue;
    const prefix = match[1] ?? '';
    const name = match[2] ?? '';
    if (name.endsWith(':notify') || name === '') continue;
    const id = `${prefix}\0${name}`;
    if (seen.has(id)) continue;
    seen.add(id);
    candidates.push({ driver: 'laravel', prefix, name, key });
  }
  return { candidates, registries };
}

/** The 3rd field of a kombu binding (`routing_key \x06\x16 pattern \x06\x16 queue`). */
export function celeryQueueOfBinding(member: string): string | null {
  const queue = member.split('\x06\x16')[2];
  return queue && !CELERY_INTERNAL.test(queue) ? queue : null;
}

/** Whether a list element or set member is a Laravel job payload (JSON with job and uuid). */
export function isLaravelPayload(text: string | null): boolean {
  if (text === null || !text.startsWith('{')) return false;
  try {
    const payload = JSON.parse(text) as Record<string, unknown>;
    return (
      typeof payload === 'object' &&
      payload !== null &&
      ('job' in payload || 'displayName' in payload) &&
      ('uuid' in payload || 'attempts' in payload)
    );
  } catch {
    return false;
  }
}

/**
 * The Laravel database prefix that goes with a Horizon prefix: both come from the app's name
 * (`laravel_horizon:` and `laravel_database_`, or `laravel-database-` on Laravel 13).
 */
export function laravelPrefixForHorizon(
  horizonPrefix: string,
  laravelPrefixes: readonly string[],
): string {
  const app = horizonPrefix.slice(0, -'horizon:'.length);
  const hyphenApp = app.replace(/_$/, '-');
  return (
    laravelPrefixes.find((prefix) => prefix.startsWith(app) || prefix.startsWith(hyphenApp)) ??
    `${app}database_`
  );
}
