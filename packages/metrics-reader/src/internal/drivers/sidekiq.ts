import type { QueueFigure } from '@qscale/contracts';
import type { Batch } from '../batch.js';
import {
  type Command,
  classifyRedisError,
  type Prepared,
  type Reply,
  type Sendable,
} from '../connection.js';
import type { ResolvedSource } from '../options.js';
import { DataProblem, describe, LastParsed, parseJsonObject, secondsOrMillis } from '../payload.js';
import { QueueReader, type ReaderContext, type Tick } from '../queue-reader.js';
import type { SharedReader } from '../shared.js';
import { BoundedMap, RateWindow } from '../windows.js';

/** A job a Sidekiq thread was running at its process's last heartbeat. */
interface Work {
  queue: string;
  jid: string;
  /** `{identity}|{tid}|{jid}`: the same job on the same thread. */
  key: string;
  runAt: number | null;
  enqueuedAt: number | null;
}

interface Problem {
  code: ReturnType<typeof classifyRedisError>;
  message: string;
}

/**
 * The connection-wide part of Sidekiq 7/8: the `processes` set, each process's heartbeat hash
 * and `:work` hash (jobs in flight, refreshed every heartbeat), the global `stat:processed`
 * counter (flushed at each heartbeat, so it is timed by the processes' `beat`), and the global
 * `schedule`/`retry` sets (due jobs are pending: they wait for a process's poller).
 */
export class SidekiqShared implements SharedReader {
  private processes: string[] = [];
  private readonly works = new Map<string, Work[]>();
  private readonly beats = new Map<string, number>();
  private newProcesses: string[] = [];
  private seenWork = new Set<string>();
  private firstRead = true;
  /** New work per queue this tick (pickups), busy threads per queue. */
  readonly started = new Map<string, Work[]>();
  readonly busy = new Map<string, number>();
  readonly due = new Map<string, { count: number; oldestMs: number }>();
  queueCount: number | null = null;
  /** Jobs processed in this tick's interval, timed by the heartbeats; null when unknown. */
  processedInterval: { fromMs: number; toMs: number; count: number } | null = null;
  problems: Problem[] = [];
  private processedCounter: number | null = null;
  private lastCounted: { counter: number; atMs: number } | null = null;
  private schedules: [string, number][] = [];

