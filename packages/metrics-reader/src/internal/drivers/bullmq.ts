import type { Batch } from '../batch.js';
import { Prepared, type Sendable } from '../connection.js';
import type { ResolvedSource } from '../options.js';
import { DataProblem, describe, millis, parseJsonObject } from '../payload.js';
import { QueueReader, type ReaderContext, type Tick } from '../queue-reader.js';
import { BoundedMap } from '../windows.js';

/** Remembered per job between ticks; bounded so a stuck queue cannot grow memory. */
const TRACKED_JOBS = 100_000;
/** BullMQ trims its event stream to about this many entries unless `maxLenEvents` says otherwise. */
const DEFAULT_MAX_LEN_EVENTS = 10_000;
/** BullMQ delayed scores are `readyAtMs * 0x1000 + sequence`. */
const DELAY_SCORE_FACTOR = 0x1000;

type StreamEntry = [id: string, fields: string[]];

interface Details {
  /** Why the job's hash is read. */
  purpose: 'oldest' | 'active';
  /** For `active`: when the event stream saw it start. */
  activeAt?: number;
}

/**
 * BullMQ 5 and 6 (`{prefix}:{queue}:*`). Depth from LLEN/ZCARD (never `getCounts`, whose
 * script may write). Arrivals, completions, pickups and run times come from the queue's
 * event stream (`waiting`, `active`, `completed`, `failed` entries, timestamped by Redis), read
 * incrementally with XRANGE; when the stream was trimmed past the last entry read, the `id`
 * counter and conservation of jobs fill that interval.
 */
export class BullmqReader extends QueueReader {
  protected readonly reportsFailed = true;
  private readonly base: string;
  private lastEventId: string | null = null;
  private readonly readyAt = new BoundedMap<string, number>(TRACKED_JOBS);
  private readonly startedAt = new BoundedMap<string, number>(TRACKED_JOBS);
  private previous: { readAt: number; idCounter: number | null; total: number | null } | null =
    null;
  private lastPausedLength = 0;
  private lastDue: number | null = null;
  /** The incremental XRANGE, encoded again only when the last entry read changes. */
  private eventsCommand: { from: string; command: Prepared } | null = null;
  private lastPrioritized = 0;

  // Replies of the current tick.
  private wait: number | null = null;
  private paused: number | null = null;
  private prioritized: number | null = null;
  private active: number | null = null;
  private delayedTotal: number | null = null;
  private due: number | null = null;
  private failedCount: number | null = null;
  private idCounter: number | null = null;
  private oldestIds: string[] = [];
  private oldestDueScore: number | null = null;
  private entries: StreamEntry[] | null = null;
  private truncated = false;
  private firstStreamId: string | null | undefined;
  private newestStreamId: string | null | undefined;
  private seeding = false;
  private streamLength: number | null = null;
  private maxLenEvents: number | null = null;
  private lostEvents = false;
  private details = new Map<string, Details>();
  private arrivalsThisTick = 0;
  private completionsThisTick = 0;

  private readonly commands: Record<
    | 'wait'
    | 'paused'
    | 'prioritized'
    | 'active'
    | 'delayed'
    | 'failed'
    | 'meta'
    | 'id'
    | 'waitTail'
    | 'pausedTail'
    | 'prioritizedHead',
    Prepared
  >;

  constructor(source: ResolvedSource, context: ReaderContext) {
    super(source, context);
    const base = `${source.prefix}:${source.backendName}:`;
    this.base = base;
    this.commands = {
      wait: this.prepare('llen', `${base}wait`),
      paused: this.prepare('llen', `${base}paused`),
      prioritized: this.prepare('zcard', `${base}prioritized`),
      active: this.prepare('llen', `${base}active`),
      delayed: this.prepare('zcard', `${base}delayed`),
      failed: this.prepare('zcard', `${base}failed`),
      meta: this.prepare('hget', `${base}meta`, 'paused'),
      id: this.prepare('get', `${base}id`),
      waitTail: this.prepare('lindex', `${base}wait`, -1),
      pausedTail: this.prepare('lindex', `${base}paused`, -1),
      prioritizedHead: this.prepare('zrange', `${base}prioritized`, 0, 0),
    };
    this.arrivalSource = 'counter';
    this.completionSource = 'counter';
  }

  readyCommands(nowMs: number): Sendable[] {
    const base = this.base;
    const commands = this.commands;
    const nowScore = (Math.floor(nowMs) + 1) * DELAY_SCORE_FACTOR - 1;
    return [
      commands.wait,
      commands.paused,
      commands.prioritized,
      ['zcount', `${base}delayed`, '-inf', nowScore],
    ];
  }

