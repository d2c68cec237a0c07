/**
 * A Sidekiq worker group against the accuracy criteria (harness.ts): real Sidekiq 6.4
 * processes serving two weighted queues (`-q high,3 -q default,1`, one thread each), started
 * and stopped during the run as an autoscaler would, Poisson arrivals on both queues pushed by
 * Sidekiq::Client, one reader reading both queues every tick. Every job records its own truth
 * (sidekiq/truth_job.rb), per queue. Each queue is compared with the single-queue criteria
 * (compare.ts), and the two queues together: their completion rates summed against all jobs
 * finished (the global `stat:processed` over the beats, free of how it is shared out) and the
 * high queue's share of the completions against the truth's.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { QueueSnapshot } from '@qscale/contracts';
import { connectRedis, deleteKeys, waitFor } from '@qscale/testkit';
import { createMetricsReader, DEFAULTS } from '../../src/index.js';
import { type Comparison, compare, type Tick, type TruthRecord } from './compare.js';
import { poissonOffsets, type RunContext, type Stoppable, sleep, spawnReady } from './harness.js';
import { produceSidekiq, SIDEKIQ_SCRIPTS, sidekiq6, sidekiqEnvironment } from './sidekiq.js';

export const QUEUES = ['high', 'default'] as const;
/** Sidekiq 6 writes each process's jobs in flight every 5 s. */
const HEARTBEAT_MS = 5_000;
type Queue = (typeof QUEUES)[number];

export interface GroupOptions {
  /** Mean arrivals per second of each queue (Poisson). */
  rates: Record<Queue, number>;
  serviceMs: number;
  durationMs: number;
  seed: number;
  /** Processes running when the load starts. */
  initialProcesses: number;
  /** Process starts (+1) and stops (-1), at ms after the load starts. */
  changes: { atMs: number; change: 1 | -1 }[];
  tickMs?: number;
  settleMs?: number;
}

export interface GroupResult {
  queues: Record<Queue, Comparison>;
  /** Per settled tick: the two completion rates summed, against all jobs finished in the window. */
  total: { worstError: number; failed: number; compared: number };
  /**
   * Per settled tick: high / (high + default) completions, read and true, and the worst error
   * in standard errors of a share drawn from the heartbeats that found a job in flight (each
   * thread is seen once a heartbeat, 5 s: busy thread-time / 5 s of them in the window).
   */
  share: {
    worstError: number;
    worstSigmas: number;
    compared: number;
    read: number[];
    truth: number[];
    busyBeats: number[];
  };
  /** Per settled tick and queue: run time read against the truth's mean, in the same way. */
  runTime: { worstError: number; worstSigmas: number; compared: number };
  /** Process starts and stops that happened. */
  processChanges: number;
}

/** The real-system description compare() needs, per queue. */
const groupSystem = (queue: Queue) => ({
  name: `sidekiq-group-${queue}`,
  unknown: {
    ...sidekiq6.unknown,
    active:
      'null: the threads serve both queues, so a waiting job does not mean every thread runs this queue',
  },
});

export async function runGroupAccuracy(options: GroupOptions): Promise<GroupResult> {
  const tickMs = options.tickMs ?? 2_000;
  const settleMs = options.settleMs ?? 30_000;
  const ctx: RunContext = {
    prefix: `qrt-skgroup-${randomUUID().slice(0, 8)}-`,
    truthKey: '',
    serviceMs: options.serviceMs,
    redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  };
  const truthKeys = { high: `${ctx.prefix}truth:high`, default: `${ctx.prefix}truth:default` };
  const namespace = `${ctx.prefix}sk`;
  const redis = connectRedis(ctx.redisUrl);
  const reader = createMetricsReader({
    sources: QUEUES.map((queue) => ({
      queue,
      driver: 'sidekiq' as const,
      backendName: queue,
      prefix: `${namespace}:`,
      redis: { url: ctx.redisUrl },
    })),
  });
  const running: Stoppable[] = [];
  const stopped: Promise<void>[] = [];
  const startProcess = async () => {
    running.push(
      await spawnReady(
        'sidekiq',
        [
          '-r',
          join(SIDEKIQ_SCRIPTS, 'truth_job.rb'),
          '-c',
          '1',
          '-q',
          'high,3',
          '-q',
          'default,1',
          '-t',
          '5',
        ],
        {
          ready: /^ready 6\./,
          env: sidekiqEnvironment(ctx),
          cwd: SIDEKIQ_SCRIPTS,
          timeoutMs: 60_000,
        },
      ),
    );
  };
  try {
    await Promise.all(Array.from({ length: options.initialProcesses }, startProcess));
    const offsets = {
      high: poissonOffsets(options.rates.high, options.durationMs, options.seed),
      default: poissonOffsets(options.rates.default, options.durationMs, options.seed + 1),
    };
    const ticks: { high: Tick[]; default: Tick[] } = { high: [], default: [] };
    const read = async (): Promise<void> => {
      const calledAt = Date.now();
      const snapshots = await reader.snapshot();
      const returnedAt = Date.now();
      const cost = { commands: 0, receivedBytes: 0, durationMs: returnedAt - calledAt };
      QUEUES.forEach((queue, index) => {
        ticks[queue].push({
          calledAt,
          returnedAt,
          snapshot: snapshots[index] as QueueSnapshot,
          cost,
        });
      });
    };
    const start = Date.now();
    await read();
    const producing = QUEUES.map((queue) =>
      produceSidekiq({ ...ctx, truthKey: truthKeys[queue] }, offsets[queue], queue),
    );
    // The autoscaler's part: processes started (resolved at their first heartbeat) and stopped
    // (SIGTERM, resolved at their exit) while the load runs.
    const scaling = (async () => {
      let changes = 0;
      for (const { atMs, change } of options.changes) {
        await sleep(Math.max(0, start + atMs - Date.now()));
        if (change === 1) await startProcess();
        else {
          const process = running.shift();
          if (process) stopped.push(process.stop());
        }
        changes++;
      }
      return changes;
    })();
    let next = start;
    while (Date.now() - start < options.durationMs) {
      next += tickMs;
      await sleep(Math.max(0, next - Date.now()));
      await read();
    }
    await Promise.all(producing);
    const processChanges = await scaling;
    await Promise.all(stopped);
    const truths = {
      high: await truthOf(redis, truthKeys.high, offsets.high.length),
      default: await truthOf(redis, truthKeys.default, offsets.default.length),
    };
    await read();
    const settings = {
      tickMs,
      settleMs,
      rateWindowMs: DEFAULTS.rateWindowMs,
      windowMs: DEFAULTS.windowMs,
    };
    const queues = {
      high: compare(groupSystem('high'), ticks.high, truths.high, offsets.high.length, settings),
      default: compare(
        groupSystem('default'),
        ticks.default,
        truths.default,
        offsets.default.length,
        settings,
      ),
    };
    return {
      queues,
      ...together(ticks, truths, settleMs),
      processChanges,
    };
  } finally {
    await Promise.all(running.map((process) => process.stop().catch(() => undefined)));
    await reader.close();
    await deleteKeys(redis, `${ctx.prefix}*`);
    await redis.quit();
  }
}

