/**
 * Writes, reserves, releases, deletes and migrates jobs in Redis exactly as Laravel's
 * `Illuminate\Queue\RedisQueue` (11.x/12.x) and its `LuaScripts` do, so the metrics reader and
 * the daemon's end-to-end tests can be checked against real Laravel key layouts without PHP.
 *
 * Keys, under the connection prefix (`laravel_database_` by default):
 * `queues:{name}` list (RPUSH by producers, LPOP by workers), `queues:{name}:notify` list,
 * `queues:{name}:delayed` and `queues:{name}:reserved` sorted sets scored in unix seconds.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/** LuaScripts::push(): the job at the tail, and a notification for blocking pops. */
const PUSH = `
redis.call('rpush', KEYS[1], ARGV[1])
redis.call('rpush', KEYS[2], 1)
`;

/**
 * LuaScripts::pop(): the head job; its attempts incremented by cjson (which re-encodes the
 * payload, as Laravel's reserved copy is) into the reserved set, scored with the expiry.
 */
const POP = `
local job = redis.call('lpop', KEYS[1])
local reserved = false
if(job ~= false) then
    reserved = cjson.decode(job)
    reserved['attempts'] = reserved['attempts'] + 1
    reserved = cjson.encode(reserved)
    redis.call('zadd', KEYS[2], ARGV[1], reserved)
    redis.call('lpop', KEYS[3])
end
return {job, reserved}
`;

/** LuaScripts::release(): from the reserved set to the delayed set. */
const RELEASE = `
redis.call('zrem', KEYS[2], ARGV[1])
redis.call('zadd', KEYS[1], ARGV[2], ARGV[1])
return true
`;

/** LuaScripts::migrateExpiredJobs(): due members back to the list tail, in chunks of 100. */
const MIGRATE = `
local val = redis.call('zrangebyscore', KEYS[1], '-inf', ARGV[1])
if(next(val) ~= nil) then
    redis.call('zremrangebyrank', KEYS[1], 0, #val - 1)
    for i = 1, #val, 100 do
        redis.call('rpush', KEYS[2], unpack(val, i, math.min(i+99, #val)))
        for j = i, math.min(i+99, #val) do
            redis.call('rpush', KEYS[3], 1)
        end
    end
end
return val
`;

/**
 * The payload shape of a Laravel version:
 * - `11`: Laravel 10 to 12.10, no timestamp at all;
 * - `12`: Laravel 12.11+ and 13, `createdAt` (whole seconds) and `delay`;
 * - `horizon`: a Horizon producer on 12.11+: also `pushedAt` (string of float seconds),
 *   `type`, `tags`, `silenced`, and `id` equal to the uuid.
 */
export type LaravelPayloadVersion = '11' | '12' | 'horizon';

export interface LaravelQueueOptions {
  /** The Redis connection prefix. @defaultValue `laravel_database_` */
  prefix?: string;
  /** The queue name. */
  queue: string;
  /** `retry_after` of the connection, seconds. @defaultValue 90 */
  retryAfterSeconds?: number;
  version?: LaravelPayloadVersion;
  /** The clock, epoch ms (PHP's `time()` and `microtime()`). */
  now?: () => number;
}

/** A job a worker holds: the payload popped and its reserved (attempts + 1) copy. */
export interface ReservedJob {
  job: string;
  reserved: string;
  payload: Record<string, unknown>;
}

export class LaravelRedisQueue {
  readonly key: string;
  private readonly retryAfterSeconds: number;
  private readonly version: LaravelPayloadVersion;
  private readonly now: () => number;

  constructor(
    private readonly redis: Redis,
    options: LaravelQueueOptions,
  ) {
    this.key = `${options.prefix ?? 'laravel_database_'}queues:${options.queue}`;
    this.retryAfterSeconds = options.retryAfterSeconds ?? 90;
    this.version = options.version ?? '12';
    this.now = options.now ?? Date.now;
  }

