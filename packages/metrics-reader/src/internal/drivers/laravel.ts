import { z } from 'zod';
import type { MetricsReaderErrorCode } from '../../errors.js';
import type { Batch } from '../batch.js';
import type { Command, Prepared, Sendable } from '../connection.js';
import { ListMarkers, type MarkerReading } from '../markers.js';
import type { ResolvedSource } from '../options.js';
import {
  DataProblem,
  describe,
  exceedsBytes,
  LastParsed,
  parseJsonObject,
  secondsToMs,
} from '../payload.js';
import { QueueReader, type ReaderContext, type Tick } from '../queue-reader.js';
import { type Interval, LaravelTimeline } from './laravel-timeline.js';

/**
 * The fields of a Laravel payload the reader uses. Laravel 12.11+ stamps `createdAt` (integer
 * seconds) and `delay`; Horizon stamps `pushedAt` (a string of float seconds). Laravel 10-12.10
 * payloads carry no timestamp at all.
 */
const payloadSchema = z.looseObject({
  uuid: z.string().optional(),
  id: z.union([z.string(), z.number()]).optional(),
  attempts: z.number().int().nonnegative().optional(),
  createdAt: z.number().optional(),
  pushedAt: z.union([z.string(), z.number()]).optional(),
  delay: z.number().nullable().optional(),
  timeout: z.number().nullable().optional(),
});
type Payload = z.infer<typeof payloadSchema>;

/**
 * Widest span (ms) a pickup or run time may be known within to be recorded: beyond it (the
 * probe off, or delayed), tick-wide guesses would pass for measurements, so none is taken.
 */
const MAX_SPAN_MS = 1_000;

/**
 * The probe stops while the reserved set holds more than this (payload bytes): big running
 * jobs would cost their size ten times a second. Ticks still read it; the timeline has a gap.
 */
const PROBE_MAX_RESERVED_BYTES = 65_536;

/**
 * A head too large to parse, kept instead of read again while it provably stays the head: a
 * list marker found at the same distance from the head (nothing taken, nothing put in front),
 * or, in a list of that one job, the same length and the same MEMORY USAGE.
 */
interface OversizeHead {
  /** The PAYLOAD_TOO_LARGE message of the read that found it, repeated while it is kept. */
  message: string;
  /** MEMORY USAGE of the list when it held only this job; null when it held more. */
  memoryBytes: number | null;
}

/** Integer seconds carry up to a second of truncation: read them as the middle of that second. */
const HALF_SECOND_MS = 500;

/**
 * Laravel's Redis queue (plain and Horizon payloads, Laravel 10-13): `queues:{name}` (list,
 * RPUSH/LPOP), `:delayed` and `:reserved` (sorted sets scored in unix seconds). Laravel keeps
 * no counters, so the reader observes: new members of the reserved set are pickups (their
 * score is the reservation time plus `retry_after`, an offset it learns), members that leave
 * it finished, and list markers count the jobs taken while a backlog persists.
 */
export class LaravelReader extends QueueReader {
  protected readonly reportsFailed = false;
  private readonly key: string;
  private readonly markers: ListMarkers;
  private readonly timeline: LaravelTimeline;
  /** Payload bytes of the reserved set at the last sighting. */
  private reservedBytes = 0;
  /** Problems a probe found between ticks, reported by the next snapshot. */
  private carried: { code: MetricsReaderErrorCode; message: string }[] = [];
  /** The head of a backlog is the same job tick after tick: parse it once. */
  private readonly head$ = new LastParsed<Payload>();
  private oversizeHead: OversizeHead | null = null;
  /** LLEN at the last read (null before it or after a failed one). */
  private lastLength: number | null = null;

  // Replies of the current tick.
  private length: number | null = null;
  private delayedTotal: number | null = null;
  private due: number | null = null;
  private reservedTotal: number | null = null;
  private expired: number | null = null;
  private head: string | null = null;
  private headRead = false;
  /** The head is the oversize one kept from an earlier read (not read this tick). */
  private headKept = false;
  /** LINDEX 0 was left out of the first round trip: the head is kept unless shown to change. */
  private headSkipped = false;
  private memoryBytes: number | null = null;
  private oldestDueScore: number | null = null;
  private oldestExpiredScore: number | null = null;
  private window: [string, number][] | null = null;

  private readonly commands: Record<'llen' | 'delayed' | 'reserved' | 'head' | 'window', Prepared>;