/** The two queues together: summed completion rates, and the high queue's share of them. */
function together(
  ticks: { high: Tick[]; default: Tick[] },
  truths: Record<Queue, TruthRecord[]>,
  settleMs: number,
): Pick<GroupResult, 'total' | 'share' | 'runTime'> {
  const total = { worstError: 0, failed: 0, compared: 0 };
  const share = {
    worstError: 0,
    worstSigmas: 0,
    compared: 0,
    read: [] as number[],
    truth: [] as number[],
    busyBeats: [] as number[],
  };
  const runTime = { worstError: 0, worstSigmas: 0, compared: 0 };
  const all = [...truths.high, ...truths.default];
  const firstReadAt = (ticks.high[0] as Tick).returnedAt;
  ticks.high.forEach((tick, index) => {
    const other = ticks.default[index] as Tick;
    if (tick.returnedAt - firstReadAt < settleMs) return;
    // The heartbeats the reader's run-time window (windowMs, from its first read) holds.
    const sampledFrom = Math.max(firstReadAt, tick.returnedAt - DEFAULTS.windowMs);
    const busyMs = all.reduce(
      (sum, r) =>
        sum +
        Math.max(0, Math.min(r.finishedAt, tick.returnedAt) - Math.max(r.startedAt, sampledFrom)),
      0,
    );
    const busyBeats = busyMs / HEARTBEAT_MS;
    for (const [queue, ownTick] of [
      ['high', tick],
      ['default', other],
    ] as const) {
      const mean = ownTick.snapshot.serviceTimeMs?.mean;
      const done = truths[queue].filter(
        (r) => r.finishedAt > tick.returnedAt - DEFAULTS.windowMs && r.finishedAt <= tick.calledAt,
      );
      if (mean === undefined || done.length === 0 || busyBeats === 0) continue;
      const trueMean = done.reduce((sum, r) => sum + r.finishedAt - r.startedAt, 0) / done.length;
      const error = (mean - trueMean) / trueMean;
      runTime.compared++;
      if (Math.abs(error) > Math.abs(runTime.worstError)) runTime.worstError = round(error);
      runTime.worstSigmas = Math.max(
        runTime.worstSigmas,
        round(Math.abs(error) * Math.sqrt(busyBeats)),
      );
    }
    const high = tick.snapshot.completionRate;
    const low = other.snapshot.completionRate;
    if (high === null || low === null) return;
    const from = Math.max(firstReadAt, tick.returnedAt - DEFAULTS.rateWindowMs);
    const finished = (records: TruthRecord[]) =>
      records.filter((r) => r.finishedAt > from && r.finishedAt <= tick.returnedAt).length;
    const trueHigh = finished(truths.high);
    const trueAll = trueHigh + finished(truths.default);
    const trueRate = (trueAll * 1000) / (tick.returnedAt - from);
    if (trueRate === 0) return;
    const error = (high + low - trueRate) / trueRate;
    total.compared++;
    if (Math.abs(error) > 0.1) total.failed++;
    if (Math.abs(error) > Math.abs(total.worstError)) total.worstError = round(error);
    if (high + low === 0) return;
    const readShare = high / (high + low);
    const trueShare = trueHigh / trueAll;
    share.compared++;
    share.read.push(round(readShare));
    share.truth.push(round(trueShare));
    share.busyBeats.push(Math.round(busyBeats));
    if (Math.abs(readShare - trueShare) > Math.abs(share.worstError))
      share.worstError = round(readShare - trueShare);
    const sigma = Math.sqrt((trueShare * (1 - trueShare)) / busyBeats);
    share.worstSigmas = Math.max(share.worstSigmas, round(Math.abs(readShare - trueShare) / sigma));
  });
  return { total, share, runTime };
}

async function truthOf(
  redis: ReturnType<typeof connectRedis>,
  key: string,
  expected: number,
): Promise<TruthRecord[]> {
  await waitFor(async () => (await redis.llen(key)) >= expected, {
    timeoutMs: 120_000,
    intervalMs: 200,
    what: `${expected} truth records in ${key}`,
  });
  return (await redis.lrange(key, 0, -1)).map((line) => JSON.parse(line) as TruthRecord);
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
