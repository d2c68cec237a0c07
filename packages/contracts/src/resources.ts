import { z } from 'zod';
import { bytesSchema, coresSchema, countSchema, epochMsSchema } from './units.js';

/** Where the limits of a ResourceSnapshot were read. */
export const resourceSourceSchema = z.enum(['cgroup-v2', 'cgroup-v1', 'host']);
export type ResourceSource = z.infer<typeof resourceSourceSchema>;

export const pressureSchema = z.strictObject({
  /** PSI `cpu.pressure` some avg10: share (0-100) of the last 10 s some task waited for CPU. */
  cpuSomeAvg10: z.number().min(0).max(100).nullable(),
  /** PSI `memory.pressure` some avg10: share (0-100) of the last 10 s some task stalled on memory. */
  memorySomeAvg10: z.number().min(0).max(100).nullable(),
  /** PSI `memory.pressure` full avg10: share (0-100) of the last 10 s all tasks stalled on memory. */
  memoryFullAvg10: z.number().min(0).max(100).nullable(),
});
export type Pressure = z.infer<typeof pressureSchema>;

export const workerResourcesSchema = z.strictObject({
  /** Resident set size of the worker process, in bytes. */
  rssBytes: bytesSchema,
  /** CPU the worker used since the previous snapshot, in cores; null on its first sighting. */
  cpuCores: coresSchema.nullable(),
  /**
   * Time the worker was runnable but waiting for a CPU since the previous snapshot, in cores
   * (seconds waited per second; `/proc/PID/schedstat`): the contention the worker feels.
   * Null on its first sighting; absent where the kernel does not report it.
   */
  cpuWaitCores: coresSchema.nullable().optional(),
});
export type WorkerResources = z.infer<typeof workerResourcesSchema>;

/**
 * CPU and memory of the cgroup the daemon runs in (or the host when there is no limit).
 * A figure that could not be read is null, never invented.
 */
export const resourceSnapshotSchema = z.strictObject({
  /** When the figures were read, epoch milliseconds. */
  at: epochMsSchema,
  /** Where the limits came from. */
  source: resourceSourceSchema,
  cpu: z.strictObject({
    /** CPU available to the cgroup (quota / period), or the host's cores without a quota. */
    limitCores: coresSchema.nullable(),
    /** CPU used since the previous snapshot, in cores; null on the first snapshot. */
    usedCores: coresSchema.nullable(),
  }),
  memory: z.strictObject({
    /** Memory limit of the cgroup, or the host's total without a limit, in bytes. */
    limitBytes: bytesSchema.nullable(),
    /** Working set: usage minus inactive file cache, in bytes. */
    usedBytes: bytesSchema.nullable(),
  }),
  /** Pressure stall information, where the kernel provides it. */
  pressure: pressureSchema.nullable().optional(),
  /** Per worker process, keyed by PID (as a decimal string). */
  perWorker: z.record(z.string().regex(/^\d+$/), workerResourcesSchema),
  /** Files that could not be read or parsed, each naming the file and what it held. */
  errors: z.array(z.strictObject({ file: z.string(), message: z.string() })).optional(),
});
export type ResourceSnapshot = z.infer<typeof resourceSnapshotSchema>;

/** What limited the number of workers the host can hold. */
export const capacityLimiterSchema = z.enum(['cpu', 'memory', 'config']);
export type CapacityLimiter = z.infer<typeof capacityLimiterSchema>;

/**
 * Where a per-worker cost came from: the smoothed mean of the queue's running workers, the queue's
 * `resources`, the global `limits.*.perWorker`, or the built-in default.
 */
export const workerCostSourceSchema = z.enum([
  'measured',
  'queue-config',
  'limits-config',
  'default',
]);
export type WorkerCostSource = z.infer<typeof workerCostSourceSchema>;

/** What one more worker of a queue costs, and how many of its workers the host can hold. */
export const queueCapacitySchema = z.strictObject({
  /** CPU one worker of this queue is expected to use, in cores. */
  cpuCoresPerWorker: coresSchema,
  cpuFrom: workerCostSourceSchema,
  /** Memory one worker of this queue is expected to use, in bytes. */
  memoryBytesPerWorker: bytesSchema,
  memoryFrom: workerCostSourceSchema,
  /** Workers of this queue the host can hold if only this queue grows (the others unchanged). */
  maxWorkers: countSchema,
  /** What limits `maxWorkers` for this queue. */
  limiter: capacityLimiterSchema.optional(),
  /**
   * Why `maxWorkers` is what it is, with the figures of the resource that limits it, e.g.
   * `memory: 412 MiB free / 96 MiB per worker = 4`.
   */
  why: z.string().optional(),
});
export type QueueCapacity = z.infer<typeof queueCapacitySchema>;

/** How many workers this host can hold, and why not more. */
export const hostCapacitySchema = z.strictObject({
  /** Workers (all queues together) the host can hold. */
  maxWorkers: countSchema,
  /** The limit that bit. */
  limiter: capacityLimiterSchema,
  /** Room left after current use, counted once. */
  headroom: z.strictObject({ cpuCores: z.number(), memoryBytes: z.number() }),
  /** Per queue (by name): its per-worker cost, where that came from, and its own ceiling. */
  perQueue: z.record(z.string(), queueCapacitySchema).optional(),
  /**
   * Resources whose limit or use was unknown: they hold capacity at the current workers
   * (their headroom reads 0) instead of guessing.
   */
  unknown: z.array(z.enum(['cpu', 'memory'])).optional(),
  /** Why `maxWorkers` is what it is, with the figures of `limiter`. */
  why: z.string().optional(),
});
export type HostCapacity = z.infer<typeof hostCapacitySchema>;