  constructor(source: ResolvedSource, context: ReaderContext) {
    super(source, context);
    const key = `${source.prefix}queues:${source.backendName}`;
    this.key = key;
    this.timeline = new LaravelTimeline(source.retryAfter);
    if (source.probeIntervalMs > 0) {
      this.arrivalSource = 'observed';
      this.completionSource = 'observed';
    }
    this.markers = new ListMarkers(
      key,
      'head',
      context.options.markerChecksPerTick,
      context.options.maxPayloadBytes,
    );
    this.commands = {
      llen: this.prepare('llen', key),
      delayed: this.prepare('zcard', `${key}:delayed`),
      reserved: this.prepare('zcard', `${key}:reserved`),
      head: this.prepare('lindex', key, 0),
      window: this.prepare(
        'zrevrange',
        `${key}:reserved`,
        0,
        context.options.maxJobsPerTick - 1,
        'WITHSCORES',
      ),
    };
  }

  readyCommands(nowMs: number): Sendable[] {
    const nowSec = Math.floor(nowMs / 1000);
    // Ready, due delayed, and reservations whose retry_after passed: all pending for Laravel.
    return [
      this.commands.llen,
      ['zcount', `${this.key}:delayed`, '-inf', nowSec],
      ['zcount', `${this.key}:reserved`, '-inf', nowSec],
    ];
  }

  plan(batch: Batch, tick: Tick): void {
    const key = this.key;
    const nowSec = Math.floor(tick.startedAt / 1000);
    const limit = this.options.maxJobsPerTick;
    this.length = this.delayedTotal = this.due = this.reservedTotal = this.expired = null;
    this.head = null;
    this.headRead = false;
    this.headKept = false;
    this.headSkipped = this.oversizeHead !== null;
    this.memoryBytes = null;
    this.oldestDueScore = this.oldestExpiredScore = null;
    this.window = null;

    const commands = this.commands;
    this.read(batch, commands.llen, ['pending', 'oldestPendingAgeMs', 'arrivalRate'], (v) => {
      this.length = this.count(v, 'LLEN', key);
    });
    this.read(batch, commands.delayed, ['delayed'], (v) => {
      this.delayedTotal = this.count(v, 'ZCARD', `${key}:delayed`);
    });
    this.read(
      batch,
      ['zcount', `${key}:delayed`, '-inf', nowSec],
      ['pending', 'delayed', 'oldestPendingAgeMs', 'arrivalRate'],
      (v) => {
        this.due = this.count(v, 'ZCOUNT', `${key}:delayed`);
        this.lastDue = this.due;
      },
    );
    // While the reserved set fits in one read (the window below), its count, expired members
    // and oldest expiry come from that read; these three are only needed beyond.
    const large = this.windowFull !== false;
    if (large) {
      this.read(batch, commands.reserved, ['active', 'arrivalRate', 'completionRate'], (v) => {
        this.reservedTotal = this.count(v, 'ZCARD', `${key}:reserved`);
      });
      this.read(
        batch,
        ['zcount', `${key}:reserved`, '-inf', nowSec],
        ['pending', 'active', 'oldestPendingAgeMs', 'arrivalRate'],
        (v) => {
          this.expired = this.count(v, 'ZCOUNT', `${key}:reserved`);
        },
      );
    }
    // A lone oversize job is also the newest: neither end is read again while it stays.
    const lone = this.headSkipped && this.lastLength === 1;
    if (!this.headSkipped) this.readHead(batch);
    else if (lone) this.readMemoryUsage(batch);
    this.markers.plan(batch, this.markerFailed, lone);
    // The oldest due job is only read while some were due: one that became due since the last
    // tick has waited less than a tick, within the accuracy of the age anyway.
    if (this.lastDue !== 0) {
      this.read(
        batch,
        ['zrange', `${key}:delayed`, '-inf', nowSec, 'BYSCORE', 'LIMIT', 0, 1, 'WITHSCORES'],
        ['oldestPendingAgeMs'],
        (v) => {
          this.oldestDueScore = firstScore(v);
        },
      );
    }
    if (large) {
      this.read(
        batch,
        ['zrange', `${key}:reserved`, '-inf', nowSec, 'BYSCORE', 'LIMIT', 0, 1, 'WITHSCORES'],
        ['oldestPendingAgeMs'],
        (v) => {
          this.oldestExpiredScore = firstScore(v);
        },
      );
    }
    this.read(
      batch,
      commands.window,
      ['pickupLatencyMs', 'serviceTimeMs', ...(large ? [] : (['active', 'pending'] as const))],
      (v) => {
        const window = pairs(v, `ZREVRANGE ${key}:reserved`);
        this.window = window;
        if (window.length < limit) {
          // The whole reserved set: count it and its expired members here.
          let expired = 0;
          let oldest: number | null = null;
          for (const [, score] of window) {
            if (score <= nowSec) {
              expired++;
              oldest = oldest === null ? score : Math.min(oldest, score);
            }
          }
          this.reservedTotal = window.length;
          this.expired = expired;
          this.oldestExpiredScore = oldest;
        } else if (!large) {
          // Grown past one read since the last tick: exact again from the next tick.
          this.draft.unknown.add('active');
          this.draft.unknown.add('pending');
        }
        this.windowFull = window.length >= limit;
      },
    );
  }

