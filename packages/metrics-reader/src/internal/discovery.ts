import type { QueueBackend } from '@qscale/contracts';
import type { RedisLink } from './connection.js';

const SCAN_COUNT = 1_000;
const SEPARATOR = '\x06\x16';
/** Celery's own exchanges (remote control, events, replies), not task queues. */
const CELERY_INTERNAL = /(^|\.)pidbox$|^celeryev(\.|$)|\.reply\.celery\.pidbox$/;

export interface DiscoveryScan {
  /** Every queue name found. */
  names: string[];
  /** SCAN/SSCAN calls made. */
  calls: number;
}

/**
 * Lists the queues a driver has in Redis, with SCAN/SSCAN only (never KEYS): Laravel and
 * BullMQ by key pattern, Sidekiq and RQ from their registry sets, Celery from kombu's
 * binding sets.
 */
export async function scanQueues(
  connection: RedisLink,
  driver: QueueBackend,
  prefix: string,
): Promise<DiscoveryScan> {
  const scan = new Scanner(connection);
  const names = new Set<string>();
  switch (driver) {
    case 'laravel': {
      const head = `${prefix}queues:`;
      for (const key of await scan.keys(`${escapeGlob(head)}*`)) {
        const name = key.slice(head.length).replace(/:(delayed|reserved|notify)$/, '');
        if (name.length > 0) names.add(name);
      }
      break;
    }
    case 'bullmq': {
      const head = `${prefix}:`;
      for (const key of await scan.keys(`${escapeGlob(head)}*:meta`)) {
        const name = key.slice(head.length, -':meta'.length);
        if (name.length > 0) names.add(name);
      }
      break;
    }
    case 'sidekiq':
      for (const name of await scan.members(`${prefix}queues`)) names.add(name);
      break;
    case 'rq': {
      const head = `${prefix}rq:queue:`;
      for (const key of await scan.members(`${prefix}rq:queues`)) {
        if (key.startsWith(head)) names.add(key.slice(head.length));
      }
      break;
    }
    case 'celery': {
      const head = `${prefix}_kombu.binding.`;
      for (const key of await scan.keys(`${escapeGlob(head)}*`)) {
        if (CELERY_INTERNAL.test(key.slice(head.length))) continue;
        for (const member of await scan.members(key)) {
          const queue = member.split(SEPARATOR)[2];
          if (queue && !CELERY_INTERNAL.test(queue)) names.add(queue);
        }
      }
      break;
    }
  }
  return { names: [...names].sort(), calls: scan.calls };
}

class Scanner {
  calls = 0;

  constructor(private readonly connection: RedisLink) {}

  /** Keys live on the master of their slot: a cluster is scanned master by master. */
  async keys(pattern: string): Promise<string[]> {
    const found: string[] = [];
    for (const link of await this.connection.scanTargets()) {
      found.push(
        ...(await this.iterate(link, (cursor) => [
          'scan',
          cursor,
          'MATCH',
          pattern,
          'COUNT',
          SCAN_COUNT,
        ])),
      );
    }
    return found;
  }

  async members(key: string): Promise<string[]> {
    return this.iterate(this.connection, (cursor) => ['sscan', key, cursor, 'COUNT', SCAN_COUNT]);
  }

  private async iterate(
    link: RedisLink,
    command: (cursor: string) => [string, ...(string | number)[]],
  ): Promise<string[]> {
    const found: string[] = [];
    let cursor = '0';
    do {
      this.calls++;
      const reply = (await link.call(command(cursor))) as [string, string[]];
      cursor = String(reply[0]);
      found.push(...reply[1].map(String));
    } while (cursor !== '0');
    return found;
  }
}

/** Escapes the glob characters of a literal prefix for SCAN MATCH. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (char) => `\\${char}`);
}
