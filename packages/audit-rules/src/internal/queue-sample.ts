import type { Redis } from 'ioredis';

/** One sampled job: its raw text (payload, data or exception), never written anywhere. */
export interface SampledItem {
  system: 'laravel' | 'horizon' | 'bullmq';
  key: string;
  /** Hash field or list position, for the report. */
  field: string;
  /** `ready`, `delayed`, `reserved`, `failed` (BullMQ/Horizon failure data), `job`. */
  state: string;
  value: string;
  sizeBytes: number;
  /** Job class (Laravel displayName) or BullMQ job name, when known. */
  name: string | null;
}

export interface QueueSample {
  items: SampledItem[];
  keysScanned: number;
  /** True when the key or item caps cut the sample short. */
  truncated: boolean;
  /** Reads refused by ACL (NOPERM), with the command. */
  refused: string[];
}

const BULL_META = /^(.*):meta$/;
const LARAVEL_LIST = /(^|[:_-])queues:[^:]+$/;
const LARAVEL_ZSET = /(^|[:_-])queues:.+:(delayed|reserved)$/;
const BULL_SUFFIXES = new Set([
  'meta',
  'id',
  'wait',
  'paused',
  'active',
  'delayed',
  'prioritized',
  'pc',
  'completed',
  'failed',
  'stalled',
  'stalled-check',
  'events',
  'marker',
  'limiter',
  'repeat',
  'waiting-children',
  'metrics',
]);

/**
 * Samples queue contents read-only: SCAN (never KEYS), TYPE, LRANGE, ZRANGE, HMGET, HSTRLEN.
 * At most `maxKeys` keys are looked at and `perKey` items read from each list or zset.
 */
export async function sampleQueues(
  redis: Redis,
  { maxKeys, perKey }: { maxKeys: number; perKey: number },
): Promise<QueueSample> {
  const keys: string[] = [];
  let cursor = '0';
  let truncated = false;
  do {
    let reply: [string, string[]];
    try {
      reply = await redis.scan(cursor, 'COUNT', 1000);
    } catch (error) {
      if (!/NOPERM/.test((error as Error).message)) throw error;
      return { items: [], keysScanned: 0, truncated: false, refused: ['SCAN'] };
    }
    const [next, batch] = reply;
    cursor = next;
    keys.push(...batch);
    if (keys.length >= maxKeys) {
      truncated = cursor !== '0' || keys.length > maxKeys;
      keys.length = Math.min(keys.length, maxKeys);
      break;
    }
  } while (cursor !== '0');

  const types = await pipelined(
    redis,
    keys.map((key) => ['type', key]),
  );
  const items: SampledItem[] = [];
  const refused: string[] = [];
  const typeOf = new Map(keys.map((key, i) => [key, String(types[i] ?? 'none')]));
  const bullBases = keys
    .map((key) => BULL_META.exec(key)?.[1])
    .filter((base): base is string => base !== undefined && typeOf.get(`${base}:meta`) === 'hash');

  const read = async <T>(what: string, fn: () => Promise<T>): Promise<T | null> => {
    try {
      return await fn();
    } catch (error) {
      if (/NOPERM/.test((error as Error).message)) {
        refused.push(what);
        return null;
      }
      throw error;
    }
  };

  for (const key of keys) {
    const type = typeOf.get(key);
    if (type === 'list' && LARAVEL_LIST.test(key)) {
      const values = (await read(`LRANGE ${key}`, () => redis.lrange(key, 0, perKey - 1))) ?? [];
      if ((await redis.llen(key).catch(() => 0)) > perKey) truncated = true;
      for (const [index, value] of values.entries()) {
        items.push(laravelItem('laravel', key, `[${index}]`, 'ready', value));
      }
    } else if (type === 'zset' && LARAVEL_ZSET.test(key)) {
      const values = (await read(`ZRANGE ${key}`, () => redis.zrange(key, 0, perKey - 1))) ?? [];
      const state = key.endsWith(':delayed') ? 'delayed' : 'reserved';
      for (const [index, value] of values.entries()) {
        items.push(laravelItem('laravel', key, `[${index}]`, state, value));
      }
    } else if (type === 'hash') {
      const base = bullBases.find((b) => key.startsWith(`${b}:`));
      const rest = base ? key.slice(base.length + 1) : '';
      if (base && rest && !rest.includes(':') && !BULL_SUFFIXES.has(rest)) {
        const fields = await read(`HMGET ${key}`, () =>
          redis.hmget(key, 'name', 'data', 'failedReason', 'stacktrace', 'returnvalue'),
        );
        if (!fields) continue;
        const [name, data, failedReason, stacktrace, returnvalue] = fields;
        if (data !== null && data !== undefined)
          items.push(bullItem(key, 'data', 'job', data, name ?? null));
        if (returnvalue) items.push(bullItem(key, 'returnvalue', 'job', returnvalue, name ?? null));
        if (failedReason)
          items.push(bullItem(key, 'failedReason', 'failed', failedReason, name ?? null));
        if (stacktrace && stacktrace !== '[]')
          items.push(bullItem(key, 'stacktrace', 'failed', stacktrace, name ?? null));
      } else if (!base) {
        const fields = await read(`HMGET ${key}`, () =>
          redis.hmget(key, 'payload', 'exception', 'status', 'name'),
        );
        if (!fields) continue;
        const [payload, exception, status, name] = fields;
        if (!payload) continue;
        items.push(laravelItem('horizon', key, 'payload', status ?? 'job', payload));
        if (exception)
          items.push({
            system: 'horizon',
            key,
            field: 'exception',
            state: 'failed',
            value: exception,
            sizeBytes: Buffer.byteLength(exception),
            name: name ?? null,
          });
      }
    }
  }
  return { items, keysScanned: keys.length, truncated, refused };
}

async function pipelined(redis: Redis, commands: string[][]): Promise<unknown[]> {
  const out: unknown[] = [];
  for (let i = 0; i < commands.length; i += 500) {
    const results = (await redis.pipeline(commands.slice(i, i + 500)).exec()) ?? [];
    for (const [error, value] of results) out.push(error ? null : value);
  }
  return out;
}

function laravelItem(
  system: 'laravel' | 'horizon',
  key: string,
  field: string,
  state: string,
  value: string,
): SampledItem {
  let name: string | null = null;
  try {
    const parsed = JSON.parse(value) as { displayName?: unknown; data?: { commandName?: unknown } };
    name =
      typeof parsed.displayName === 'string'
        ? parsed.displayName
        : typeof parsed.data?.commandName === 'string'
          ? parsed.data.commandName
          : null;
  } catch {
    name = null;
  }
  return { system, key, field, state, value, sizeBytes: Buffer.byteLength(value), name };
}

function bullItem(
  key: string,
  field: string,
  state: string,
  value: string,
  name: string | null,
): SampledItem {
  return { system: 'bullmq', key, field, state, value, sizeBytes: Buffer.byteLength(value), name };
}