  private readonly markerFailed = (command: Command, error: Error): void =>
    this.commandFailed(command, error, ['arrivalRate', 'completionRate']);

  private readHead(batch: Batch): void {
    this.read(batch, this.commands.head, ['oldestPendingAgeMs'], (v) => {
      this.head = typeof v === 'string' ? v : null;
      this.headRead = true;
    });
  }

  private readMemoryUsage(batch: Batch): void {
    this.read(batch, ['memory', 'usage', this.key, 'SAMPLES', 0], ['oldestPendingAgeMs'], (v) => {
      this.memoryBytes = v === null ? null : this.count(v, 'MEMORY USAGE', this.key);
    });
  }

  /**
   * Second round trip, only around an oversize head: keeps a skipped head that provably did
   * not change (or reads it after all), and fingerprints a lone one just found too large.
   */
  override planDetails(batch: Batch): void {
    const kept = this.oversizeHead;
    if (kept && this.headSkipped) {
      const same =
        this.length !== null &&
        (this.lastLength === 1
          ? this.length === 1 && this.memoryBytes !== null && this.memoryBytes === kept.memoryBytes
          : this.markers.oldEndUnchanged());
      if (same) {
        this.headKept = true;
        this.headRead = true;
        return;
      }
      this.oversizeHead = null;
      this.readHead(batch);
      if (this.length === 1) this.readMemoryUsage(batch);
      // The newest job was skipped with a lone head: read it now, so a job that arrived
      // behind it becomes a marker at once.
      if (this.lastLength === 1) this.markers.planNewest(batch, this.markerFailed);
    } else if (
      this.length === 1 &&
      this.head !== null &&
      exceedsBytes(this.head, this.options.maxPayloadBytes)
    ) {
      this.readMemoryUsage(batch);
    }
  }

  /** Whether the last reserved window was full (null before the first read). */
  private windowFull: boolean | null = null;
  /** Due jobs at the last read (null before the first read). */
  private lastDue: number | null = null;

  protected finish(tick: Tick): void {
    const { readAt, startedAt } = tick;
    const draft = this.draft;
    const expired = this.expired ?? 0;
    const due = this.due ?? 0;

    const pending =
      this.length !== null && this.due !== null && this.expired !== null
        ? this.length + due + expired
        : null;
    const active = this.reservedTotal !== null ? Math.max(0, this.reservedTotal - expired) : null;
    draft.set('pending', pending, 'counter');
    draft.set(
      'delayed',
      this.delayedTotal !== null ? Math.max(0, this.delayedTotal - due) : null,
      'counter',
    );
    draft.set('active', active, 'counter');

    const markerReading = this.markers.observe(
      readAt,
      this.length,
      this.headKept ? (this.oversizeHead?.message ?? null) : this.head,
    );
    for (const { code, message } of this.carried.splice(0)) {
      this.draft.problem(code, message, ['pickupLatencyMs']);
    }
    this.observeTick(tick);
    this.guard(['oldestPendingAgeMs'], () => this.oldestAge(startedAt, markerReading));
    this.lastLength = this.length;
  }

  protected override onUnreadable(): void {
    this.timeline.reset();
    this.oversizeHead = null;
    this.lastLength = null;
  }