  plan(batch: Batch, tick: Tick): void {
    const base = this.base;
    const nowScore = (Math.floor(tick.startedAt) + 1) * DELAY_SCORE_FACTOR - 1;
    this.wait = this.paused = this.prioritized = this.active = null;
    this.delayedTotal = this.due = this.failedCount = this.idCounter = null;
    this.oldestIds = [];
    this.oldestDueScore = null;
    this.entries = null;
    this.truncated = false;
    this.firstStreamId = undefined;
    this.newestStreamId = undefined;
    this.lostEvents = false;
    this.details = new Map();
    this.arrivalsThisTick = 0;
    this.completionsThisTick = 0;

    const commands = this.commands;
    const depth = ['pending', 'oldestPendingAgeMs'] as const;
    this.read(batch, commands.wait, depth, (v) => {
      this.wait = this.count(v, 'LLEN', `${base}wait`);
    });
    this.read(batch, commands.paused, depth, (v) => {
      this.paused = this.count(v, 'LLEN', `${base}paused`);
    });
    this.read(batch, commands.prioritized, depth, (v) => {
      this.prioritized = this.count(v, 'ZCARD', `${base}prioritized`);
    });
    this.read(batch, commands.active, ['active'], (v) => {
      this.active = this.count(v, 'LLEN', `${base}active`);
    });
    this.read(batch, commands.delayed, ['delayed'], (v) => {
      this.delayedTotal = this.count(v, 'ZCARD', `${base}delayed`);
    });
    this.read(
      batch,
      ['zcount', `${base}delayed`, '-inf', nowScore],
      ['pending', 'delayed', 'oldestPendingAgeMs'],
      (v) => {
        this.due = this.count(v, 'ZCOUNT', `${base}delayed`);
        this.lastDue = this.due;
      },
    );
    // Only while some were due: a job due since the last tick has waited less than a tick.
    if (this.lastDue !== 0) {
      this.read(
        batch,
        ['zrange', `${base}delayed`, '-inf', nowScore, 'BYSCORE', 'LIMIT', 0, 1, 'WITHSCORES'],
        ['oldestPendingAgeMs'],
        (v) => {
          if (Array.isArray(v) && v.length >= 2) this.oldestDueScore = Number(v[1]);
        },
      );
    }
    this.read(batch, commands.failed, ['failed'], (v) => {
      this.failedCount = this.count(v, 'ZCARD', `${base}failed`);
    });
    this.read(batch, commands.meta, [], (v) => {
      this.draft.paused = v === '1' || v === 'true';
    });
    this.read(batch, commands.id, [], (v) => {
      this.idCounter = v === null ? 0 : this.count(v, 'GET', `${base}id`);
    });
    this.read(batch, commands.waitTail, ['oldestPendingAgeMs'], (v) => {
      if (typeof v === 'string') this.oldestIds.push(v);
    });
    if (this.lastPausedLength > 0) {
      this.read(batch, commands.pausedTail, ['oldestPendingAgeMs'], (v) => {
        if (typeof v === 'string') this.oldestIds.push(v);
      });
    }
    if (this.lastPrioritized > 0) {
      this.read(batch, commands.prioritizedHead, ['oldestPendingAgeMs'], (v) => {
        if (Array.isArray(v) && typeof v[0] === 'string') this.oldestIds.push(v[0]);
      });
    }
    this.planEvents(batch, tick);
  }

  private planEvents(batch: Batch, tick: Tick): void {
    const stream = `${this.base}events`;
    const limit = this.options.maxEventsPerTick;
    const figures = ['arrivalRate', 'completionRate'] as const;
    this.seeding = this.lastEventId === null;
    if (this.seeding) {
      // First read: the recent history seeds the rates and percentiles at once.
      const since = Math.max(0, Math.floor(tick.startedAt - this.options.rateWindowMs));
      this.read(batch, ['xrevrange', stream, '+', String(since), 'COUNT', limit], figures, (v) => {
        this.entries = streamEntries(v, `XREVRANGE ${stream}`).reverse();
        this.truncated = this.entries.length >= limit;
      });
      this.read(batch, ['xrange', stream, '-', '+', 'COUNT', 1], figures, (v) => {
        this.firstStreamId = streamEntries(v, `XRANGE ${stream}`)[0]?.[0] ?? null;
      });
      this.read(batch, ['xrevrange', stream, '+', '-', 'COUNT', 1], figures, (v) => {
        this.newestStreamId = streamEntries(v, `XREVRANGE ${stream}`)[0]?.[0] ?? null;
      });
      // A stream shorter than its trim length was never trimmed: nothing before it is missing.
      this.read(batch, ['xlen', stream], figures, (v) => {
        this.streamLength = this.count(v, 'XLEN', stream);
      });
      this.read(batch, ['hget', `${this.base}meta`, 'opts.maxLenEvents'], [], (v) => {
        this.maxLenEvents = v === null ? null : Number(v);
      });
    } else {
      // Inclusive start (works before Redis 6.2); the entry already read is dropped.
      const from = this.lastEventId as string;
      if (this.eventsCommand?.from !== from) {
        this.eventsCommand = {
          from,
          command: new Prepared(['xrange', stream, from, '+', 'COUNT', limit]),
        };
      }
      this.read(batch, this.eventsCommand.command, figures, (v) => {
        const entries = streamEntries(v, `XRANGE ${stream}`);
        this.truncated = entries.length >= limit;
        // The entry read last is gone: the stream was trimmed past it and events were lost.
        this.lostEvents =
          entries.length > 0 && this.lastEventId !== '0-0' && entries[0]?.[0] !== this.lastEventId;
        this.entries = entries.filter(([id]) => id !== this.lastEventId);
      });
    }
  }

