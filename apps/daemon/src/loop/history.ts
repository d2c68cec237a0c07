import type { QueueSnapshot } from '@qscale/contracts';

/** One tick's figures for one queue, as the dashboard charts them. */
export interface HistorySample {
  /** Epoch ms of the tick. */
  at: number;
  /** Jobs arriving per second, or null when unknown. */
  arrivalRate: number | null;
  /** Jobs waiting (pending), or null when unknown. */
  backlog: number | null;
  /** Workers the loop decided, or null when it decided nothing this tick. */
  desired: number | null;
  /** Workers running (past their minimum uptime). */
  running: number;
  /** Pickup latency p95 in ms, or null when too few pickups were observed. */
  pickupP95Ms: number | null;
  /** Age of the oldest pending job in ms (null: none waits, or unknown). */
  oldestAgeMs?: number | null;
}

/** The JSON of `/api/history`: per queue, parallel arrays, oldest first; null for unknown. */
export interface HistoryView {
  version: 1;
  now: number;
  windowMs: number;
  bucketMs: number;
  queues: Record<
    string,
    {
      at: number[];
      arrivalRate: (number | null)[];
      backlog: (number | null)[];
      desired: (number | null)[];
      running: (number | null)[];
      pickupP95Ms: (number | null)[];
      oldestAgeMs: (number | null)[];
    }
  >;
}

export const HISTORY_DEFAULTS = {
  /** How far back the charts reach. @defaultValue 1 hour */
  windowMs: 3_600_000,
  /** Points kept per queue over the window (one bucket of windowMs / points each). @defaultValue 720 */
  points: 720,
} as const;

/**
 * One queue's recent figures in fixed-size typed arrays, one slot per time bucket. Ticks that
 * fall in the same bucket are merged (arrivals averaged, backlog, pickup p95 and oldest age kept
 * at their peak so a spike is not smoothed away, workers as last seen). Nothing is allocated per sample.
 */
class QueueSeries {
  readonly at: Float64Array;
  // Float32 is plenty for counts, rates and milliseconds; NaN stands for "unknown".
  readonly arrivalRate: Float32Array;
  readonly backlog: Float32Array;
  readonly desired: Float32Array;
  readonly running: Float32Array;
  readonly pickupP95Ms: Float32Array;
  readonly oldestAgeMs: Float32Array;
  /** Samples merged into each slot (for the running mean of arrivals). */
  readonly merged: Uint16Array;
  /** Index of the newest slot; -1 while empty. */
  head = -1;
  size = 0;
  lastBucket = Number.NEGATIVE_INFINITY;

  constructor(readonly capacity: number) {
    this.at = new Float64Array(capacity);
    this.arrivalRate = new Float32Array(capacity);
    this.backlog = new Float32Array(capacity);
    this.desired = new Float32Array(capacity);
    this.running = new Float32Array(capacity);
    this.pickupP95Ms = new Float32Array(capacity);
    this.oldestAgeMs = new Float32Array(capacity);
    this.merged = new Uint16Array(capacity);
  }

  /** Figures as plain arguments (NaN: unknown), so a tick allocates nothing to record them. */
  record(
    at: number,
    arrivalRate: number,
    backlog: number,
    desired: number,
    running: number,
    pickupP95Ms: number,
    oldestAgeMs: number,
    bucketMs: number,
  ): void {
    const bucket = Math.floor(at / bucketMs);
    if (bucket !== this.lastBucket || this.head === -1) {
      this.head = (this.head + 1) % this.capacity;
      if (this.size < this.capacity) this.size++;
      this.lastBucket = bucket;
      const slot = this.head;
      this.at[slot] = bucket * bucketMs;
      this.arrivalRate[slot] = arrivalRate;
      this.backlog[slot] = backlog;
      this.desired[slot] = desired;
      this.running[slot] = running;
      this.pickupP95Ms[slot] = pickupP95Ms;
      this.oldestAgeMs[slot] = oldestAgeMs;
      this.merged[slot] = Number.isNaN(arrivalRate) ? 0 : 1;
      return;
    }
    const slot = this.head;
    if (!Number.isNaN(arrivalRate)) {
      const count = this.merged[slot] ?? 0;
      const mean = count === 0 ? 0 : (this.arrivalRate[slot] ?? 0);
      this.arrivalRate[slot] = (mean * count + arrivalRate) / (count + 1);
      this.merged[slot] = Math.min(count + 1, 0xffff);
    }
    this.backlog[slot] = peak(this.backlog[slot], backlog);
    this.pickupP95Ms[slot] = peak(this.pickupP95Ms[slot], pickupP95Ms);
    this.oldestAgeMs[slot] = peak(this.oldestAgeMs[slot], oldestAgeMs);
    if (!Number.isNaN(desired)) this.desired[slot] = desired;
    this.running[slot] = running;
  }
}

/** The larger of two figures where NaN means unknown. */
function peak(stored: number | undefined, next: number): number {
  if (stored === undefined || Number.isNaN(stored)) return next;
  return Number.isNaN(next) ? stored : Math.max(stored, next);
}