  private oldestAge(now: number, markers: MarkerReading): void {
    const draft = this.draft;
    if (this.length === null || !this.headRead) return;
    if (this.headKept && this.oversizeHead) {
      draft.problem('PAYLOAD_TOO_LARGE', this.oversizeHead.message, ['oldestPendingAgeMs']);
      return;
    }
    const candidates: number[] = [];
    let source: 'counter' | 'estimate' = 'counter';
    if (this.oldestDueScore !== null) candidates.push(this.oldestDueScore * 1000);
    if (this.oldestExpiredScore !== null) candidates.push(this.oldestExpiredScore * 1000);
    if (this.head !== null) {
      const payload = this.parseHead(this.head);
      const readyAt = payload ? this.readyAt(payload) : null;
      if (readyAt !== null) {
        candidates.push(readyAt);
      } else if (payload && this.isFresh(payload) && !this.hasTimestamp(payload)) {
        // Seen entering the list (by this tick's read or a probe), else by a marker.
        const arrival = this.timeline.oldestEntry() ?? markers.oldestArrival?.estimateMs;
        if (arrival !== undefined) {
          candidates.push(arrival);
          source = 'estimate';
        }
      } else if (payload) {
        // A retried or migrated job: it became ready when it re-entered the list.
        const arrival = this.timeline.oldestEntry() ?? markers.oldestArrival?.estimateMs;
        const fallback = this.baseTime(payload);
        if (arrival !== undefined) {
          candidates.push(arrival);
        } else if (fallback !== null) {
          candidates.push(fallback);
        }
        source = 'estimate';
      } else {
        // The head payload is unreadable; the problem is recorded.
        return;
      }
    }
    if (this.length + (this.due ?? 0) + (this.expired ?? 0) === 0) {
      draft.set('oldestPendingAgeMs', 0, 'counter');
      return;
    }
    if (candidates.length === 0) {
      if (this.head !== null) {
        draft.problem(
          'MISSING_TIMESTAMP',
          `the oldest job of ${this.key} carries no createdAt or pushedAt and has not been seen arriving yet`,
          ['oldestPendingAgeMs'],
        );
      }
      return;
    }
    draft.set('oldestPendingAgeMs', Math.max(0, now - Math.min(...candidates)), source);
  }

  /**
   * Feeds the tick's read to the timeline (like a probe's): the reserved window must hold the
   * whole set, or nothing can be followed and the timeline starts again.
   */
  private observeTick(tick: Tick): void {
    const window = this.window;
    if (
      window === null ||
      this.length === null ||
      this.delayedTotal === null ||
      window.length >= this.options.maxJobsPerTick
    ) {
      this.timeline.reset();
      return;
    }
    this.reservedBytes = bytesOf(window);
    this.absorb(
      this.timeline.observe({
        from: tick.startedAt,
        to: tick.readAt,
        length: this.length,
        delayed: this.delayedTotal,
        reserved: window,
      }),
    );
  }

  /**
   * The sub-tick probe's commands: the keys that carry timing, nothing else. None while big
   * jobs are reserved (see PROBE_MAX_RESERVED_BYTES).
   */
  probeCommands(): Sendable[] {
    if (this.reservedBytes > PROBE_MAX_RESERVED_BYTES) return [];
    return [this.commands.llen, this.commands.delayed, this.commands.window];
  }

  /** The probe's replies, read between `from` and `to`; a failed or partial one is a gap. */
  probed(replies: readonly unknown[], from: number, to: number): void {
    const [length, delayed, window] = replies;
    try {
      const reserved = pairs(window, `ZREVRANGE ${this.key}:reserved`);
      if (reserved.length >= this.options.maxJobsPerTick) throw new Error('window full');
      this.reservedBytes = bytesOf(reserved);
      const known = this.draft.problems.length;
      this.absorb(
        this.timeline.observe({
          from,
          to,
          length: this.count(length, 'LLEN', this.key),
          delayed: this.count(delayed, 'ZCARD', `${this.key}:delayed`),
          reserved,
        }),
      );
      this.carried.push(...this.draft.problems.splice(known));
    } catch {
      // Unreadable now: the next tick reports why; the timeline bridges no gap.
      this.timeline.reset();
    }
  }