  override planDetails(batch: Batch): void {
    this.processEvents();
    // The oldest pending jobs whose ready time the stream has not shown.
    for (const id of this.oldestIds) {
      if (!this.readyAt.has(id) && !id.startsWith('0:'))
        this.details.set(id, { purpose: 'oldest' });
    }
    let budget = this.options.maxJobsPerTick;
    for (const [id, detail] of this.details) {
      if (budget-- <= 0) break;
      this.read(
        batch,
        ['hmget', `${this.base}${id}`, 'timestamp', 'delay', 'opts', 'atm'],
        detail.purpose === 'oldest' ? ['oldestPendingAgeMs'] : [],
        (v) => this.onDetails(id, detail, v),
      );
    }
  }

  private processEvents(): void {
    const entries = this.entries;
    if (!entries) return;
    for (const [id, fields] of entries) {
      const at = streamTime(id);
      const event = field(fields, 'event');
      const jobId = field(fields, 'jobId');
      if (at === null || event === null) continue;
      if (jobId === null) continue;
      switch (event) {
        case 'waiting':
          this.arrivalsThisTick++;
          this.readyAt.set(jobId, at);
          break;
        case 'active': {
          const readyAt = this.readyAt.get(jobId);
          if (readyAt !== undefined) {
            this.pickups.add(at - readyAt, at);
            this.readyAt.delete(jobId);
          } else if (this.details.size < this.options.maxJobsPerTick) {
            this.details.set(jobId, { purpose: 'active', activeAt: at });
          }
          this.startedAt.set(jobId, at);
          break;
        }
        case 'completed':
        case 'failed': {
          this.completionsThisTick++;
          this.endAttempt(jobId, at);
          break;
        }
        case 'delayed':
          // A retry with backoff ends the attempt; a delayed add has no attempt to end.
          this.endAttempt(jobId, at);
          this.readyAt.delete(jobId);
          break;
        case 'stalled':
        case 'removed':
          this.startedAt.delete(jobId);
          this.readyAt.delete(jobId);
          break;
        default:
          break;
      }
      // 'waiting' with prev 'active' (a retry) also ends an attempt.
      if (event === 'waiting' && field(fields, 'prev') === 'active') this.endAttempt(jobId, at);
    }
    const last = entries.at(-1);
    if (last) this.lastEventId = last[0];
    // Nothing recent on the first read: continue after the newest entry, whatever its age.
    else if (this.seeding && this.newestStreamId !== undefined) {
      this.lastEventId = this.newestStreamId ?? '0-0';
    }
  }

  private endAttempt(jobId: string, at: number): void {
    const started = this.startedAt.get(jobId);
    if (started === undefined) return;
    this.services.add(at - started, at);
    this.startedAt.delete(jobId);
  }

  private onDetails(id: string, detail: Details, value: unknown): void {
    if (!Array.isArray(value)) return;
    const [timestamp, delayField, opts, attempts] = value as (string | null)[];
    if (timestamp === null || timestamp === undefined) {
      // The job is gone (finished and removed) or its hash was never a BullMQ job.
      if (detail.purpose === 'oldest') {
        throw new DataProblem(
          'MISSING_TIMESTAMP',
          `${this.base}${id} (the oldest waiting job) has no timestamp field`,
        );
      }
      return;
    }
    const created = millis(timestamp);
    if (created === null) {
      throw new DataProblem(
        'BAD_PAYLOAD',
        `${this.base}${id} has timestamp ${describe(timestamp)}, expected epoch milliseconds`,
      );
    }
    let delay = millis(delayField) ?? 0;
    if (typeof opts === 'string' && opts.length > 0) {
      const parsed = parseJsonObject(opts, `${this.base}${id} opts`, this.options.maxPayloadBytes);
      delay = Math.max(delay, millis(parsed.delay) ?? 0);
    }
    const readyAt = created + delay;
    if (detail.purpose === 'oldest') {
      this.readyAt.set(id, readyAt);
    } else if (detail.activeAt !== undefined && (millis(attempts) ?? 0) === 0) {
      // First attempt only: a retried job became ready again at a time its hash does not keep.
      this.pickups.add(detail.activeAt - readyAt, detail.activeAt);
    }
  }

