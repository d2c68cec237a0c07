import { DDSketch } from '@datadog/sketches-js';

/** Relative accuracy of the percentile sketches: 1 %. */
const RELATIVE_ACCURACY = 0.01;
const SLICES = 10;

export interface SketchSummary {
  count: number;
  mean: number;
  quantile(q: number): number;
}

/**
 * Durations over a sliding time window, for percentiles. The window is cut into slices, each a
 * DDSketch (bounded memory, 1 % relative accuracy); old slices fall off whole. The merged
 * summary is cached until a sample arrives or a slice expires.
 */
export class SlidingSketch {
  private readonly sliceMs: number;
  private readonly slices = new Map<number, DDSketch>();
  private cached: { key: string; summary: SketchSummary | null } | null = null;
  private version = 0;

  constructor(private readonly windowMs: number) {
    this.sliceMs = Math.max(1, Math.ceil(windowMs / SLICES));
  }

  /** Adds a duration observed at `atMs`, standing for `weight` jobs (1 unless sampled). */
  add(valueMs: number, atMs: number, weight = 1): void {
    if (!Number.isFinite(valueMs) || !Number.isFinite(atMs) || !(weight > 0)) return;
    const slice = Math.floor(atMs / this.sliceMs);
    let sketch = this.slices.get(slice);
    if (!sketch) {
      sketch = new DDSketch({ relativeAccuracy: RELATIVE_ACCURACY });
      this.slices.set(slice, sketch);
    }
    // Clock skew between producers and Redis can make a wait slightly negative.
    sketch.accept(Math.max(0, valueMs), weight);
    this.version++;
  }

  summary(nowMs: number): SketchSummary | null {
    const oldest = Math.floor((nowMs - this.windowMs) / this.sliceMs);
    for (const slice of this.slices.keys()) {
      if (slice < oldest) {
        this.slices.delete(slice);
        this.version++;
      }
    }
    const key = `${this.version}`;
    if (this.cached?.key === key) return this.cached.summary;
    let merged: DDSketch | null = null;
    for (const sketch of this.slices.values()) {
      if (!merged) {
        merged = new DDSketch({ relativeAccuracy: RELATIVE_ACCURACY });
      }
      merged.merge(sketch);
    }
    let summary: SketchSummary | null = null;
    if (merged && merged.count > 0) {
      const sketch = merged;
      const quantiles = new Map<number, number>();
      summary = {
        count: Math.round(sketch.count),
        mean: sketch.sum / sketch.count,
        quantile: (q) => {
          let value = quantiles.get(q);
          if (value === undefined) {
            value = sketch.getValueAtQuantile(q);
            quantiles.set(q, value);
          }
          return value;
        },
      };
    }
    this.cached = { key, summary };
    return summary;
  }
}

/** A rate over less than this is noise, not a rate. */
const MIN_COVERED_MS = 500;

interface Interval {
  startMs: number;
  endMs: number;
  count: number;
}

/**
 * Events per second over a sliding window, from counts over known intervals (added in time
 * order). An interval whose count is unknown is simply absent, so gaps (Redis down, nothing
 * measurable) do not drag the rate towards zero. Running totals keep a query O(1): only the
 * oldest interval can straddle the window's start, and it is counted pro rata.
 */
export class RateWindow {
  private readonly intervals: Interval[] = [];
  private head = 0;
  private totalCount = 0;
  private totalMs = 0;
  /** Counted over no time (see `add`), waiting for the next interval. */
  private carried = 0;

  constructor(private readonly windowMs: number) {}

  add(startMs: number, endMs: number, count: number): void {
    if (!Number.isFinite(count) || !Number.isFinite(startMs) || !(endMs >= startMs)) return;
    if (endMs === startMs) {
      // Two reads within one millisecond: no time to spread the events over, but they
      // happened. They join the interval that ended then, or else the next one.
      const last = this.intervals.at(-1);
      if (last && this.intervals.length > this.head && last.endMs === startMs) {
        last.count += count;
        this.totalCount += count;
      } else this.carried += count;
      return;
    }
    count += this.carried;
    this.carried = 0;
    this.intervals.push({ startMs, endMs, count });
    this.totalCount += count;
    this.totalMs += endMs - startMs;
  }

  /** Jobs per second over the window ending at `nowMs`; null when too little is known. */
  rate(nowMs: number): number | null {
    const rate = this.signedRate(nowMs);
    // Conservation estimates can dip below zero over a short span; a rate cannot.
    return rate === null ? null : Math.max(0, rate);
  }

  /** Like `rate`, but keeps the sign (for a growth rate). */
  signedRate(nowMs: number): number | null {
    const { count, coveredMs } = this.covered(nowMs);
    return coveredMs >= MIN_COVERED_MS ? (count * 1000) / coveredMs : null;
  }

  /** Time the known intervals cover inside the window. */
  coveredMs(nowMs: number): number {
    return this.covered(nowMs).coveredMs;
  }

  private covered(nowMs: number): { count: number; coveredMs: number } {
    const from = nowMs - this.windowMs;
    // Intervals wholly before the window leave the totals for good.
    while (this.head < this.intervals.length) {
      const oldest = this.intervals[this.head] as Interval;
      if (oldest.endMs > from) break;
      this.totalCount -= oldest.count;
      this.totalMs -= oldest.endMs - oldest.startMs;
      this.head++;
    }
    if (this.head > 64 && this.head * 2 > this.intervals.length) {
      this.intervals.splice(0, this.head);
      this.head = 0;
    }
    let count = this.totalCount;
    let coveredMs = this.totalMs;
    const first = this.intervals[this.head];
    if (first && first.startMs < from) {
      const outside = from - first.startMs;
      count -= (first.count * outside) / (first.endMs - first.startMs);
      coveredMs -= outside;
    }
    // Asked about an earlier moment than the newest interval's end: count it pro rata too.
    const last = this.intervals.at(-1);
    if (last && last.endMs > nowMs && this.intervals.length > this.head) {
      const outside = last.endMs - Math.max(nowMs, last.startMs);
      count -= (last.count * outside) / (last.endMs - last.startMs);
      coveredMs -= outside;
    }
    return { count, coveredMs };
  }
}

/** A Map that forgets its oldest entries beyond `limit` (insertion order). */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(private readonly limit: number) {
    super();
  }

  override set(key: K, value: V): this {
    if (this.has(key)) this.delete(key);
    super.set(key, value);
    while (this.size > this.limit) {
      const oldest = this.keys().next();
      if (oldest.done) break;
      this.delete(oldest.value);
    }
    return this;
  }
}