  /** Turns what happened between two sightings into rates and samples. */
  private absorb(interval: Interval | null): void {
    if (interval === null) return;
    // With the probe on, a gap wider than MAX_SPAN_MS (the probe paused or starved) may hide
    // whole jobs: it is left out of the rates (a gap, not a zero) rather than undercount them
    // under the label `observed`. With the probe off, every gap is counted, as an estimate.
    const wide = interval.to - interval.from > MAX_SPAN_MS;
    if (!wide || this.source.probeIntervalMs === 0) {
      this.arrivals.add(interval.from, interval.to, interval.arrivals);
      this.completions.add(interval.from, interval.to, interval.finishes);
    }
    for (const run of interval.runs) {
      if (run.widthMs <= MAX_SPAN_MS) this.services.add(run.runMs, run.at);
    }
    const waits = new Map(interval.pickups.map((pickup) => [pickup.member, pickup]));
    for (const { member, at } of interval.reservations) {
      const payload = this.parse(member, `ZREVRANGE ${this.key}:reserved`, ['pickupLatencyMs']);
      const readyAt =
        payload && payload.attempts === 1 ? this.readyAt({ ...payload, attempts: 0 }) : null;
      if (readyAt !== null) {
        // Created (Laravel 12.11+) or pushed (Horizon) at a known time.
        this.pickups.add(at - readyAt, at);
        continue;
      }
      const wait = waits.get(member);
      if (wait && wait.widthMs <= MAX_SPAN_MS) this.pickups.add(wait.waitMs, wait.at);
    }
  }

  private parse(
    raw: string,
    where: string,
    figures: readonly ('oldestPendingAgeMs' | 'pickupLatencyMs')[],
  ): Payload | null {
    try {
      return this.payload(raw, where);
    } catch (error) {
      this.dataFailed(error, figures);
      return null;
    }
  }

  /** The head's payload; one too large to parse is remembered, so it is not read again. */
  private parseHead(raw: string): Payload | null {
    const where = `LINDEX ${this.key} 0`;
    try {
      return this.head$.get(raw, (text) => this.payload(text, where));
    } catch (error) {
      if (error instanceof DataProblem && error.code === 'PAYLOAD_TOO_LARGE') {
        this.oversizeHead = {
          message: error.message,
          memoryBytes: this.length === 1 ? this.memoryBytes : null,
        };
      }
      this.dataFailed(error, ['oldestPendingAgeMs']);
      return null;
    }
  }

  private payload(raw: string, where: string): Payload {
    const json = parseJsonObject(raw, where, this.options.maxPayloadBytes);
    const parsed = payloadSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new DataProblem(
        'BAD_PAYLOAD',
        `${where} holds a job whose ${issue?.path.join('.') || 'payload'} is not what Laravel writes (${issue?.message ?? 'invalid'})`,
      );
    }
    return parsed.data;
  }

  private isFresh(payload: Payload): boolean {
    return (payload.attempts ?? 0) === 0;
  }

  private hasTimestamp(payload: Payload): boolean {
    return payload.pushedAt !== undefined || payload.createdAt !== undefined;
  }

  /** Creation time: Horizon's sub-second pushedAt, else the framework's whole-second createdAt. */
  private baseTime(payload: Payload): number | null {
    if (payload.pushedAt !== undefined) {
      const pushed = secondsToMs(payload.pushedAt);
      if (pushed === null) {
        throw new DataProblem(
          'BAD_PAYLOAD',
          `pushedAt in ${this.key} is ${describe(payload.pushedAt)}, expected a number of seconds`,
        );
      }
      return pushed;
    }
    if (payload.createdAt !== undefined) return payload.createdAt * 1000 + HALF_SECOND_MS;
    return null;
  }

  /** When a job that was never attempted became ready: created, plus its dispatch delay. */
  private readyAt(payload: Payload): number | null {
    if (!this.isFresh(payload)) return null;
    const base = this.baseTime(payload);
    if (base === null) return null;
    return base + (payload.delay ?? 0) * 1000;
  }
}

/** The score of the first member of a WITHSCORES reply, or null when empty. */
function firstScore(value: unknown): number | null {
  if (!Array.isArray(value) || value.length < 2) return null;
  const score = Number(value[1]);
  return Number.isFinite(score) ? score : null;
}

/** Total length of the members of a WITHSCORES reply (their payloads). */
function bytesOf(pairs: readonly [string, number][]): number {
  let total = 0;
  for (const [member] of pairs) total += member.length;
  return total;
}

/** A WITHSCORES reply as [member, score] pairs. */
function pairs(value: unknown, what: string): [string, number][] {
  if (!Array.isArray(value)) {
    throw new DataProblem('BAD_PAYLOAD', `${what} returned no list`);
  }
  const result: [string, number][] = [];
  for (let index = 0; index + 1 < value.length; index += 2) {
    result.push([String(value[index]), Number(value[index + 1])]);
  }
  return result;
}
