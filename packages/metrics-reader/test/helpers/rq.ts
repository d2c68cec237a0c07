/**
 * RQ 2.x as documented (rq/queue.py, job.py, registry.py): a job is a hash `rq:job:{id}`
 * (timestamps as `%Y-%m-%dT%H:%M:%S.%fZ` strings), its id RPUSHed to `rq:queue:{name}` (listed
 * in `rq:queues`); a worker LPOPs it, adds `{id}:{execution}` to `rq:wip:{name}` (scored by
 * heartbeat expiry), and when done moves it to `rq:finished:{name}` scored `now + result_ttl`.
 * Every key is put under `prefix` so tests stay apart (RQ itself has none).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/** RQ's `utcformat`: microseconds and a literal Z. */
export function rqTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  const micros = String(Math.round((ms % 1) * 1000)).padStart(3, '0');
  return `${iso.slice(0, -1)}${micros}Z`;
}

export async function enqueueRq(
  redis: Redis,
  prefix: string,
  queue: string,
  nowMs = Date.now(),
): Promise<string> {
  const id = randomUUID();
  await redis
    .multi()
    .hset(`${prefix}rq:job:${id}`, {
      created_at: rqTime(nowMs),
      enqueued_at: rqTime(nowMs),
      status: 'queued',
      origin: queue,
      description: 'app.send(42)',
      timeout: 180,
      data: randomBytes(16),
    })
    .rpush(`${prefix}rq:queue:${queue}`, id)
    .sadd(`${prefix}rq:queues`, `${prefix}rq:queue:${queue}`)
    .exec();
  return id;
}

/** A job for later: in the ScheduledJobRegistry, scored in unix seconds. */
export async function scheduleRq(
  redis: Redis,
  prefix: string,
  queue: string,
  atMs: number,
): Promise<string> {
  const id = randomUUID();
  await redis
    .multi()
    .hset(`${prefix}rq:job:${id}`, {
      created_at: rqTime(Date.now()),
      status: 'scheduled',
      origin: queue,
    })
    .zadd(`${prefix}rq:scheduled:${queue}`, Math.floor(atMs / 1000), id)
    .exec();
  return id;
}

/** Pops one job and runs it for `workMs`, as a worker does; null when the queue is empty. */
export async function workRq(
  redis: Redis,
  prefix: string,
  queue: string,
  workMs: number,
  resultTtlSeconds = 500,
  onStart?: (id: string, startedAt: number) => void,
): Promise<{ id: string; waitMs: number } | null> {
  const id = await redis.lpop(`${prefix}rq:queue:${queue}`);
  if (!id) return null;
  const startedAt = Date.now();
  onStart?.(id, startedAt);
  const execution = randomBytes(4).toString('hex');
  const [enqueued] = await redis.hmget(`${prefix}rq:job:${id}`, 'enqueued_at');
  await redis
    .multi()
    .zadd(`${prefix}rq:wip:${queue}`, Math.floor(startedAt / 1000) + 60, `${id}:${execution}`)
    .hset(`${prefix}rq:job:${id}`, {
      status: 'started',
      started_at: rqTime(startedAt),
      worker_name: 'w1',
    })
    .exec();
  await new Promise((resolve) => setTimeout(resolve, workMs));
  const endedAt = Date.now();
  await redis
    .multi()
    .zrem(`${prefix}rq:wip:${queue}`, `${id}:${execution}`)
    .hset(`${prefix}rq:job:${id}`, { status: 'finished', ended_at: rqTime(endedAt) })
    .zadd(`${prefix}rq:finished:${queue}`, Math.floor(endedAt / 1000) + resultTtlSeconds, id)
    .exec();
  return { id, waitMs: startedAt - Date.parse(String(enqueued)) };
}
