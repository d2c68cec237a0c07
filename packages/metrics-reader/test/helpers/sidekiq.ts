/**
 * Sidekiq 7/8 as documented (lib/sidekiq/client.rb, launcher.rb, processor.rb): clients LPUSH
 * job JSON to `queue:{name}` and SADD the name to `queues`; a process fetches from the tail,
 * keeps its in-flight jobs in memory and, at each heartbeat, rewrites `{identity}:work`
 * (tid -> {"queue","payload" (job JSON string),"run_at"}), refreshes its `{identity}` hash
 * (`beat` in float seconds, `busy`, ...) and flushes `stat:processed` / `stat:failed`.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

export type SidekiqVersion = 7 | 8;

/** `enqueued_at`/`created_at`: float seconds before 8.0, integer milliseconds since. */
function timestamp(version: SidekiqVersion, ms: number): number {
  return version === 7 ? ms / 1000 : Math.round(ms);
}

export function sidekiqJob(queue: string, version: SidekiqVersion, nowMs = Date.now()) {
  return {
    class: 'HardJob',
    args: [42, 'a@b.c'],
    retry: true,
    queue,
    jid: randomBytes(12).toString('hex'),
    created_at: timestamp(version, nowMs),
    enqueued_at: timestamp(version, nowMs),
  };
}

/** `Sidekiq::Client#push`: atomic_push of one job. */
export async function pushSidekiq(
  redis: Redis,
  prefix: string,
  queue: string,
  version: SidekiqVersion,
  nowMs = Date.now(),
): Promise<Record<string, unknown>> {
  const job = sidekiqJob(queue, version, nowMs);
  await redis
    .multi()
    .sadd(`${prefix}queues`, queue)
    .lpush(`${prefix}queue:${queue}`, JSON.stringify(job))
    .exec();
  return job;
}

/** A scheduled job (`perform_in`): in the global `schedule` set, scored in float seconds. */
export async function scheduleSidekiq(
  redis: Redis,
  prefix: string,
  queue: string,
  atMs: number,
  version: SidekiqVersion,
): Promise<void> {
  const { enqueued_at: _dropped, ...job } = sidekiqJob(queue, version);
  await redis.zadd(`${prefix}schedule`, atMs / 1000, JSON.stringify({ ...job, at: atMs / 1000 }));
}

interface Running {
  queue: string;
  jobstr: string;
  runAtSec: number;
}

export interface SidekiqProcessOptions {
  /** Namespace of every key (redis-namespace); empty for Sidekiq 7+. */
  prefix: string;
  queues: string[];
  concurrency: number;
  /** Heartbeat period (Sidekiq's BEAT_PAUSE is 10 s). */
  beatMs: number;
  version: SidekiqVersion;
  /** Runs one job; the wait it measured is reported through `onPickup`. */
  workMs: () => number;
  onPickup?: (waitMs: number, job: Record<string, unknown>) => void;
  onDone?: () => void;
}

/** One Sidekiq process: `concurrency` threads fetching in strict queue order. */
export class SidekiqProcess {
  readonly identity = `host:${process.pid}:${randomBytes(3).toString('hex')}`;
  private readonly running = new Map<string, Running>();
  private processed = 0;
  private stopped = false;
  private readonly loops: Promise<void>[] = [];
  private beatTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly options: SidekiqProcessOptions,
  ) {}

  async start(): Promise<void> {
    await this.heartbeat();
    this.beatTimer = setInterval(() => {
      this.heartbeat().catch(() => undefined);
    }, this.options.beatMs);
    for (let thread = 0; thread < this.options.concurrency; thread++) {
      this.loops.push(this.thread(`tid-${thread}`));
    }
  }

  private async thread(tid: string): Promise<void> {
    while (!this.stopped) {
      let jobstr: string | null = null;
      let queue = '';
      for (const name of this.options.queues) {
        jobstr = await this.redis.rpop(`${this.options.prefix}queue:${name}`);
        if (jobstr) {
          queue = name;
          break;
        }
      }
      if (!jobstr) {
        await sleep(20);
        continue;
      }
      const now = Date.now();
      const job = JSON.parse(jobstr) as Record<string, unknown>;
      const enqueued = Number(job.enqueued_at);
      this.options.onPickup?.(now - (this.options.version === 7 ? enqueued * 1000 : enqueued), job);
      this.running.set(tid, { queue, jobstr, runAtSec: Math.floor(now / 1000) });
      await sleep(this.options.workMs());
      this.running.delete(tid);
      this.processed++;
      this.options.onDone?.();
    }
  }

  /** launcher.rb `❤`: the work hash, then the process hash, then the counters. */
  async heartbeat(): Promise<void> {
    const ns = this.options.prefix;
    const workKey = `${ns}${this.identity}:work`;
    const pipeline = this.redis.pipeline().unlink(workKey);
    for (const [tid, work] of this.running) {
      pipeline.hset(
        workKey,
        tid,
        JSON.stringify({ queue: work.queue, payload: work.jobstr, run_at: work.runAtSec }),
      );
    }
    pipeline.expire(workKey, 60);
    const processed = this.processed;
    this.processed = 0;
    pipeline
      .incrby(`${ns}stat:processed`, processed)
      .incrby(`${ns}stat:failed`, 0)
      .sadd(`${ns}processes`, this.identity)
      .hset(`${ns}${this.identity}`, {
        info: JSON.stringify({ hostname: 'host', pid: process.pid, queues: this.options.queues }),
        busy: this.running.size,
        beat: Date.now() / 1000,
        quiet: 'false',
        concurrency: this.options.concurrency,
      })
      .expire(`${ns}${this.identity}`, 60);
    await pipeline.exec();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.beatTimer) clearInterval(this.beatTimer);
    await Promise.all(this.loops);
    await this.heartbeat();
    const ns = this.options.prefix;
    await this.redis
      .multi()
      .srem(`${ns}processes`, this.identity)
      .unlink(`${ns}${this.identity}:work`)
      .exec();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
