import { z } from 'zod';
import { countSchema } from './units.js';

/** The worker processes of one queue, by state, as the supervisor counts them. */
export const workerCountsSchema = z.strictObject({
  /** Up for at least the minimum uptime and taking jobs. */
  running: countSchema,
  /** Spawned, not yet past the minimum uptime (or waiting out a crash backoff). */
  starting: countSchema,
  /** Told to stop, finishing their current job within the grace period. */
  stopping: countSchema,
  /** Jobs one worker runs at the same time (e.g. BullMQ concurrency); 1 for most systems. */
  concurrency: z.number().int().positive(),
});
export type WorkerCounts = z.infer<typeof workerCountsSchema>;
