import { z } from 'zod';
import { recommendationSchema, scalingContextSchema, workerBoundsSchema } from './scaling.js';
import { durationMsSchema, epochMsSchema } from './units.js';
import { workerCountsSchema } from './workers.js';

/**
 * How one worker process of a group divides its time among the group's queues, as the backend
 * fetches jobs:
 * - `priority`: members in order, a worker always takes from the first non-empty queue
 *   (Laravel `queue:work --queue=high,default`, RQ `rq worker high default`);
 * - `weighted`: Sidekiq's weighted fetch: each fetch tries the queues in a weighted-random order
 *   and takes from the first non-empty one, so a backlogged queue gets `weight / sum of the
 *   backlogged queues' weights` of the pickups; `weights` are in member order;
 * - `round-robin`: Celery `-Q a,b`: the queues take turns (equal shares while backlogged).
 */
export const groupDisciplineSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('priority') }),
  z.strictObject({
    kind: z.literal('weighted'),
    /** One positive weight per member, in member order (Sidekiq's `-q name,weight`). */
    weights: z.array(z.number().positive()).min(1),
  }),
  z.strictObject({ kind: z.literal('round-robin') }),
]);
export type GroupDiscipline = z.infer<typeof groupDisciplineSchema>;

/**
 * Everything a group strategy may look at to size one group: one pool of workers that serves
 * several queues. Pure like `ScalingContext`: all time comes in through `now`.
 */
export const groupScalingContextSchema = z.strictObject({
  /** The current time, epoch milliseconds. */
  now: epochMsSchema,
  /** The group's name in qscale's configuration. */
  group: z.string().min(1),
  /** How the backend divides a worker's time among the members. */
  discipline: groupDisciplineSchema,
  /**
   * One context per member queue, in member order: the queue's own snapshot, history and SLO;
   * `workers`, `bounds` and `spawnLatencyMs` are the group's (the pool is shared).
   */
  members: z.array(scalingContextSchema).min(1),
  /** The group's pool right now. */
  workers: workerCountsSchema,
  /** The group's configured worker bounds. */
  bounds: workerBoundsSchema,
  /** Time from spawning a worker of the group to its first pickup, in ms. */
  spawnLatencyMs: durationMsSchema,
});
export type GroupScalingContext = z.infer<typeof groupScalingContextSchema>;

/** What one member queue needs from its group's pool. */
export const groupMemberRecommendationSchema = z.strictObject({
  /** The member queue's name. */
  queue: z.string().min(1),
  /** Workers the whole group needs so that this queue meets its own SLO. */
  workers: z.number().int().nonnegative(),
  /** One sentence: what this queue needs and why (its share of the pool). */
  reason: z.string().min(1),
  /** Every number behind it (the queue's own strategy terms and the group's queueing terms). */
  terms: z.record(z.string(), z.number()),
});
export type GroupMemberRecommendation = z.infer<typeof groupMemberRecommendationSchema>;

/**
 * A group strategy's answer: `workers` is the pool size (the most any member needs), `reason`
 * names the member that set it, `terms` holds each member's need; `members` explains each one.
 */
export const groupRecommendationSchema = recommendationSchema.extend({
  members: z.array(groupMemberRecommendationSchema),
});
export type GroupRecommendation = z.infer<typeof groupRecommendationSchema>;
