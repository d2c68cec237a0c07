import type { Batch } from './batch.js';
import type { Tick } from './queue-reader.js';

/**
 * Reads that belong to a connection rather than one queue (Sidekiq's processes, counters and
 * schedules are global): planned once per tick for all the connection's queues of that driver.
 */
export interface SharedReader {
  plan(batch: Batch, tick: Tick): void;
  planDetails(batch: Batch, tick: Tick): void;
  finish(tick: Tick): void;
  /** The connection could not be read this tick. */
  failed(): void;
}
