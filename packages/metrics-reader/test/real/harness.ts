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
 * A plugin (`RealSystem`, one file per system, e.g. `rq.ts`) provides:
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
 * Set QSCALE_REAL_DEBUG=1 to print every tick's figures to stderr.
 * A null figure never passes: unknown (with the plugin's reason) or a problem. A snapshot error is
 * a problem. Rates, run time and pickups may be null before `settleMs` (too little seen yet).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { QueueSnapshot } from '@qscale/contracts';
import { connectRedis, deleteKeys } from '@qscale/testkit';
import {
  createMetricsReader,
  DEFAULTS,
  type MetricsReaderOptions,
  type QueueSource,
} from '../../src/index.js';

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

export type CountFigure = 'pending' | 'active' | 'delayed';
export type Figure =
  | CountFigure
  | 'arrivalRate'
  | 'completionRate'
  | 'serviceTimeMean'
  | 'pickupP50'
  | 'pickupP95';
const COUNTS: readonly Figure[] = ['pending', 'active', 'delayed'];
export const FIGURES: readonly Figure[] = [
  'pending',
  'active',
  'delayed',
  'arrivalRate',
  'completionRate',
  'serviceTimeMean',
  'pickupP50',
  'pickupP95',
];

export interface RealSystem {
  /** 'rq', 'bullmq-5', 'laravel-8', 'sidekiq-6', 'celery', ... */
  name: string;
  /** The client library's version as the system reports it (for the bench table). */
  version(ctx: RunContext): Promise<string>;
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
  /** Longest wait for the last jobs to finish after `durationMs` (default 60 s). */
  drainTimeoutMs?: number;
}

export interface TruthRecord {
  id: string;
  enqueuedAt: number;
  startedAt: number;
  finishedAt: number;
}

export interface FigureReport {
  figure: Figure;
  status: 'pass' | 'fail' | 'unknown';
  /** Ticks at which the figure was compared (non-null reads). */
  compared: number;
  /** Of those, ticks outside the criterion. */
  failed: number;
  /** At the last compared tick (or the last tick): what the reader said and the truth. */
  read: number | null;
  truth: number | null;
  /** Largest error over the compared ticks: relative for rates, ms for durations, jobs for counts. */
  worstError: number | null;
  /** Why the figure is unknown (status 'unknown'). */
  reason?: string;
  /** Counts: ticks at which the truth allowed more than one value during the read. */
  ambiguous?: number;
}

export interface TickCost {
  commands: number;
  receivedBytes: number;
  durationMs: number;
}

export interface AccuracyResult {
  system: string;
  version: string;
  jobs: number;
  ticks: number;
  figures: Record<Figure, FigureReport>;
  /** Mean cost of one snapshot over the run (`reader.stats().last`). */
  costPerTick: TickCost;
  problems: string[];
}

interface Tick {
  calledAt: number;
  returnedAt: number;
  snapshot: QueueSnapshot;
  cost: TickCost;
}

/** Offsets (ms) of a Poisson process of `rate`/s over `durationMs`, from a seeded generator. */
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
    const version = await system.version(ctx);
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
      options.drainTimeoutMs ?? 60_000,
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
  const deadline = Date.now() + timeoutMs;
  let length = await redis.llen(key);
  while (length < expected && Date.now() < deadline) {
    await sleep(200);
    length = await redis.llen(key);
  }
  return (await redis.lrange(key, 0, -1)).map((line, index) => {
    const record = JSON.parse(line) as Partial<TruthRecord>;
    for (const field of ['enqueuedAt', 'startedAt', 'finishedAt'] as const) {
      if (typeof record[field] !== 'number')
        throw new Error(`truth record ${index} in ${key} lacks a numeric ${field}: ${line}`);
    }
    return { ...record, id: String(record.id) } as TruthRecord;
  });
}

interface CompareSettings {
  tickMs: number;
  settleMs: number;
  rateWindowMs: number;
  windowMs: number;
}

class FigureTally {
  compared = 0;
  failed = 0;
  read: number | null = null;
  truth: number | null = null;
  worst: number | null = null;
  nulls = 0;
  ambiguous = 0;

  record(read: number, truth: number, error: number, ok: boolean): void {
    this.compared++;
    if (!ok) this.failed++;
    this.read = read;
    this.truth = truth;
    if (this.worst === null || Math.abs(error) > Math.abs(this.worst)) this.worst = error;
  }
}

