import type { QueueSnapshot } from '@qscale/contracts';
import type { MetricsReader } from '../../src/index.js';

/**
 * One snapshot, read straight after the last one: back-to-back reads of a fast local Redis can
 * fall within one millisecond, and what they count must still reach the rates (windows.ts).
 */
export async function nextSnapshot(reader: MetricsReader): Promise<QueueSnapshot | undefined> {
  const [snapshot] = await reader.snapshot();
  return snapshot;
}

/** Reads until the reader has half a second of intervals behind its rates (windows.ts). */
export async function readRates(reader: MetricsReader): Promise<QueueSnapshot | undefined> {
  let snapshot = await nextSnapshot(reader);
  while (snapshot?.completionRate === null) snapshot = await nextSnapshot(reader);
  return snapshot;
}
