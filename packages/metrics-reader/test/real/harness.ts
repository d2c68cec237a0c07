/**
 * Real-client accuracy harness (issue 12): one real worker of a queue system, jobs produced with
 * that system's own client library at Poisson arrivals, the metrics reader read every tick as
 * the daemon reads it, and every figure compared with what the jobs themselves recorded.
 *
 * API (stable since its first version; extend only compatibly):
 *
 *   import { runAccuracy, type RealSystem } from './harness.js';
 *   const result = await runAccuracy(system, { rate: 3, serviceMs: 200, durationMs: 45_000, seed: 1 });
 *   expect(result.problems).toEqual([]);
 *
 * A plugin (`RealSystem`, one file per system, e.g. `rq.ts`, its scripts under `<system>/`,
 * listed in `systems.ts` for the bench, its test in `<system>.test.ts`) provides:
 * - `name`, and `version(ctx)` (optional): the client's version as it reports it, for the bench.
 * - `source(ctx)`: the `QueueSource` the reader reads (`queue` is free, `backendName`/`prefix`
 *   as the system names the queue; use `ctx.prefix` so runs never share keys).
 * - `startWorker(ctx)`: ONE worker, concurrency 1, resolved when the worker itself reports it
 *   is ready (a log line, a key appearing): never after a fixed sleep. `spawnReady` helps.
 * - `produce(ctx, offsetsMs)`: enqueues one job per offset (ms after the call; a late producer
 *   enqueues at once), with the system's own client. Each job receives `enqueuedAt` (epoch ms,
 *   taken right before the enqueue call) and `ctx.truthKey`; it sleeps `ctx.serviceMs` and, as
 *   it finishes, RPUSHes `{"id","enqueuedAt","startedAt","finishedAt"}` (epoch ms, its own
 *   clock) to `ctx.truthKey`. Resolve when every job is enqueued or return a `Stoppable`
 *   (a producer process still running); the harness waits for the truth either way.
 * - `unknown`: figures the system cannot give from Redis, with the reason (the README's table).
 *   A figure the reader reports as null is "unknown" when a reason is declared here, and a
 *   problem otherwise.
 * - `cleanupPatterns(ctx)`: SCAN patterns of the keys the system leaves (default `${prefix}*`);
 *   the truth key is always deleted.
 * - `ratesSeededFromHistory`: the reader's rate window reaches back before its first read
 *   (BullMQ's event stream); the truth's window then does too (nothing arrived before the run).
 * - `transitionSlackMs`: how long a job's recorded instants may be from the moment Redis saw the
 *   transition (enqueue call, the worker's pop before the job function runs, its bookkeeping
 *   after it returns); default 50 ms. Only used to decide whether a count was exact.
 *
 * Criteria (`problems` lists every miss; empty means all met):
 * - pending / active / delayed, at every tick: exact, i.e. equal to the truth's count at some
 *   instant between the `snapshot()` call and its return (each job's transitions known to
 *   within `transitionSlackMs`). No job is ever delayed here, so delayed must be 0.
 * - arrival and completion rates within 10 % of the truth over the reader's own window (the
 *   last `rateWindowMs`, not before the first read unless `ratesSeededFromHistory`), at every
 *   tick once the reader has read for `settleMs`.
 * - mean run time within 15 % or 50 ms; pickup p50 and p95 within 25 % or 250 ms, over the jobs
 *   the truth has finished (run time) or started (pickup) inside the reader's `windowMs`, at
 *   every tick after `settleMs`.
 * Set QSCALE_REAL_DEBUG=1 to print every tick's figures to stderr. Also exported for plugins:
 * `spawnReady` (a process started without a shell, resolved on its ready line), `sleep`,
 * `poissonOffsets`, `percentile`.
 * A null figure never passes: unknown (with the plugin's reason) or a problem. A snapshot error is
 * a problem. Rates, run time and pickups may be null before `settleMs` (too little seen yet).
 */
import { randomUUID } from 'node:crypto';
import type { QueueSnapshot } from '@qscale/contracts';
import { connectRedis, deleteKeys, waitFor } from '@qscale/testkit';
import {
  createMetricsReader,
  DEFAULTS,
  type MetricsReaderOptions,
  type QueueSource,
} from '../../src/index.js';
import { type Comparison, compare, type Figure, type Tick, type TruthRecord } from './compare.js';

export {
  type CountFigure,
  FIGURES,
  type Figure,
  type FigureReport,
  percentile,
  type TickCost,
  type TruthRecord,
} from './compare.js';
export { type SpawnReadyOptions, spawnReady } from './spawn.js';

export interface RunContext {
  /** Unique per run (`[a-z0-9-]`, ends with `-`); put every key or queue name under it. */
  prefix: string;
  /** Redis list every job RPUSHes its truth record to. */
  truthKey: string;
  /** How long each job sleeps. */
  serviceMs: number;
  redisUrl: string;
  db?: number;
}

export interface Stoppable {
  /** Stops the process or client and waits until it is gone. */
  stop(): Promise<void>;
}

export interface RealSystem {
  /** 'rq', 'bullmq-5', 'laravel-8', 'sidekiq-6', 'celery', ... */
  name: string;
  /** The client library's version as the system reports it (for the bench table). */
  version?(ctx: RunContext): Promise<string>;
  source(ctx: RunContext): QueueSource;
  startWorker(ctx: RunContext): Promise<Stoppable>;
  // biome-ignore lint/suspicious/noConfusingVoidType: the contract's shape; a plugin may return nothing.
  produce(ctx: RunContext, offsetsMs: number[]): Promise<Stoppable | void>;
  unknown?: Partial<Record<Figure, string>>;
  cleanupPatterns?(ctx: RunContext): string[];
  transitionSlackMs?: number;
  /**
   * The reader's rate window reaches back before its first read (BullMQ seeds it from the event
   * stream: an empty stream proves nothing arrived). Otherwise the window starts at the first read.
   */
  ratesSeededFromHistory?: boolean;
}

