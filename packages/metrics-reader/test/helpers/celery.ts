/**
 * Celery's Redis broker as kombu writes it (kombu/transport/redis.py): a task message is a
 * JSON envelope LPUSHed to the queue's list (`{queue}\x06\x16{3|6|9}` for other priority
 * steps) and consumed with BRPOP from the tail; `_kombu.binding.{exchange}` sets name the
 * queues. The message carries no enqueue time.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

export const CELERY_SEPARATOR = '\x06\x16';

export function celeryMessage(queue: string, task = 'proj.tasks.send'): string {
  const id = randomUUID();
  return JSON.stringify({
    body: Buffer.from(JSON.stringify([[42], { to: 'a@b.c' }, {}])).toString('base64'),
    'content-encoding': 'utf-8',
    'content-type': 'application/json',
    headers: {
      lang: 'py',
      task,
      id,
      eta: null,
      expires: null,
      retries: 0,
      timelimit: [null, null],
      root_id: id,
      parent_id: null,
      argsrepr: '(42,)',
      kwargsrepr: "{'to': 'a@b.c'}",
      origin: 'gen1@host',
      ignore_result: false,
    },
    properties: {
      correlation_id: id,
      reply_to: randomUUID(),
      delivery_mode: 2,
      delivery_info: { exchange: '', routing_key: queue },
      priority: 0,
      body_encoding: 'base64',
      delivery_tag: randomUUID(),
    },
  });
}

/** `apply_async`: binds the queue (as kombu does on declare) and publishes one message. */
export async function publishCelery(
  redis: Redis,
  prefix: string,
  queue: string,
  priorityStep: 0 | 3 | 6 | 9 = 0,
): Promise<string> {
  const message = celeryMessage(queue);
  const list = `${prefix}${priorityStep === 0 ? queue : `${queue}${CELERY_SEPARATOR}${priorityStep}`}`;
  await redis
    .multi()
    .sadd(
      `${prefix}_kombu.binding.celery`,
      `${queue}${CELERY_SEPARATOR}${CELERY_SEPARATOR}${queue}`,
    )
    .lpush(list, message)
    .exec();
  return (JSON.parse(message) as { headers: { id: string } }).headers.id;
}

/** A worker's fetch (BRPOP, here non-blocking): the oldest message, or null. */
export async function consumeCelery(
  redis: Redis,
  prefix: string,
  queue: string,
): Promise<string | null> {
  const message = await redis.rpop(`${prefix}${queue}`);
  if (!message) return null;
  return (JSON.parse(message) as { headers: { id: string } }).headers.id;
}
