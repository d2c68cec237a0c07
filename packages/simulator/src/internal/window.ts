/** The last `capacity` (time, value) observations, for figures over a sliding time window. */
export class ObservationWindow {
  private readonly times: Float64Array;
  private readonly values: Float64Array;
  private readonly scratch: Float64Array;
  private next = 0;
  private count = 0;

  constructor(private readonly capacity: number) {
    this.times = new Float64Array(capacity);
    this.values = new Float64Array(capacity);
    this.scratch = new Float64Array(capacity);
  }

  add(time: number, value: number): void {
    this.times[this.next] = time;
    this.values[this.next] = value;
    this.next = (this.next + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  /** The values observed at or after `since`, sorted ascending (a view valid until the next call). */
  sortedSince(since: number): Float64Array {
    let n = 0;
    for (let k = 0; k < this.count; k++) {
      const i = (this.next - 1 - k + this.capacity) % this.capacity;
      if ((this.times[i] as number) < since) break;
      this.scratch[n++] = this.values[i] as number;
    }
    const view = this.scratch.subarray(0, n);
    view.sort();
    return view;
  }
}

/** Nearest-rank percentile of ascending values: the value at index ceil(p/100 n) - 1. */
export function percentileOf(sorted: Float64Array, percentile: number): number {
  const n = sorted.length;
  if (n === 0) return 0;
  const index = Math.min(n - 1, Math.max(0, Math.ceil((percentile / 100) * n) - 1));
  return sorted[index] as number;
}

export function meanOf(values: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] as number;
  return values.length > 0 ? sum / values.length : 0;
}