  constructor(
    readonly prefix: string,
    private readonly limit: number,
    private readonly maxPayloadBytes: number,
  ) {}

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
    this.add(batch, ['smembers', this.key('processes')], (v) => {
      const members = Array.isArray(v) ? v.map(String) : [];
      this.newProcesses = members.filter((member) => !this.processes.includes(member));
      for (const gone of this.processes.filter((member) => !members.includes(member))) {
        this.works.delete(gone);
        this.beats.delete(gone);
      }
      this.processes = members;
    });
    this.add(batch, ['scard', this.key('queues')], (v) => {
      this.queueCount = Number(v);
    });
    this.add(batch, ['get', this.key('stat:processed')], (v) => {
      this.processedCounter = v === null ? 0 : Number(v);
    });
    for (const set of ['schedule', 'retry']) {
      this.add(
        batch,
        ['zrange', this.key(set), '-inf', nowSec, 'BYSCORE', 'LIMIT', 0, this.limit, 'WITHSCORES'],
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
    for (const identity of this.newProcesses) this.planProcess(batch, identity);
  }

  private planProcess(batch: Batch, identity: string): void {
    // With a namespace (redis-namespace, Sidekiq < 7), process keys carry it too.
    this.add(batch, ['hgetall', this.key(`${identity}:work`)], (v) => {
      this.works.set(identity, this.parseWork(identity, v));
    });
    this.add(batch, ['hget', this.key(identity), 'beat'], (v) => {
      const beat = secondsOrMillis(v);
      if (beat === null) this.beats.delete(identity);
      else this.beats.set(identity, beat);
    });
  }

  private parseWork(identity: string, value: unknown): Work[] {
    const works: Work[] = [];
    if (!Array.isArray(value)) return works;
    // HGETALL answers field, value, field, value, ...
    for (let index = 0; index + 1 < value.length; index += 2) {
      const tid = String(value[index]);
      const raw = value[index + 1];
      const where = `${identity}:work ${tid}`;
      try {
        const entry = parseJsonObject(raw, where, this.maxPayloadBytes);
        const payload =
          typeof entry.payload === 'string'
            ? parseJsonObject(entry.payload, `${where} payload`, this.maxPayloadBytes)
            : typeof entry.payload === 'object' && entry.payload !== null
              ? (entry.payload as Record<string, unknown>)
              : {};
        const queue = typeof entry.queue === 'string' ? entry.queue : String(payload.queue ?? '');
        const runAt = secondsOrMillis(entry.run_at);
        works.push({
          queue,
          jid: String(payload.jid ?? ''),
          key: `${identity}|${tid}|${String(payload.jid ?? '')}`,
          // Sidekiq 7 writes run_at in whole seconds: read it as the middle of that second.
          runAt:
            runAt === null
              ? null
              : runAt < 1e12 && Number.isInteger(Number(entry.run_at))
                ? runAt + 500
                : runAt,
          enqueuedAt: secondsOrMillis(payload.enqueued_at ?? payload.created_at),
        });
      } catch (error) {
        this.problems.push({
          code: error instanceof DataProblem ? error.code : 'BAD_PAYLOAD',
          message: (error as Error).message,
        });
      }
    }
    return works;
  }

  finish(tick: Tick): void {
    this.started.clear();
    this.busy.clear();
    this.due.clear();
    const seen = new Set<string>();
    for (const works of this.works.values()) {
      for (const work of works) {
        seen.add(work.key);
        this.busy.set(work.queue, (this.busy.get(work.queue) ?? 0) + 1);
        if (!this.firstRead && !this.seenWork.has(work.key)) {
          const list = this.started.get(work.queue) ?? [];
          list.push(work);
          this.started.set(work.queue, list);
        }
      }
    }
    this.seenWork = seen;
    this.firstRead = false;
    for (const [member, score] of this.schedules) {
      const queue = queueOf(member, this.maxPayloadBytes);
      if (queue === null) continue;
      const due = this.due.get(queue) ?? { count: 0, oldestMs: Number.POSITIVE_INFINITY };
      due.count++;
      due.oldestMs = Math.min(due.oldestMs, score * 1000);
      this.due.set(queue, due);
    }
    this.timeProcessed(tick);
  }

  /**
   * `stat:processed` is flushed by each process at its heartbeat, so the counter describes
   * the time of the beats, not of the read: the interval is measured between beat times.
   */
  private timeProcessed(tick: Tick): void {
    this.processedInterval = null;
    const counter = this.processedCounter;
    if (counter === null || !Number.isFinite(counter)) return;
    const beats = [...this.beats.values()];
    const atMs =
      beats.length > 0 ? beats.reduce((sum, beat) => sum + beat, 0) / beats.length : tick.readAt;
    const last = this.lastCounted;
    if (!last || counter < last.counter) {
      this.lastCounted = { counter, atMs };
      return;
    }
    if (atMs > last.atMs) {
      this.processedInterval = { fromMs: last.atMs, toMs: atMs, count: counter - last.counter };
      this.lastCounted = { counter, atMs };
    }
  }

  failed(): void {
    this.processedInterval = null;
    this.started.clear();
  }

  private add(batch: Batch, command: Command, handle: (value: unknown) => void): void {
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

/**
 * One Sidekiq queue: `queue:{name}` (LPUSH, BRPOP from the tail). Oldest age from the tail
 * job's `enqueued_at` (float seconds before 8.0, integer ms since), pickups from the jobs that
 * appear in the processes' work hashes (`run_at - enqueued_at`). Completions come from the
 * global counter, exact when this is the only queue, otherwise shared out by busy threads.
 */
export class SidekiqReader extends QueueReader {
  protected readonly reportsFailed = false;
  private readonly key: string;
  private readonly growth: RateWindow;
  private previousPending: { value: number; readAt: number } | null = null;
  private length: number | null = null;
  private oldest: string | null = null;
  private oldestRead = false;
  private readonly oldest$ = new LastParsed<Record<string, unknown>>();
  /** The job at the tail (next to be taken) at the last read, and the one read now. */
  private tail: { raw: string; jid: string; enqueuedAt: number; readAt: number } | null = null;
  private currentTail: { raw: string; jid: string; enqueuedAt: number } | null = null;
  /** Jobs whose pickup the tail already timed: their work-hash sighting is not counted again. */
  private readonly timedAtTail = new BoundedMap<string, true>(10_000);
  /** Intervals whose pickups a tail sample stands for, oldest first. */
  private readonly tailIntervals: { fromMs: number; toMs: number }[] = [];

  constructor(
    source: ResolvedSource,
    context: ReaderContext,
    private readonly shared: SidekiqShared,
  ) {
    super(source, context);
    this.key = `${source.prefix}queue:${source.backendName}`;
    this.growth = new RateWindow(context.options.rateWindowMs);
    this.commands = {
      llen: this.prepare('llen', this.key),
      tail: this.prepare('lindex', this.key, -1),
      paused: this.prepare('sismember', `${source.prefix}paused`, source.backendName),
    };
  }

  private readonly commands: Record<'llen' | 'tail' | 'paused', Prepared>;

  /** The queue's list; due scheduled jobs sit in Sidekiq's global `schedule` until a poller moves them. */
  readyCommands(): Sendable[] {
    return [this.commands.llen];
  }

  plan(batch: Batch): void {
    this.length = null;
    this.oldest = null;
    this.oldestRead = false;
    this.read(batch, this.commands.llen, ['pending', 'oldestPendingAgeMs', 'arrivalRate'], (v) => {
      this.length = this.count(v, `LLEN ${this.key}`);
    });
    this.read(batch, this.commands.tail, ['oldestPendingAgeMs'], (v) => {
      this.oldest = typeof v === 'string' ? v : null;
      this.oldestRead = true;
    });
    this.read(batch, this.commands.paused, [], (v) => {
      this.draft.paused = Number(v) === 1;
    });
  }

  protected finish(tick: Tick): void {
    const draft = this.draft;
    const shared = this.shared;
    const name = this.source.backendName;
    const sharedFigures: QueueFigure[] = ['active', 'completionRate', 'arrivalRate', 'pending'];
    for (const problem of shared.problems)
      draft.problem(problem.code, problem.message, sharedFigures);

    const due = shared.due.get(name);
    const pending = this.length !== null ? this.length + (due?.count ?? 0) : null;
    draft.set('pending', pending, 'counter');
    draft.set('delayed', null, 'counter');
    draft.set('active', shared.busy.get(name) ?? 0, 'counter');

    this.currentTail = null;
    this.guard(['oldestPendingAgeMs'], () => this.oldestAge(tick, pending, due?.oldestMs ?? null));
    this.timeTail(tick);

    for (const work of shared.started.get(name) ?? []) {
      if (this.timedAtTail.has(work.jid)) continue;
      if (work.runAt !== null && work.enqueuedAt !== null && !this.coveredByTail(work.runAt)) {
        this.pickups.add(work.runAt - work.enqueuedAt, work.runAt);
      }
    }

    const interval = shared.processedInterval;
    if (interval) {
      const share = this.shareOfProcessed();
      if (share !== null)
        this.completions.add(interval.fromMs, interval.toMs, interval.count * share);
    }
    if (pending !== null) {
      const previous = this.previousPending;
      if (previous) this.growth.add(previous.readAt, tick.readAt, pending - previous.value);
      this.previousPending = { value: pending, readAt: tick.readAt };
    }
  }

  private oldestAge(tick: Tick, pending: number | null, dueOldestMs: number | null): void {
    const draft = this.draft;
    if (pending === 0) {
      draft.set('oldestPendingAgeMs', 0, 'counter');
      return;
    }
    if (pending === null || !this.oldestRead) return;
    const candidates: number[] = [];
    if (dueOldestMs !== null) candidates.push(dueOldestMs);
    if (this.oldest !== null) {
      const job = this.oldest$.get(this.oldest, (raw) =>
        parseJsonObject(raw, `LINDEX ${this.key} -1`, this.options.maxPayloadBytes),
      );
      const enqueued = secondsOrMillis(job.enqueued_at ?? job.created_at);
      if (enqueued === null) {
        throw new DataProblem(
          'MISSING_TIMESTAMP',
          `the oldest job of ${this.key} has enqueued_at ${describe(job.enqueued_at)}, expected epoch seconds or milliseconds`,
        );
      }
      candidates.push(enqueued);
      this.currentTail = { raw: this.oldest, jid: String(job.jid ?? ''), enqueuedAt: enqueued };
    }
    if (candidates.length > 0) {
      draft.set(
        'oldestPendingAgeMs',
        Math.max(0, tick.startedAt - Math.min(...candidates)),
        'counter',
      );
    }
  }

  /**
   * Work hashes show a job only at the next heartbeat (10 s), so in a growing backlog they miss
   * the latest, longest waits. The tail is read every tick: when the job that was next in line
   * is gone, it was picked up just after the previous read (a tick's worth of pops later at
   * most), a fresh pickup timed from its exact `enqueued_at`.
   */
  private timeTail(tick: Tick): void {
    const previous = this.tail;
    const current = this.currentTail;
    if (!this.oldestRead) {
      this.tail = null;
      return;
    }
    if (previous && previous.raw !== current?.raw) {
      const span = tick.readAt - previous.readAt;
      const rate = this.completions.rate(tick.readAt);
      // Next in line, so taken by the first pop after the read: about one pop interval later.
      // While a backlog persists it stands for every pickup of the interval (as many as pops);
      // their work-hash sightings, a heartbeat later, are then not counted again.
      const backlog = current !== null;
      const pops = backlog && rate !== null ? (rate * span) / 1000 : 1;
      const pickedAt = previous.readAt + span / (Math.max(1, pops) + 1);
      this.pickups.add(pickedAt - previous.enqueuedAt, pickedAt, Math.max(1, pops));
      if (previous.jid !== '') this.timedAtTail.set(previous.jid, true);
      if (backlog && pops > 1) {
        this.tailIntervals.push({ fromMs: previous.readAt, toMs: tick.readAt });
        const horizon = tick.readAt - this.options.windowMs;
        while ((this.tailIntervals[0]?.toMs ?? Number.POSITIVE_INFINITY) < horizon) {
          this.tailIntervals.shift();
        }
      }
    }
    this.tail = current ? { ...current, readAt: tick.readAt } : null;
  }

  /** Whether a pickup at `atMs` is already stood for by a tail sample. */
  private coveredByTail(atMs: number): boolean {
    // run_at has one-second resolution: a pickup at an interval's edge could be either side.
    for (let index = this.tailIntervals.length - 1; index >= 0; index--) {
      const interval = this.tailIntervals[index];
      if (!interval) continue;
      if (atMs > interval.toMs + 500) return false;
      if (atMs >= interval.fromMs - 500) return true;
    }
    return false;
  }

  /** This queue's share of the global counter: all of it when it is the only queue. */
  private shareOfProcessed(): number | null {
    const shared = this.shared;
    if (shared.queueCount === 1) {
      this.completionSource = 'counter';
      return 1;
    }
    this.completionSource = 'estimate';
    let total = 0;
    for (const busy of shared.busy.values()) total += busy;
    if (total === 0) return null;
    return (shared.busy.get(this.source.backendName) ?? 0) / total;
  }

  /** Arrivals = completions + growth of the backlog: Sidekiq counts no arrivals. */
  protected override arrivalRate(nowMs: number): number | null {
    const completions = this.completions.rate(nowMs);
    const growth = this.growth.signedRate(nowMs);
    if (completions === null || growth === null) return null;
    return Math.max(0, completions + growth);
  }
}
