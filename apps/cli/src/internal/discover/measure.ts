import { setTimeout as sleep } from 'node:timers/promises';
import type { QueueSnapshot } from '@qscale/contracts';
import { DEFAULTS as DAEMON_DEFAULTS } from '@qscale/daemon/config';
import { createMetricsReader, type QueueSource } from '@qscale/metrics-reader';
import type { FoundQueue } from './discover.js';

export interface MeasureOptions {
  /** The Redis to read, password included (never written or printed). */
  redisUrl: string;
  /** How long to watch; 0 takes a single snapshot (depths only, no rates). */
  durationMs: number;
  /** Time between snapshots. @defaultValue the daemon's tick (2 s) */
  tickMs?: number;
  /**
   * Finished jobs needed before a run time is reported. Lower than the daemon's 10: a short
   * look at a slow queue still gives a figure to start from. @defaultValue 3
   */
  minSamples?: number;
  /** Called after each snapshot, e.g. for progress. */
  onSnapshot?: (elapsedMs: number) => void;
}

/**
 * Watches the queues for `durationMs` with the metrics reader the daemon uses, read the same
 * way (one reader for the whole time, one `snapshot()` per tick), and returns each queue's last
 * snapshot, in the order of `queues`: rates, run time and pickup latency come from what the
 * reader saw over the whole watch.
 */
export async function measure(
  queues: readonly FoundQueue[],
  options: MeasureOptions,
): Promise<QueueSnapshot[]> {
  const tickMs = options.tickMs ?? DAEMON_DEFAULTS.tickMs;
  const reader = createMetricsReader({
    sources: queues.map((queue, index) => sourceOf(queue, index, options.redisUrl)),
    minSamples: options.minSamples ?? 3,
  });
  try {
    const started = Date.now();
    let last = await reader.snapshot();
    options.onSnapshot?.(0);
    for (let tick = 1; tick * tickMs <= options.durationMs; tick++) {
      // Drift-corrected, as the daemon's ticker: the n-th read is due at n × tick.
      const wait = started + tick * tickMs - Date.now();
      if (wait > 0) await sleep(wait);
      last = await reader.snapshot();
      options.onSnapshot?.(Date.now() - started);
    }
    return last;
  } finally {
    await reader.close();
  }
}

function sourceOf(queue: FoundQueue, index: number, url: string): QueueSource {
  return {
    // Index-named: two systems may both have a queue called `default`.
    queue: `q${index}`,
    driver: queue.driver,
    backendName: queue.name,
    prefix: queue.prefix,
    redis: { url },
  };
}