/** null (unknown) as NaN, for the typed arrays. */
function orNaN(value: number | null | undefined): number {
  return value ?? Number.NaN;
}

/**
 * The last hour (by default) of every queue, for the dashboard's charts: memory is fixed per
 * queue (about 24 KB of arrays for 720 points), whatever the tick, and a queue no longer recorded for a
 * whole window is forgotten.
 */
export class QueueHistory {
  readonly windowMs: number;
  readonly points: number;
  readonly bucketMs: number;
  readonly #series = new Map<string, QueueSeries>();

  constructor(options: { windowMs?: number; points?: number } = {}) {
    this.windowMs = options.windowMs ?? HISTORY_DEFAULTS.windowMs;
    this.points = options.points ?? HISTORY_DEFAULTS.points;
    if (!Number.isInteger(this.points) || this.points < 2) {
      throw new RangeError(`history points must be a whole number >= 2, got ${this.points}`);
    }
    if (!(this.windowMs >= this.points)) {
      throw new RangeError(
        `history window must be at least ${this.points} ms (one per point), got ${this.windowMs}`,
      );
    }
    this.bucketMs = Math.ceil(this.windowMs / this.points);
  }

  /** Records one tick of one queue: O(1), no allocation once the queue has its series. */
  record(queue: string, sample: HistorySample): void {
    this.#seriesOf(queue).record(
      sample.at,
      orNaN(sample.arrivalRate),
      orNaN(sample.backlog),
      orNaN(sample.desired),
      sample.running,
      orNaN(sample.pickupP95Ms),
      orNaN(sample.oldestAgeMs),
      this.bucketMs,
    );
  }

  /** Records a tick from a snapshot, as the loop sees it. */
  recordSnapshot(snapshot: QueueSnapshot, running: number, desired: number | null): void {
    const readable = !snapshot.error;
    this.#seriesOf(snapshot.queue).record(
      snapshot.at,
      readable ? orNaN(snapshot.arrivalRate) : Number.NaN,
      readable ? orNaN(snapshot.pending) : Number.NaN,
      orNaN(desired),
      running,
      readable ? orNaN(snapshot.pickupLatencyMs?.p95) : Number.NaN,
      readable ? orNaN(snapshot.oldestPendingAgeMs) : Number.NaN,
      this.bucketMs,
    );
  }

  #seriesOf(queue: string): QueueSeries {
    let series = this.#series.get(queue);
    if (!series) {
      series = new QueueSeries(this.points);
      this.#series.set(queue, series);
    }
    return series;
  }

  /** Forgets queues whose newest point left the window (removed by a reload). */
  prune(now: number): void {
    // forEach, not for-of over entries: no [key, value] array per queue and tick.
    this.#series.forEach((series, queue) => {
      if (series.head === -1 || (series.at[series.head] ?? 0) < now - this.windowMs) {
        this.#series.delete(queue);
      }
    });
  }

  get queues(): number {
    return this.#series.size;
  }

  /**
   * Points within the window, oldest first. `since` (epoch ms) keeps only buckets starting at
   * or after it, so a page that polls asks for what is new (the newest bucket may have grown:
   * it comes again and replaces the old one). `queues` limits the answer to those names.
   */
  view(now: number, options: { since?: number; queues?: readonly string[] } = {}): HistoryView {
    const from = Math.max(now - this.windowMs, options.since ?? Number.NEGATIVE_INFINITY);
    const queues: HistoryView['queues'] = {};
    const names = options.queues ?? [...this.#series.keys()];
    for (const name of names) {
      const series = this.#series.get(name);
      if (!series) continue;
      const out = {
        at: [] as number[],
        arrivalRate: [] as (number | null)[],
        backlog: [] as (number | null)[],
        desired: [] as (number | null)[],
        running: [] as (number | null)[],
        pickupP95Ms: [] as (number | null)[],
        oldestAgeMs: [] as (number | null)[],
      };
      for (let i = series.size - 1; i >= 0; i--) {
        const slot = (series.head - i + series.capacity) % series.capacity;
        const at = series.at[slot] ?? 0;
        if (at < from) continue;
        out.at.push(at);
        out.arrivalRate.push(known(series.arrivalRate[slot]));
        out.backlog.push(known(series.backlog[slot]));
        out.desired.push(known(series.desired[slot]));
        out.running.push(known(series.running[slot]));
        out.pickupP95Ms.push(known(series.pickupP95Ms[slot]));
        out.oldestAgeMs.push(known(series.oldestAgeMs[slot]));
      }
      queues[name] = out;
    }
    return { version: 1, now, windowMs: this.windowMs, bucketMs: this.bucketMs, queues };
  }
}

/** A stored figure for JSON: NaN (unknown) becomes null; float32 noise is rounded off. */
function known(value: number | undefined): number | null {
  if (value === undefined || Number.isNaN(value)) return null;
  return Math.round(value * 1000) / 1000;
}
