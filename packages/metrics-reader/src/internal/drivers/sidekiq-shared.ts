import type { Batch } from '../batch.js';
import { type Command, classifyRedisError, type RedisLink, type Reply } from '../connection.js';
import type { ResolvedOptions } from '../options.js';
import { DataProblem, parseJsonObject, secondsOrMillis } from '../payload.js';
import type { Tick } from '../queue-reader.js';
import type { SharedReader } from '../shared.js';
import { BeatLedger, type ProcessBeat } from './sidekiq-beats.js';
import { type ProbedQueue, SidekiqProbe } from './sidekiq-probe.js';

/**
 * Time between two probes of the tails of the Sidekiq lists (see SidekiqProbe): a pickup is
 * placed within half of it. 100 ms: 10 round trips a second per Redis, measured in
 * bench/RESULTS.md ("metrics-reader: Sidekiq tail probe").
 */
export const SIDEKIQ_PROBE_INTERVAL_MS = 100;

/** A process whose last beat is older than this may be gone (beats every 5 s in 6, 10 s in 7/8). */
const STALE_BEAT_MS = 25_000;

/** Probing stops when no tick came for this many times the last time between ticks. */
const PROBE_SPAN_TICKS = 2;

interface Problem {
  code: ReturnType<typeof classifyRedisError>;
  message: string;
}

/** What a process's `info` says about whom its threads serve. */
interface ProcessInfo {
  concurrency: number | null;
  queues: string[];
  /** `started_at` (its first heartbeat), epoch ms. */
  startedMs: number | null;
}

/**
 * The connection-wide part of Sidekiq: the `processes` set and each process's hashes, written
 * at its heartbeat (every 5 s in Sidekiq 6, 10 s in 7/8): `{identity}` (`beat`, `info`,
 * `concurrency` since 7), the jobs in flight (`{identity}:workers` in 6, `{identity}:work` since
 * 7), the global counter `stat:processed` (flushed at the heartbeat, so timed by the beats) and
 * the global `schedule`/`retry` sets (due jobs are pending until a poller moves them). It also
 * owns the tail probe of every Sidekiq queue of the connection.
 */
export class SidekiqShared implements SharedReader {
  private processes: string[] = [];
  private readonly works = new Map<string, { queue: string }[]>();
  private readonly beats = new Map<string, number>();
  private readonly infos = new Map<string, ProcessInfo>();
  /** Processes told to stop fetching (TSTP): their threads finish and then idle. */
  private readonly quiet = new Set<string>();
  /** Jobs in the global `schedule` and `retry` sets (due or not). */
  scheduledTotal: number | null = null;
  private newProcesses: string[] = [];
  readonly due = new Map<string, { count: number; oldestMs: number }>();
  queueCount: number | null = null;
  /** Jobs processed in this tick's interval, timed by the heartbeats; null when unknown. */
  processedInterval: { fromMs: number; toMs: number; count: number } | null = null;
  problems: Problem[] = [];
  private processedCounter: number | null = null;
  private readonly ledger: BeatLedger;
  private schedules: [string, number][] = [];
  private readonly probed: ProbedQueue[] = [];
  readonly probe: SidekiqProbe;

  constructor(
    readonly prefix: string,
    connection: RedisLink,
    private readonly options: ResolvedOptions,
    probeIntervalMs = SIDEKIQ_PROBE_INTERVAL_MS,
  ) {
    this.ledger = new BeatLedger(options.windowMs);
    this.probe = new SidekiqProbe(
      connection,
      () => this.probed,
      probeIntervalMs,
      options.maxPayloadBytes,
      options.now,
    );
  }

  /** A queue whose tail the probe watches between ticks. */
  watch(queue: ProbedQueue): void {
    this.probed.push(queue);
  }

  /** After a reload: stops watching the queues no longer read. */
  retain(sources: readonly { driver: string; prefix: string; backendName: string }[]): void {
    const kept = new Set(
      sources
        .filter((source) => source.driver === 'sidekiq' && source.prefix === this.prefix)
        .map((source) => `${source.prefix}queue:${source.backendName}`),
    );
    for (let index = this.probed.length - 1; index >= 0; index--) {
      if (!kept.has(this.probed[index]?.key ?? '')) this.probed.splice(index, 1);
    }
  }

  private key(name: string): string {
    return `${this.prefix}${name}`;
  }

