import type { QueueSnapshot } from '@qscale/contracts';
import type { MetricsReader } from '../../src/index.js';

/**
 * One snapshot, taken once the clock has moved on from the last one: a rate window drops an
 * interval that starts and ends in the same millisecond (windows.ts), with what it counted, and
 * back-to-back reads of a fast local Redis can take under a millisecond.
 */
export async function nextSnapshot(reader: MetricsReader): Promise<QueueSnapshot | undefined> {
  const last = Date.now();
  while (Date.now() < last + 2) await new Promise((resolve) => setTimeout(resolve, 1));
  const [snapshot] = await reader.snapshot();
  return snapshot;
}

/** Reads until the reader has half a second of intervals behind its rates (windows.ts). */
export async function readRates(reader: MetricsReader): Promise<QueueSnapshot | undefined> {
  let snapshot = await nextSnapshot(reader);
  while (snapshot?.completionRate === null) snapshot = await nextSnapshot(reader);
  return snapshot;
}