export interface AccuracyOptions {
  /** Mean arrivals per second (Poisson). */
  rate: number;
  serviceMs: number;
  /** Arrivals are spread over this long; the reader is read until then, once more at the end. */
  durationMs: number;
  /** Daemon tick; default 2000. */
  tickMs?: number;
  /** Seed of the exponential gaps; same seed, same offsets. */
  seed: number;
  /** Rates, run time and pickups are compared once the reader has read for this long (30 s). */
  settleMs?: number;
  /** Passed to `createMetricsReader` over the daemon's defaults (none by default, as the daemon). */
  readerOptions?: Partial<Omit<MetricsReaderOptions, 'sources'>>;
  redisUrl?: string;
  /** Longest wait for the last jobs to finish after `durationMs` (default 120 s: a backlog). */
  drainTimeoutMs?: number;
}

export interface AccuracyResult extends Comparison {
  system: string;
  version: string;
}

export function poissonOffsets(rate: number, durationMs: number, seed: number): number[] {
  let state = seed >>> 0 || 1;
  const random = (): number => {
    // mulberry32: small, seeded, good enough for arrival gaps.
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const offsets: number[] = [];
  let at = 0;
  for (;;) {
    at += (-Math.log(1 - random()) / rate) * 1000;
    if (at >= durationMs) return offsets;
    offsets.push(Math.round(at));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function runAccuracy(
  system: RealSystem,
  options: AccuracyOptions,
): Promise<AccuracyResult> {
  const tickMs = options.tickMs ?? 2_000;
  const ctx: RunContext = {
    prefix: `qrt-${system.name.replace(/[^a-z0-9]/gi, '').toLowerCase()}-${randomUUID().slice(0, 8)}-`,
    truthKey: '',
    serviceMs: options.serviceMs,
    redisUrl: options.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  };
  ctx.truthKey = `${ctx.prefix}truth`;
  const redis = connectRedis(ctx.redisUrl);
  const stoppables: Stoppable[] = [];
  const reader = createMetricsReader({ ...options.readerOptions, sources: [system.source(ctx)] });
  try {
    const version = (await system.version?.(ctx)) ?? 'not reported';
    stoppables.push(await system.startWorker(ctx));
    const offsets = poissonOffsets(options.rate, options.durationMs, options.seed);
    const ticks: Tick[] = [];
    const read = async (): Promise<void> => {
      const calledAt = Date.now();
      const snapshots = await reader.snapshot();
      const returnedAt = Date.now();
      const last = reader.stats().last;
      ticks.push({
        calledAt,
        returnedAt,
        snapshot: snapshots[0] as QueueSnapshot,
        cost: {
          commands: last?.commands ?? 0,
          receivedBytes: last?.receivedBytes ?? 0,
          durationMs: last?.durationMs ?? returnedAt - calledAt,
        },
      });
    };
    // The daemon's loop: one snapshot per tick on a fixed schedule, a late tick not doubled.
    const start = Date.now();
    await read();
    // Settled here and rethrown after the ticks, so a failing producer is never unhandled.
    const producing = system.produce(ctx, offsets).then(
      (stoppable) => {
        if (stoppable) stoppables.push(stoppable);
        return null;
      },
      (error: unknown) => error,
    );
    let next = start;
    while (Date.now() - start < options.durationMs) {
      next += tickMs;
      await sleep(Math.max(0, next - Date.now()));
      await read();
    }
    const producerError = await producing;
    if (producerError !== null)
      throw new Error(`${system.name}: the producer failed: ${String(producerError)}`, {
        cause: producerError,
      });
    const truth = await waitForTruth(
      redis,
      ctx.truthKey,
      offsets.length,
      options.drainTimeoutMs ?? 120_000,
    );
    await read();
    const result = compare(system, ticks, truth, offsets.length, {
      tickMs,
      settleMs: options.settleMs ?? 30_000,
      rateWindowMs: options.readerOptions?.rateWindowMs ?? DEFAULTS.rateWindowMs,
      windowMs: options.readerOptions?.windowMs ?? DEFAULTS.windowMs,
    });
    return { system: system.name, version, ...result };
  } finally {
    for (const stoppable of stoppables.reverse()) await stoppable.stop().catch(() => undefined);
    await reader.close();
    for (const pattern of system.cleanupPatterns?.(ctx) ?? [`${ctx.prefix}*`])
      await deleteKeys(redis, pattern);
    await redis.unlink(ctx.truthKey);
    await redis.quit();
  }
}

async function waitForTruth(
  redis: ReturnType<typeof connectRedis>,
  key: string,
  expected: number,
  timeoutMs: number,
): Promise<TruthRecord[]> {
  // A drain that runs out of time is no error here: compare() reports how many jobs recorded
  // their truth. Anything else (Redis failing) is.
  await waitFor(async () => (await redis.llen(key)) >= expected, {
    timeoutMs,
    intervalMs: 200,
    what: `${expected} truth records in ${key}`,
  }).catch((error: Error) => {
    if (!error.message.startsWith('timed out')) throw error;
  });
  return (await redis.lrange(key, 0, -1)).map((line, index) => {
    const record = JSON.parse(line) as Partial<TruthRecord>;
    for (const field of ['enqueuedAt', 'startedAt', 'finishedAt'] as const) {
      if (typeof record[field] !== 'number')
        throw new Error(`truth record ${index} in ${key} lacks a numeric ${field}: ${line}`);
    }
    return { ...record, id: String(record.id) } as TruthRecord;
  });
}