  plan(batch: Batch, tick: Tick): void {
    const nowSec = tick.startedAt / 1000;
    this.problems = [];
    this.queueCount = null;
    this.processedCounter = null;
    this.schedules = [];
    this.newProcesses = [];
    this.scheduledTotal = null;
    let scheduled = 0;
    let counted = 0;
    for (const set of ['schedule', 'retry']) {
      this.add(batch, ['zcard', this.key(set)], (v) => {
        scheduled += Number(v);
        if (++counted === 2) this.scheduledTotal = scheduled;
      });
    }
    this.add(batch, ['smembers', this.key('processes')], (v) => {
      const members = Array.isArray(v) ? v.map(String) : [];
      this.newProcesses = members.filter((member) => !this.processes.includes(member));
      for (const gone of this.processes.filter((member) => !members.includes(member))) {
        this.works.delete(gone);
        this.beats.delete(gone);
        this.infos.delete(gone);
        this.quiet.delete(gone);
      }
      this.processes = members;
    });
    this.add(batch, ['scard', this.key('queues')], (v) => {
      this.queueCount = Number(v);
    });
    this.add(batch, ['get', this.key('stat:processed')], (v) => {
      this.processedCounter = v === null ? 0 : Number(v);
    });
    const limit = this.options.maxJobsPerTick;
    for (const set of ['schedule', 'retry']) {
      this.add(
        batch,
        ['zrange', this.key(set), '-inf', nowSec, 'BYSCORE', 'LIMIT', 0, limit, 'WITHSCORES'],
        (v) => {
          if (!Array.isArray(v)) return;
          for (let index = 0; index + 1 < v.length; index += 2) {
            this.schedules.push([String(v[index]), Number(v[index + 1])]);
          }
        },
      );
    }
    for (const identity of this.processes) this.planProcess(batch, identity);
  }

  planDetails(batch: Batch): void {
    for (const identity of this.newProcesses) {
      this.planProcess(batch, identity);
      // Static for the life of a process: read once.
      this.add(batch, ['hmget', this.key(identity), 'info', 'concurrency'], (v) => {
        this.infos.set(identity, this.parseInfo(identity, v));
      });
    }
  }

  private planProcess(batch: Batch, identity: string): void {
    // Sidekiq 6 writes `{identity}:workers`, 7 and 8 `{identity}:work`: one of them is empty.
    // With a namespace (redis-namespace, Sidekiq < 7), process keys carry it too.
    const work: { queue: string }[] = [];
    this.works.set(identity, work);
    for (const suffix of [':workers', ':work']) {
      this.add(batch, ['hgetall', this.key(`${identity}${suffix}`)], (v) => {
        work.push(...this.parseWork(`${identity}${suffix}`, v));
      });
    }
    this.add(batch, ['hmget', this.key(identity), 'beat', 'quiet'], (v) => {
      const [beatValue, quiet] = Array.isArray(v) ? v : [];
      const beat = secondsOrMillis(beatValue);
      if (beat === null) this.beats.delete(identity);
      else this.beats.set(identity, beat);
      if (String(quiet) === 'true') this.quiet.add(identity);
      else this.quiet.delete(identity);
    });
  }

  private parseInfo(identity: string, value: unknown): ProcessInfo {
    const [info, concurrency] = Array.isArray(value) ? value : [];
    if (typeof info !== 'string') return { concurrency: null, queues: [], startedMs: null };
    const parsed = parseJsonObject(
      info,
      `${this.key(identity)} info`,
      this.options.maxPayloadBytes,
    );
    const threads = Number(concurrency ?? parsed.concurrency);
    const queues = Array.isArray(parsed.queues) ? parsed.queues.map(String) : [];
    // Sidekiq 7 lists a capsule's queues per capsule; their union is what the threads serve.
    if (typeof parsed.capsules === 'object' && parsed.capsules !== null) {
      for (const capsule of Object.values(parsed.capsules as Record<string, unknown>)) {
        const named = (capsule as { queues?: unknown }).queues;
        if (Array.isArray(named)) queues.push(...named.map((entry) => String(entry)));
      }
    }
    return {
      concurrency: Number.isInteger(threads) && threads > 0 ? threads : null,
      startedMs: secondsOrMillis(parsed.started_at),
      queues: [...new Set(queues.map((queue) => queue.split(',')[0] ?? queue))],
    };
  }

