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

  add(valueMs: number, atMs: number): void {
    if (!Number.isFinite(valueMs) || !Number.isFinite(atMs)) return;
    const slice = Math.floor(atMs / this.sliceMs);
    let sketch = this.slices.get(slice);
    if (!sketch) {
      sketch = new DDSketch({ relativeAccuracy: RELATIVE_ACCURACY });
      this.slices.set(slice, sketch);
    }
    // Clock skew between producers and Redis can make a wait slightly negative.
    sketch.accept(Math.max(0, valueMs));
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
    const summary: SketchSummary | null =
      merged && merged.count > 0
        ? {
            count: merged.count,
            mean: merged.sum / merged.count,
            quantile: (q) => (merged as DDSketch).getValueAtQuantile(q),
          }
        : null;
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
 * Events per second over a sliding window, from counts over known intervals. An interval
 * whose count is unknown is simply absent, so gaps (Redis down, nothing measurable) do not
 * drag the rate towards zero.
 */
export class RateWindow {
  private intervals: Interval[] = [];

  constructor(private readonly windowMs: number) {}

  add(startMs: number, endMs: number, count: number): void {
    if (!(endMs > startMs) || !Number.isFinite(count)) return;
    this.intervals.push({ startMs, endMs, count });
  }

  /** Jobs per second over the window ending at `nowMs`; null when no interval is known. */
  rate(nowMs: number): number | null {
    const from = nowMs - this.windowMs;
    this.intervals = this.intervals.filter((interval) => interval.endMs > from);
    let count = 0;
    let coveredMs = 0;
    for (const interval of this.intervals) {
      const start = Math.max(interval.startMs, from);
      const end = Math.min(interval.endMs, nowMs);
      if (end <= start) continue;
      const share = (end - start) / (interval.endMs - interval.startMs);
      count += interval.count * share;
      coveredMs += end - start;
    }
    if (coveredMs < MIN_COVERED_MS) return null;
    // Conservation estimates can dip below zero over a short span; a rate cannot.
    return Math.max(0, (count * 1000) / coveredMs);
  }

  /** Like `rate`, but keeps the sign (for a growth rate). */
  signedRate(nowMs: number): number | null {
    const from = nowMs - this.windowMs;
    this.intervals = this.intervals.filter((interval) => interval.endMs > from);
    let count = 0;
    let coveredMs = 0;
    for (const interval of this.intervals) {
      const start = Math.max(interval.startMs, from);
      const end = Math.min(interval.endMs, nowMs);
      if (end <= start) continue;
      count += (interval.count * (end - start)) / (interval.endMs - interval.startMs);
      coveredMs += end - start;
    }
    return coveredMs >= MIN_COVERED_MS ? (count * 1000) / coveredMs : null;
  }

  /** Time the known intervals cover inside the window. */
  coveredMs(nowMs: number): number {
    const from = nowMs - this.windowMs;
    let covered = 0;
    for (const interval of this.intervals) {
      const start = Math.max(interval.startMs, from);
      const end = Math.min(interval.endMs, nowMs);
      if (end > start) covered += end - start;
    }
    return covered;
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