  protected finish(tick: Tick): void {
    const draft = this.draft;
    this.lastPausedLength = this.paused ?? 0;
    this.lastPrioritized = this.prioritized ?? 0;
    const due = this.due ?? 0;
    const pending =
      this.wait !== null && this.paused !== null && this.prioritized !== null && this.due !== null
        ? this.wait + this.paused + this.prioritized + due
        : null;
    draft.set('pending', pending, 'counter');
    draft.set(
      'delayed',
      this.delayedTotal !== null ? Math.max(0, this.delayedTotal - due) : null,
      'counter',
    );
    draft.set('active', this.active, 'counter');
    draft.set('failed', this.failedCount, 'counter');

    if (pending !== null) {
      const candidates: number[] = [];
      if (this.oldestDueScore !== null) {
        candidates.push(Math.floor(this.oldestDueScore / DELAY_SCORE_FACTOR));
      }
      for (const id of this.oldestIds) {
        const readyAt = this.readyAt.get(id);
        if (readyAt !== undefined) candidates.push(readyAt);
      }
      if (pending === 0) draft.set('oldestPendingAgeMs', 0, 'counter');
      else if (candidates.length > 0) {
        draft.set(
          'oldestPendingAgeMs',
          Math.max(0, tick.startedAt - Math.min(...candidates)),
          'counter',
        );
      }
    }
    this.rates(tick, pending);
  }

  private rates(tick: Tick, pending: number | null): void {
    const total =
      pending !== null && this.active !== null && this.delayedTotal !== null
        ? pending - (this.due ?? 0) + this.delayedTotal + this.active
        : null;
    const previous = this.previous;
    const from = previous?.readAt ?? null;
    if (this.entries && !this.lostEvents) {
      const start = from ?? this.seedStart(tick);
      if (start !== null) {
        this.arrivals.add(start, tick.readAt, this.arrivalsThisTick);
        this.completions.add(start, tick.readAt, this.completionsThisTick);
      }
      this.arrivalSource = 'counter';
      this.completionSource = 'counter';
    } else if (
      previous &&
      this.idCounter !== null &&
      previous.idCounter !== null &&
      total !== null &&
      previous.total !== null
    ) {
      // Events lost: every add increments `id`; what was added and is no longer there finished.
      const added = Math.max(0, this.idCounter - previous.idCounter);
      this.arrivals.add(previous.readAt, tick.readAt, added);
      this.completions.add(previous.readAt, tick.readAt, added - (total - previous.total));
      this.completionSource = 'estimate';
    }
    this.previous = { readAt: tick.readAt, idCounter: this.idCounter, total };
  }

  /**
   * Where the seeded history starts: the window, unless the stream was trimmed inside it (then
   * its first entry) or more entries than one read holds came in (then the oldest read).
   */
  private seedStart(tick: Tick): number | null {
    const windowStart = tick.startedAt - this.options.rateWindowMs;
    if (this.truncated) {
      const oldestRead = this.entries?.[0]?.[0];
      return oldestRead ? streamTime(oldestRead) : null;
    }
    const maxLen = this.maxLenEvents ?? DEFAULT_MAX_LEN_EVENTS;
    const trimmed = this.streamLength === null || this.streamLength >= maxLen * 0.9;
    const firstAt = this.firstStreamId ? streamTime(this.firstStreamId) : null;
    if (!trimmed || firstAt === null) return windowStart;
    return Math.max(windowStart, firstAt);
  }
}

function streamEntries(value: unknown, what: string): StreamEntry[] {
  if (!Array.isArray(value))
    throw new DataProblem(
      'BAD_PAYLOAD',
      `${what} returned ${describe(value)}, expected stream entries`,
    );
  const entries: StreamEntry[] = [];
  for (const entry of value) {
    if (Array.isArray(entry) && typeof entry[0] === 'string' && Array.isArray(entry[1])) {
      entries.push([entry[0], entry[1].map(String)]);
    }
  }
  return entries;
}

function field(fields: string[], name: string): string | null {
  for (let index = 0; index + 1 < fields.length; index += 2) {
    if (fields[index] === name) return fields[index + 1] ?? null;
  }
  return null;
}

/** A stream entry id is `<ms>-<sequence>`, the ms being Redis's clock when it was added. */
function streamTime(id: string): number | null {
  const ms = Number(id.split('-')[0]);
  return Number.isFinite(ms) ? ms : null;
}
