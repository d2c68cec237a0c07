import type { QueueFigure } from '@qscale/contracts';
import type { Batch } from '../batch.js';
import type { Command, Sendable } from '../connection.js';
import { ListMarkers } from '../markers.js';
import { DataProblem, exceedsBytes, LastParsed } from '../payload.js';
import type { Draft } from '../queue-reader.js';
import {
  baseTime,
  hasTimestamp,
  isFresh,
  type LaravelPayload,
  parseLaravelPayload,
  readyAt,
} from './laravel-payload.js';

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

/** The reader's ways of queueing a read and reporting a problem (QueueReader's own). */
export interface HeadReads {
  read(
    batch: Batch,
    command: Sendable,
    figures: readonly QueueFigure[],
    handle: (value: unknown) => void,
  ): void;
  count(value: unknown, command: string, key?: string): number;
  commandFailed(command: Command, error: Error, figures: readonly QueueFigure[]): void;
  dataFailed(error: unknown, figures: readonly QueueFigure[]): void;
}

/** What else the oldest age is made of: this tick's counts and the other candidates. */
export interface OldestInputs {
  now: number;
  /** LLEN, due delayed jobs, expired reservations of this tick (null: unknown). */
  length: number | null;
  due: number | null;
  expired: number | null;
  /** Scores (seconds) of the oldest due delayed job and of the oldest expired reservation. */
  oldestDueScore: number | null;
  oldestExpiredScore: number | null;
  /** When the timeline saw the oldest job enter the list (probe or tick), if it did. */
  timelineEntry: number | null;
}

/**
 * The oldest pending age of a Laravel queue: the head of the list (`LINDEX 0`), whose payload
 * tells when it was created when Laravel 12.11+ or Horizon stamped it, and otherwise the list
 * markers (markers.ts), which bracket when the head arrived. A head too large to parse is kept,
 * not read again, while it provably stays the head. Nothing else of the reader uses these reads.
 */
export class LaravelHead {
  private readonly markers: ListMarkers;
  /** The head of a backlog is the same job tick after tick: parse it once. */
  private readonly parsed = new LastParsed<LaravelPayload>();
  private oversize: OversizeHead | null = null;
  /** LLEN at the last read (null before it or after a failed one). */
  private lastLength: number | null = null;

  // Replies of the current tick.
  private head: string | null = null;
  private headRead = false;
  /** The head is the oversize one kept from an earlier read (not read this tick). */
  private headKept = false;
  /** LINDEX 0 was left out of the first round trip: the head is kept unless shown to change. */
  private headSkipped = false;
  private memoryBytes: number | null = null;
  private readonly headCommand: Sendable;

  constructor(
    private readonly key: string,
    private readonly reads: HeadReads,
    private readonly maxPayloadBytes: number,
    markerChecksPerTick: number,
    prepare: (...command: Command) => Sendable,
  ) {
    this.markers = new ListMarkers(key, 'head', markerChecksPerTick, maxPayloadBytes);
    this.headCommand = prepare('lindex', key, 0);
  }

  private readonly markerFailed = (command: Command, error: Error): void =>
    this.reads.commandFailed(command, error, ['arrivalRate', 'completionRate']);

  /** First round trip: the head (unless an oversize one is kept) and the markers. */
  plan(batch: Batch): void {
    this.head = null;
    this.headRead = false;
    this.headKept = false;
    this.headSkipped = this.oversize !== null;
    this.memoryBytes = null;
    // A lone oversize job is also the newest: neither end is read again while it stays.
    const lone = this.headSkipped && this.lastLength === 1;
    if (!this.headSkipped) this.readHead(batch);
    else if (lone) this.readMemoryUsage(batch);
    this.markers.plan(batch, this.markerFailed, lone);
  }