  private parseWork(key: string, value: unknown): { queue: string }[] {
    const works: { queue: string }[] = [];
    if (!Array.isArray(value)) return works;
    // HGETALL answers field, value, field, value, ...
    for (let index = 0; index + 1 < value.length; index += 2) {
      const where = `${this.key(key)} ${String(value[index])}`;
      try {
        const entry = parseJsonObject(value[index + 1], where, this.options.maxPayloadBytes);
        let queue = typeof entry.queue === 'string' ? entry.queue : null;
        if (queue === null) {
          const payload =
            typeof entry.payload === 'string'
              ? parseJsonObject(entry.payload, `${where} payload`, this.options.maxPayloadBytes)
              : ((entry.payload ?? {}) as Record<string, unknown>);
          queue = String(payload.queue ?? '');
        }
        works.push({ queue });
      } catch (error) {
        this.problems.push({
          code: error instanceof DataProblem ? error.code : 'BAD_PAYLOAD',
          message: (error as Error).message,
        });
      }
    }
    return works;
  }

  /**
   * The threads that serve `queue`: their number, and whether all of them serve it alone
   * (a thread shared with other queues spends time on them too). Null without process info.
   */
  threadsFor(
    queue: string,
    nowMs: number,
  ): { threads: number; dedicated: boolean; fetching: boolean } | null {
    let threads = 0;
    let dedicated = true;
    let fetching = true;
    for (const identity of this.processes) {
      const info = this.infos.get(identity);
      if (!info) return null;
      if (!info.queues.includes(queue)) continue;
      if (info.concurrency === null) return null;
      threads += info.concurrency;
      if (info.queues.length > 1) dedicated = false;
      // Quiet, or silent for several heartbeats (gone without cleaning up): maybe not fetching.
      const beat = this.beats.get(identity);
      if (this.quiet.has(identity) || beat === undefined || nowMs - beat > STALE_BEAT_MS)
        fetching = false;
    }
    return threads > 0 ? { threads, dedicated, fetching } : null;
  }

  finish(tick: Tick): void {
    this.due.clear();
    for (const [member, score] of this.schedules) {
      const queue = queueOf(member, this.options.maxPayloadBytes);
      if (queue === null) continue;
      const due = this.due.get(queue) ?? { count: 0, oldestMs: Number.POSITIVE_INFINITY };
      due.count++;
      due.oldestMs = Math.min(due.oldestMs, score * 1000);
      this.due.set(queue, due);
    }
    this.timeProcessed(tick);
    const span = tick.previous ? tick.readAt - tick.previous.readAt : 0;
    if (span > 0) this.probe.arm(tick.readAt + PROBE_SPAN_TICKS * span);
  }

  /**
   * `stat:processed` is flushed by each process at its heartbeat, so the counter describes
   * the time of the beats, not of the read: see BeatLedger.
   */
  private timeProcessed(tick: Tick): void {
    this.processedInterval = null;
    const counter = this.processedCounter;
    if (counter === null || !Number.isFinite(counter)) return;
    const processes: ProcessBeat[] = [];
    for (const identity of this.processes) {
      const beatMs = this.beats.get(identity);
      if (beatMs === undefined) continue;
      const info = this.infos.get(identity);
      const busy = new Map<string, number>();
      for (const work of this.works.get(identity) ?? [])
        busy.set(work.queue, (busy.get(work.queue) ?? 0) + 1);
      processes.push({
        identity,
        beatMs,
        startedMs: info?.startedMs ?? null,
        threads: info?.concurrency ?? 1,
        busy,
      });
    }
    this.processedInterval = this.ledger.update(
      counter,
      processes,
      tick.readAt,
      tick.previous?.readAt ?? null,
    );
  }

  /** `queue`'s share of the threads' busy time over the window (see BeatLedger); null until `minSamples` busy heartbeats. */
  shareOf(queue: string, nowMs: number): number | null {
    return this.ledger.share(queue, nowMs, this.options.minSamples);
  }

  /** Mean run time of all the processes' jobs over the window, by Little's law. */
  runTimeMs(nowMs: number): number | null {
    return this.ledger.runTimeMs(nowMs, this.options.minSamples);
  }

  failed(): void {
    this.processedInterval = null;
    this.probe.stop();
  }

  private add(batch: Batch, command: Command, handle: (value: Reply) => void): void {
    batch.add(command, (reply: Reply) => {
      if (reply instanceof Error) {
        this.problems.push({
          code: classifyRedisError(reply),
          message: `${command[0].toUpperCase()} ${String(command[1])} failed: ${reply.message}`,
        });
        return;
      }
      try {
        handle(reply);
      } catch (error) {
        this.problems.push({ code: 'BAD_PAYLOAD', message: (error as Error).message });
      }
    });
  }
}

function queueOf(member: string, maxBytes: number): string | null {
  try {
    const job = parseJsonObject(member, 'schedule', maxBytes);
    return typeof job.queue === 'string' ? job.queue : null;
  } catch {
    return null;
  }
}
