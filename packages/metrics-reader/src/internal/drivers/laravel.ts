import type { MetricsReaderErrorCode } from '../../errors.js';
import type { Batch } from '../batch.js';
import type { Prepared, Sendable } from '../connection.js';
import type { ResolvedSource } from '../options.js';
import { QueueReader, type ReaderContext, type Tick } from '../queue-reader.js';
import { LaravelHead } from './laravel-head.js';
import {
  bytesOf,
  firstScore,
  type LaravelPayload,
  pairs,
  parseLaravelPayload,
  readyAt,
} from './laravel-payload.js';
import { type Interval, LaravelTimeline } from './laravel-timeline.js';

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
 * Laravel's Redis queue (plain and Horizon payloads, Laravel 10-13): `queues:{name}` (list,
 * RPUSH/LPOP), `:delayed` and `:reserved` (sorted sets scored in unix seconds). Laravel keeps
 * no counters, so the reader observes: new members of the reserved set are pickups (their
 * score is the reservation time plus `retry_after`, an offset it learns), and members that
 * leave it finished (laravel-timeline.ts). The oldest pending age comes from the list's head
 * and its markers (laravel-head.ts); payloads are read by laravel-payload.ts.
 */
export class LaravelReader extends QueueReader {
  protected readonly reportsFailed = false;
  private readonly key: string;
  private readonly head: LaravelHead;
  private readonly timeline: LaravelTimeline;
  /** Payload bytes of the reserved set at the last sighting. */
  private reservedBytes = 0;
  /** Problems a probe found between ticks, reported by the next snapshot. */
  private carried: { code: MetricsReaderErrorCode; message: string }[] = [];

  // Replies of the current tick.
  private length: number | null = null;
  private delayedTotal: number | null = null;
  private due: number | null = null;
  private reservedTotal: number | null = null;
  private expired: number | null = null;
  private oldestDueScore: number | null = null;
  private oldestExpiredScore: number | null = null;
  private window: [string, number][] | null = null;

  private readonly commands: Record<'llen' | 'delayed' | 'reserved' | 'window', Prepared>;

  constructor(source: ResolvedSource, context: ReaderContext) {
    super(source, context);
    const key = `${source.prefix}queues:${source.backendName}`;
    this.key = key;
    this.timeline = new LaravelTimeline(source.retryAfter);
    if (source.probeIntervalMs > 0) {
      this.arrivalSource = 'observed';
      this.completionSource = 'observed';
    }
    this.head = new LaravelHead(
      key,
      {
        read: (batch, command, figures, handle) => this.read(batch, command, figures, handle),
        count: (value, command, what) => this.count(value, command, what),
        commandFailed: (command, error, figures) => this.commandFailed(command, error, figures),
        dataFailed: (error, figures) => this.dataFailed(error, figures),
      },
      context.options.maxPayloadBytes,
      context.options.markerChecksPerTick,
      (...command) => this.prepare(...command),
    );
    this.commands = {
      llen: this.prepare('llen', key),
      delayed: this.prepare('zcard', `${key}:delayed`),
      reserved: this.prepare('zcard', `${key}:reserved`),
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
    this.head.plan(batch);
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

  /** Second round trip, only around an oversize head (see LaravelHead). */
  override planDetails(batch: Batch): void {
    this.head.planDetails(batch, this.length);
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

    for (const { code, message } of this.carried.splice(0)) {
      this.draft.problem(code, message, ['pickupLatencyMs']);
    }
    this.observeTick(tick);
    this.head.finish(readAt, draft, {
      now: startedAt,
      length: this.length,
      due: this.due,
      expired: this.expired,
      oldestDueScore: this.oldestDueScore,
      oldestExpiredScore: this.oldestExpiredScore,
      timelineEntry: this.timeline.oldestEntry() ?? null,
    });
  }

  protected override onUnreadable(): void {
    this.timeline.reset();
    this.head.reset();
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
      const ready =
        payload && payload.attempts === 1 ? readyAt({ ...payload, attempts: 0 }, this.key) : null;
      if (ready !== null) {
        // Created (Laravel 12.11+) or pushed (Horizon) at a known time.
        this.pickups.add(at - ready, at);
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
  ): LaravelPayload | null {
    try {
      return parseLaravelPayload(raw, where, this.options.maxPayloadBytes);
    } catch (error) {
      this.dataFailed(error, figures);
      return null;
    }
  }
}
