import { DEFAULTS } from '../defaults.js';
import type { QueueSource } from '../types.js';

/** Hash slots of a Redis Cluster. */
export const SLOTS = 16_384;

/**
 * Why a queue cannot be read from a Redis Cluster, or null when it can. A queue system works
 * on a cluster only when all of a queue's keys hash to one slot (its scripts and transactions
 * touch several keys at once), which takes a hash tag in the key names; the reader follows the
 * same keys. Sidekiq, RQ and Celery keep keys no tag can bring together (Sidekiq's global
 * `processes`, `schedule`, `retry` and `stat:*`; RQ's one key per job and registry; kombu's
 * bindings and priority lists), so they are not read from a cluster at all.
 */
export function clusterProblem(source: QueueSource): string | null {
  const { driver, backendName } = source;
  const prefix = source.prefix ?? DEFAULTS.prefixes[driver];
  switch (driver) {
    case 'laravel': {
      const key = `${prefix}queues:${backendName}`;
      if (hashTag(key) !== null) return null;
      return `Laravel's keys of queue "${backendName}" (${key}, ${key}:delayed, ${key}:reserved, ${key}:notify) do not share a hash slot on Redis Cluster: give the queue a hash tag, e.g. "{${backendName}}", as Laravel requires on a cluster`;
    }
    case 'bullmq': {
      const key = `${prefix}:${backendName}`;
      if (hashTag(key) !== null) return null;
      return `BullMQ's keys of queue "${backendName}" (${key}:wait, ${key}:active, ${key}:<job id>, ...) do not share a hash slot on Redis Cluster: use a prefix with a hash tag, e.g. "{${prefix}}", as BullMQ requires on a cluster`;
    }
    case 'sidekiq':
      return 'Sidekiq is not supported on Redis Cluster: its global keys (queues, processes, schedule, retry, stat:*) cannot share a hash slot with a queue';
    case 'rq':
      return 'RQ is not supported on Redis Cluster: its keys (one per job, registries per queue) cannot share a hash slot';
    case 'celery':
      return "Celery is not supported on Redis Cluster: kombu's Redis transport does not run on a cluster";
  }
}

/** The hash slot of a key: CRC16 (XMODEM) of its hash tag, or of the whole key, mod 16384. */
export function keySlot(key: string): number {
  const bytes = Buffer.from(key, 'utf8');
  let start = 0;
  let end = bytes.length;
  const open = bytes.indexOf(0x7b); // {
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1); // }
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  let crc = 0;
  for (let index = start; index < end; index++) {
    crc ^= (bytes[index] as number) << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc % SLOTS;
}

/** The hash tag of a key (what is between the first `{` and the next `}`), or null. */
export function hashTag(key: string): string | null {
  const open = key.indexOf('{');
  if (open === -1) return null;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : null;
}