  /** `Queue::createPayload()` for an object job, as the chosen version builds it. */
  createPayload(delaySeconds: number | null = null): Record<string, unknown> {
    const uuid = randomUUID();
    const payload: Record<string, unknown> = {
      uuid,
      displayName: 'App\\Jobs\\SendInvoice',
      job: 'Illuminate\\Queue\\CallQueuedHandler@call',
      maxTries: null,
      maxExceptions: null,
      failOnTimeout: false,
      backoff: null,
      timeout: null,
      retryUntil: null,
      data: {
        commandName: 'App\\Jobs\\SendInvoice',
        command: 'O:20:"App\\Jobs\\SendInvoice":1:{s:7:"invoice";i:42;}',
      },
    };
    if (this.version !== '11') {
      payload.createdAt = Math.floor(this.now() / 1000);
    }
    if (this.version === 'horizon') {
      payload.type = 'job';
      payload.tags = [];
      payload.silenced = false;
      payload.pushedAt = (this.now() / 1000).toFixed(4);
    }
    payload.id =
      this.version === 'horizon' ? uuid : randomBytes(24).toString('base64url').slice(0, 32);
    payload.attempts = 0;
    if (this.version !== '11') payload.delay = delaySeconds;
    return payload;
  }

  /** `RedisQueue::push()` then `pushRaw()`. Returns the payload pushed. */
  async push(): Promise<Record<string, unknown>> {
    const payload = this.createPayload();
    await this.pushRaw(JSON.stringify(payload));
    return payload;
  }

  async pushRaw(raw: string): Promise<void> {
    await this.redis.eval(PUSH, 2, this.key, `${this.key}:notify`, raw);
  }

  /** `RedisQueue::later()`: ZADD to the delayed set at `availableAt($delay)`. */
  async later(delaySeconds: number): Promise<Record<string, unknown>> {
    const payload = this.createPayload(delaySeconds);
    await this.redis.zadd(
      `${this.key}:delayed`,
      this.availableAt(delaySeconds),
      JSON.stringify(payload),
    );
    return payload;
  }

  /** `RedisQueue::pop()`: migrate due delayed and expired reserved jobs, then pop. */
  async pop(): Promise<ReservedJob | null> {
    await this.migrate();
    const result = (await this.redis.eval(
      POP,
      3,
      this.key,
      `${this.key}:reserved`,
      `${this.key}:notify`,
      this.availableAt(this.retryAfterSeconds),
    )) as [string | null, string | null];
    const [job, reserved] = result;
    if (!job || !reserved) return null;
    return { job, reserved, payload: JSON.parse(job) as Record<string, unknown> };
  }

  /** `RedisQueue::migrate()`. */
  async migrate(): Promise<void> {
    const time = this.currentTime();
    await this.redis.eval(MIGRATE, 3, `${this.key}:delayed`, this.key, `${this.key}:notify`, time);
    await this.redis.eval(MIGRATE, 3, `${this.key}:reserved`, this.key, `${this.key}:notify`, time);
  }

  /** `RedisQueue::deleteReserved()`: the job finished. */
  async delete(job: ReservedJob): Promise<void> {
    await this.redis.zrem(`${this.key}:reserved`, job.reserved);
  }

  /** `RedisQueue::deleteAndRelease()`: back to the delayed set for a retry. */
  async release(job: ReservedJob, delaySeconds: number): Promise<void> {
    await this.redis.eval(
      RELEASE,
      2,
      `${this.key}:delayed`,
      `${this.key}:reserved`,
      job.reserved,
      this.availableAt(delaySeconds),
    );
  }

  /** `InteractsWithTime::availableAt()`: whole unix seconds. */
  private availableAt(delaySeconds: number): number {
    return Math.floor(this.now() / 1000) + delaySeconds;
  }

  private currentTime(): number {
    return Math.floor(this.now() / 1000);
  }
}
