// Scale-down and flapping figures from a simulation's per-tick series (issue 16).
import type { QueueSeries } from '@qscale/simulator';

/** A stretch where the queue is empty and nothing arrives, at least this long, counts. */
const QUIET_MIN_MS = 60_000;
/** A scale-down undone by a scale-up within this is a flap. */
const FLAP_WINDOW_MS = 60_000;

export interface DrainFigures {
  /**
   * Seconds from the first tick of a quiet stretch (pending 0 and no arrivals since the tick
   * before, for at least a minute) to the first tick with the workers at the queue's minimum;
   * one entry per stretch. A stretch that ends before the minimum is reached counts its length.
   */
  scaleDownS: number[];
  /** Scale-downs followed by a scale-up within a minute. */
  flaps: number;
}

/** The figures of one queue's series; `min` is the queue's minimum workers. */
export function drainFigures(series: QueueSeries, min: number): DrainFigures {
  const scaleDownS: number[] = [];
  const ticks = series.tMs.length;
  let i = 0;
  while (i < ticks) {
    if (!quiet(series, i)) {
      i++;
      continue;
    }
    let end = i;
    while (end + 1 < ticks && quiet(series, end + 1)) end++;
    const startMs = series.tMs[i] as number;
    const endMs = series.tMs[end] as number;
    if (endMs - startMs >= QUIET_MIN_MS) {
      let atMinMs = endMs;
      for (let k = i; k <= end; k++) {
        if ((series.workers[k] as number) <= min) {
          atMinMs = series.tMs[k] as number;
          break;
        }
      }
      scaleDownS.push((atMinMs - startMs) / 1_000);
    }
    i = end + 1;
  }
  let flaps = 0;
  let lastDownMs: number | null = null;
  for (let k = 1; k < ticks; k++) {
    const before = series.workers[k - 1] as number;
    const after = series.workers[k] as number;
    const atMs = series.tMs[k] as number;
    if (after < before) lastDownMs = atMs;
    else if (after > before && lastDownMs !== null && atMs - lastDownMs <= FLAP_WINDOW_MS) {
      flaps++;
      lastDownMs = null;
    }
  }
  return { scaleDownS, flaps };
}

function quiet(series: QueueSeries, i: number): boolean {
  return series.pending[i] === 0 && series.arrivalRate[i] === 0;
}