function compare(
  system: RealSystem,
  ticks: Tick[],
  truth: TruthRecord[],
  produced: number,
  settings: CompareSettings,
): Omit<AccuracyResult, 'system' | 'version'> {
  const problems: string[] = [];
  if (truth.length !== produced)
    problems.push(`${truth.length} of ${produced} jobs recorded their truth before the deadline`);
  const slack = system.transitionSlackMs ?? 50;
  const tallies = Object.fromEntries(FIGURES.map((f) => [f, new FigureTally()])) as Record<
    Figure,
    FigureTally
  >;
  const firstReadAt = (ticks[0] as Tick).returnedAt;
  const miss = (figure: Figure, tick: number, text: string) =>
    problems.push(`${system.name} tick ${tick}: ${figure} ${text}`);

  ticks.forEach((tick, index) => {
    const { snapshot } = tick;
    if (snapshot.error)
      problems.push(
        `tick ${index}: snapshot error ${snapshot.error.code}: ${snapshot.error.message}`,
      );
    const settled = tick.returnedAt - firstReadAt >= settings.settleMs;
    if (process.env.QSCALE_REAL_DEBUG) {
      const { pending, active, delayed, arrivalRate, completionRate } = snapshot;
      process.stderr.write(
        `${system.name} tick ${index} +${tick.calledAt - firstReadAt} ms (${tick.returnedAt - tick.calledAt} ms): ${JSON.stringify({ pending, active, delayed, arrivalRate, completionRate, serviceTimeMs: snapshot.serviceTimeMs, pickupLatencyMs: snapshot.pickupLatencyMs })}\n`,
      );
    }
    const onNull = (figure: Figure, required: boolean) => {
      tallies[figure].nulls++;
      if (system.unknown?.[figure] === undefined && required)
        miss(figure, index, 'is null and the system declares no reason');
    };

    for (const figure of ['pending', 'active', 'delayed'] as const) {
      const value = snapshot[figure];
      if (value === null) {
        onNull(figure, true);
        continue;
      }
      const range = possibleCounts(figure, truth, tick.calledAt, tick.returnedAt, slack);
      const ok = range.some(([lo, hi]) => value >= lo && value <= hi);
      const values = new Set(range.flatMap(([lo, hi]) => [lo, hi]));
      if (values.size > 1) tallies[figure].ambiguous++;
      const nearest = range.reduce((best, [lo, hi]) => {
        const error = value < lo ? value - lo : value > hi ? value - hi : 0;
        return Math.abs(error) < Math.abs(best) ? error : best;
      }, Number.POSITIVE_INFINITY);
      tallies[figure].record(value, range[0]?.[1] ?? 0, nearest, ok);
      if (!ok)
        miss(
          figure,
          index,
          `read ${value}, truth during the read ${[...new Set(range.map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`)))].join(' or ')}`,
        );
    }

    // Rates: the reader's window ends at the read.
    const windowStart = system.ratesSeededFromHistory
      ? tick.returnedAt - settings.rateWindowMs
      : Math.max(firstReadAt, tick.returnedAt - settings.rateWindowMs);
    const spanMs = tick.returnedAt - windowStart;
    const rates: [Figure, number | null, (r: TruthRecord) => number][] = [
      ['arrivalRate', snapshot.arrivalRate, (r) => r.enqueuedAt],
      ['completionRate', snapshot.completionRate, (r) => r.finishedAt],
    ];
    for (const [figure, value, instant] of rates) {
      if (!settled) continue;
      if (value === null) {
        onNull(figure, true);
        continue;
      }
      const count = truth.filter(
        (r) => instant(r) > windowStart && instant(r) <= tick.returnedAt,
      ).length;
      const expected = (count * 1000) / spanMs;
      const error = expected === 0 ? (value === 0 ? 0 : 1) : (value - expected) / expected;
      tallies[figure].record(value, round(expected, 3), round(error, 4), Math.abs(error) <= 0.1);
      if (Math.abs(error) > 0.1)
        miss(figure, index, `${value}/s, truth ${expected.toFixed(3)}/s (${pct(error)})`);
    }

    if (!settled) return;
    const windowFrom = tick.returnedAt - settings.windowMs;
    const runTimes = truth
      .filter((r) => r.finishedAt > windowFrom && r.finishedAt <= tick.calledAt)
      .map((r) => r.finishedAt - r.startedAt);
    const waits = truth
      .filter((r) => r.startedAt > windowFrom && r.startedAt <= tick.calledAt)
      .map((r) => r.startedAt - r.enqueuedAt);
    const durations: [Figure, number | null | undefined, number, number, number][] = [
      ['serviceTimeMean', snapshot.serviceTimeMs?.mean, mean(runTimes), 0.15, 50],
      ['pickupP50', snapshot.pickupLatencyMs?.p50, percentile(waits, 0.5), 0.25, 250],
      ['pickupP95', snapshot.pickupLatencyMs?.p95, percentile(waits, 0.95), 0.25, 250],
    ];
    for (const [figure, value, expected, relative, absolute] of durations) {
      if (value === null || value === undefined) {
        onNull(figure, true);
        continue;
      }
      const error = value - expected;
      const ok = Math.abs(error) <= Math.max(relative * expected, absolute);
      tallies[figure].record(value, round(expected, 1), round(error, 1), ok);
      if (!ok)
        miss(
          figure,
          index,
          `${value} ms, truth ${expected.toFixed(1)} ms (${error.toFixed(1)} ms)`,
        );
    }
  });

  const figures = Object.fromEntries(
    FIGURES.map((figure) => {
      const tally = tallies[figure];
      const reason = system.unknown?.[figure];
      const report: FigureReport = {
        figure,
        status:
          tally.compared === 0 ? (reason ? 'unknown' : 'fail') : tally.failed > 0 ? 'fail' : 'pass',
        compared: tally.compared,
        failed: tally.failed,
        read: tally.read,
        truth: tally.truth,
        worstError: tally.worst,
        ...(reason && tally.compared === 0 ? { reason } : {}),
        ...(COUNTS.includes(figure) ? { ambiguous: tally.ambiguous } : {}),
      };
      if (tally.compared === 0 && !reason)
        problems.push(`${system.name}: ${figure} was never compared (null at every tick)`);
      return [figure, report];
    }),
  ) as Record<Figure, FigureReport>;

  const costPerTick = {
    commands: round(mean(ticks.map((t) => t.cost.commands)), 1),
    receivedBytes: Math.round(mean(ticks.map((t) => t.cost.receivedBytes))),
    durationMs: round(mean(ticks.map((t) => t.cost.durationMs)), 2),
  };
  return { jobs: truth.length, ticks: ticks.length, figures, costPerTick, problems };
}

/**
 * The counts the truth allows at some instant in [from, to], as [lo, hi] ranges (one per
 * instant where the count may change). A job's transition happened in Redis within `slack` of
 * the instant it recorded: its enqueue after `enqueuedAt`, its pop before `startedAt`, its
 * bookkeeping after `finishedAt`.
 */
function possibleCounts(
  figure: CountFigure,
  truth: TruthRecord[],
  from: number,
  to: number,
  slack: number,
): [number, number][] {
  if (figure === 'delayed') return [[0, 0]];
  // [sure from, sure to, maybe from, maybe to]: present surely / possibly in [from, to).
  const intervals: [number, number, number, number][] = truth.map((r) =>
    figure === 'pending'
      ? [r.enqueuedAt + slack, r.startedAt - slack, r.enqueuedAt, r.startedAt]
      : [r.startedAt, r.finishedAt, r.startedAt - slack, r.finishedAt + slack],
  );
  const instants = new Set<number>([from, to]);
  for (const edges of intervals)
    for (const edge of edges) if (edge > from && edge < to) instants.add(edge);
  return [...instants].map((t) => {
    let lo = 0;
    let hi = 0;
    for (const [sureFrom, sureTo, maybeFrom, maybeTo] of intervals) {
      if (t >= sureFrom && t < sureTo) lo++;
      if (t >= maybeFrom && t < maybeTo) hi++;
    }
    return [lo, hi];
  });
}

export function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
}

function mean(values: number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function pct(ratio: number): string {
  return `${ratio >= 0 ? '+' : ''}${(ratio * 100).toFixed(1)} %`;
}

export interface SpawnReadyOptions {
  /** A line on stdout or stderr that means the process is ready. */
  ready: RegExp;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Longest wait for the ready line (default 30 s). */
  timeoutMs?: number;
}

/**
 * Starts `command` with `args` (no shell) and resolves once it prints a line matching `ready`;
 * rejects with its output if it exits first or the wait times out. `stop()` sends SIGTERM (and
 * SIGKILL 10 s later) and waits for the exit. Its output is kept for error messages.
 */
export function spawnReady(
  command: string,
  args: string[],
  options: SpawnReadyOptions,
): Promise<Stoppable & { child: ChildProcess; output(): string }> {
  const child = spawn(command, args, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
  };
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      fail(`no line matching ${options.ready} within ${options.timeoutMs ?? 30_000} ms`);
    }, options.timeoutMs ?? 30_000);
    const fail = (why: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stop().finally(() =>
        reject(new Error(`${command} ${args.join(' ')}: ${why}; output:\n${output.slice(-4000)}`)),
      );
    };
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.length > 100_000) output = output.slice(-50_000);
      if (!done && output.split('\n').some((line) => options.ready.test(line))) {
        done = true;
        clearTimeout(timer);
        resolve({ child, stop, output: () => output });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', (error) => fail(error.message));
    child.once('exit', (code, signal) => fail(`exited (${signal ?? code}) before it was ready`));
  });
}