  /**
   * Second round trip, only around an oversize head: keeps a skipped head that provably did
   * not change (or reads it after all), and fingerprints a lone one just found too large.
   */
  planDetails(batch: Batch, length: number | null): void {
    const kept = this.oversize;
    if (kept && this.headSkipped) {
      const same =
        length !== null &&
        (this.lastLength === 1
          ? length === 1 && this.memoryBytes !== null && this.memoryBytes === kept.memoryBytes
          : this.markers.oldEndUnchanged());
      if (same) {
        this.headKept = true;
        this.headRead = true;
        return;
      }
      this.oversize = null;
      this.readHead(batch);
      if (length === 1) this.readMemoryUsage(batch);
      // The newest job was skipped with a lone head: read it now, so a job that arrived
      // behind it becomes a marker at once.
      if (this.lastLength === 1) this.markers.planNewest(batch, this.markerFailed);
    } else if (
      length === 1 &&
      this.head !== null &&
      exceedsBytes(this.head, this.maxPayloadBytes)
    ) {
      this.readMemoryUsage(batch);
    }
  }

  /** Sets (or explains) `oldestPendingAgeMs` in `draft` from this tick's reads. */
  finish(readAt: number, draft: Draft, inputs: OldestInputs): void {
    const markers = this.markers.observe(
      readAt,
      inputs.length,
      this.headKept ? (this.oversize?.message ?? null) : this.head,
    );
    try {
      this.oldestAge(draft, inputs, markers.oldestArrival?.estimateMs ?? null);
    } catch (error) {
      this.reads.dataFailed(error, ['oldestPendingAgeMs']);
    }
    this.lastLength = inputs.length;
  }

  /** The queue could not be read: nothing kept is known to hold any more. */
  reset(): void {
    this.oversize = null;
    this.lastLength = null;
  }

  private readHead(batch: Batch): void {
    this.reads.read(batch, this.headCommand, ['oldestPendingAgeMs'], (v) => {
      this.head = typeof v === 'string' ? v : null;
      this.headRead = true;
    });
  }

  private readMemoryUsage(batch: Batch): void {
    this.reads.read(
      batch,
      ['memory', 'usage', this.key, 'SAMPLES', 0],
      ['oldestPendingAgeMs'],
      (v) => {
        this.memoryBytes = v === null ? null : this.reads.count(v, 'MEMORY USAGE', this.key);
      },
    );
  }

  private oldestAge(draft: Draft, inputs: OldestInputs, markerArrival: number | null): void {
    const { length } = inputs;
    if (length === null || !this.headRead) return;
    if (this.headKept && this.oversize) {
      draft.problem('PAYLOAD_TOO_LARGE', this.oversize.message, ['oldestPendingAgeMs']);
      return;
    }
    const candidates: number[] = [];
    let source: 'counter' | 'estimate' = 'counter';
    if (inputs.oldestDueScore !== null) candidates.push(inputs.oldestDueScore * 1000);
    if (inputs.oldestExpiredScore !== null) candidates.push(inputs.oldestExpiredScore * 1000);
    // Seen entering the list (by a tick's read or a probe), else bracketed by a marker.
    const arrival = inputs.timelineEntry ?? markerArrival;
    if (this.head !== null) {
      const payload = this.parseHead(this.head, length);
      const ready = payload ? readyAt(payload, this.key) : null;
      if (ready !== null) {
        candidates.push(ready);
      } else if (payload && isFresh(payload) && !hasTimestamp(payload)) {
        if (arrival !== null) {
          candidates.push(arrival);
          source = 'estimate';
        }
      } else if (payload) {
        // A retried or migrated job: it became ready when it re-entered the list.
        const fallback = baseTime(payload, this.key);
        if (arrival !== null) {
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
    if (length + (inputs.due ?? 0) + (inputs.expired ?? 0) === 0) {
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
    draft.set('oldestPendingAgeMs', Math.max(0, inputs.now - Math.min(...candidates)), source);
  }

  /** The head's payload; one too large to parse is remembered, so it is not read again. */
  private parseHead(raw: string, length: number): LaravelPayload | null {
    const where = `LINDEX ${this.key} 0`;
    try {
      return this.parsed.get(raw, (text) => parseLaravelPayload(text, where, this.maxPayloadBytes));
    } catch (error) {
      if (error instanceof DataProblem && error.code === 'PAYLOAD_TOO_LARGE') {
        this.oversize = {
          message: error.message,
          memoryBytes: length === 1 ? this.memoryBytes : null,
        };
      }
      this.reads.dataFailed(error, ['oldestPendingAgeMs']);
      return null;
    }
  }
}
