import { z } from 'zod';
import { countSchema, durationMsSchema, epochMsSchema, ratePerSecondSchema } from './units.js';

/** The queue systems qscale reads straight from Redis. */
export const QUEUE_BACKENDS = ['laravel', 'bullmq', 'sidekiq', 'rq', 'celery'] as const;
export const queueBackendSchema = z.enum(QUEUE_BACKENDS);
export type QueueBackend = z.infer<typeof queueBackendSchema>;

/**
 * How a figure was obtained:
 * - `counter`: read directly from Redis (a length, a cardinality, a counter the backend keeps);
 * - `observed`: measured by qscale from jobs it saw start and finish;
 * - `estimate`: derived (for example conservation of jobs between two observations).
 */
export const figureSourceSchema = z.enum(['counter', 'observed', 'estimate']);
export type FigureSource = z.infer<typeof figureSourceSchema>;

/** The figures of a QueueSnapshot whose origin `sources` reports. */
export const QUEUE_FIGURES = [
  'pending',
  'delayed',
  'active',
  'failed',
  'oldestPendingAgeMs',
  'arrivalRate',
  'completionRate',
  'serviceTimeMs',
  'pickupLatencyMs',
] as const;
export const queueFigureSchema = z.enum(QUEUE_FIGURES);
export type QueueFigure = z.infer<typeof queueFigureSchema>;

export const serviceTimeSchema = z.strictObject({
  /** Mean time a job runs, from start to finish, in milliseconds. */
  mean: durationMsSchema,
  /** 95th percentile of the run time, in milliseconds. */
  p95: durationMsSchema,
});
export type ServiceTime = z.infer<typeof serviceTimeSchema>;

export const pickupLatencySchema = z.strictObject({
  /** Median wait from "ready to run" to "picked up by a worker", in milliseconds. */
  p50: durationMsSchema,
  /** 95th percentile of that wait, in milliseconds. */
  p95: durationMsSchema,
  /** 99th percentile of that wait, in milliseconds. */
  p99: durationMsSchema,
  /** How many pickups the percentiles were computed from (the sliding window). */
  samples: countSchema,
});
export type PickupLatency = z.infer<typeof pickupLatencySchema>;

export const snapshotErrorSchema = z.strictObject({
  /** A stable machine-readable code, e.g. `WRONG_TYPE`, `BAD_PAYLOAD`, `REDIS_UNREACHABLE`. */
  code: z.string().min(1),
  /** What went wrong, naming the key and what it held. */
  message: z.string().min(1),
});
export type SnapshotError = z.infer<typeof snapshotErrorSchema>;

/**
 * What one queue looks like at one moment. A figure that cannot be known is `null`, never
 * invented; `sources` says where each known figure came from.
 */
export const queueSnapshotSchema = z.strictObject({
  /** The queue's name in qscale's configuration. */
  queue: z.string().min(1),
  /** The queue system the figures were read from. */
  backend: queueBackendSchema,
  /** When the figures were read, epoch milliseconds. */
  at: epochMsSchema,
  /** Jobs ready to run now and waiting for a worker. */
  pending: countSchema.nullable(),
  /** Jobs scheduled for later (delayed, backoff retries); not yet ready. */
  delayed: countSchema.nullable(),
  /** Jobs a worker has taken and not yet finished (active, reserved, in progress). */
  active: countSchema.nullable(),
  /** Jobs that failed, where the backend keeps them in Redis. */
  failed: countSchema.nullable().optional(),
  /** Age of the oldest pending job since it became ready, in milliseconds; 0 when none waits. */
  oldestPendingAgeMs: durationMsSchema.nullable(),
  /** Jobs arriving (becoming ready), per second. */
  arrivalRate: ratePerSecondSchema.nullable(),
  /** Jobs finishing (completed or failed), per second. */
  completionRate: ratePerSecondSchema.nullable(),
  /** Run time of jobs observed from start to finish; null until enough were seen. */
  serviceTimeMs: serviceTimeSchema.nullable().optional(),
  /** Wait before pickup, over a sliding window of observed pickups. */
  pickupLatencyMs: pickupLatencySchema.nullable().optional(),
  /** Whether the backend marks the queue paused (a paused queue is never scaled up). */
  paused: z.boolean().optional(),
  /** Where each known figure came from. */
  sources: z.partialRecord(queueFigureSchema, figureSourceSchema),
  /** Set when this queue could not be read completely; the other queues are unaffected. */
  error: snapshotErrorSchema.optional(),
});
export type QueueSnapshot = z.infer<typeof queueSnapshotSchema>;
