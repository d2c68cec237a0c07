import type {
  CapacityLimiter,
  HostCapacity,
  QueueCapacity,
  ResourceSnapshot,
  WorkerCostSource,
} from '@qscale/contracts';
import { DEFAULTS } from './defaults.js';
import { ResourceMonitorError } from './errors.js';

/** The host limits of the configuration: the same shape as the daemon's `config.limits`. */
export interface CapacityLimits {
  /** Workers of all queues together. */
  maxWorkers: number;
  cpu: {
    /** Share (0-100] of the CPU limit workers may fill. */
    maxPercent: number;
    /** Per-worker CPU for queues that neither measure nor configure one. */
    perWorkerCores: number | null;
    /**
     * False: CPU use never limits the workers (for I/O-bound workers on a host shared with
     * other work); memory and `maxWorkers` still do. @defaultValue true
     */
    enforce?: boolean;
  };
  memory: {
    /** Share (0-100] of the memory limit workers may fill. */
    maxPercent: number;
    /** Per-worker memory for queues that neither measure nor configure one. */
    perWorkerBytes: number | null;
  };
}

/** One queue's workers, as the supervisor knows them. */
export interface QueueWorkers {
  /** The queue's name (a key of the result's `perQueue`). */
  queue: string;
  /**
   * PIDs of the queue's running workers (past their minimum uptime). Their figures in
   * `resources.perWorker` give the measured cost: the median RSS and the median CPU.
   * Pass the same PIDs to `snapshot()` so it has figures for them.
   */
  runningPids: readonly number[];
  /**
   * The queue's workers alive now in any state (running, starting, stopping). Their use is
   * already in `resources`, so they count once, towards the total. @defaultValue `runningPids.length`
   */
  liveWorkers?: number;
  /** The queue's configured estimate (`queues.<name>.resources`). */
  resources?: { cpuCores: number | null; memoryBytes: number | null };
}

export interface CapacityInput {
  /** This tick's snapshot: limits, current use (counted once) and per-PID figures. */
  resources: ResourceSnapshot;
  /** Per queue: which PIDs are its running workers, and its configured per-worker estimate. */
  perWorker: readonly QueueWorkers[];
  /** The configured limits (`config.limits`). */
  limits: CapacityLimits;
}

interface Cost {
  value: number;
  from: WorkerCostSource;
}

/**
 * How many workers this host can hold. Pure: the same input gives the same answer.
 *
 * Budget = limit × maxPercent / 100; headroom = budget − current use (the snapshot's working
 * set and CPU, which already include every live worker: counted once, never again).
 * Extra workers = floor(headroom / per-worker cost), where the cost of a queue's worker is the
 * median of its running workers, else its configured `resources`, else `limits.*.perWorker`,
 * else DEFAULTS (with floors of 0.01 cores and 16 MiB). The host total uses the cost of the
 * current mix of workers (weighted by live workers per queue; a plain mean when none run).
 *
 * Memory can push the answer below the current workers (shedding them avoids the OOM killer);
 * CPU cannot (CPU over the budget slows workers down, and fewer of them would not go faster).
 * A figure that is unknown (null) holds at the current workers and is listed in `unknown`.
 */
export function capacity({ resources, perWorker, limits }: CapacityInput): HostCapacity {
  checkLimits(limits);
  const cpuHeadroom = headroom(
    resources.cpu.limitCores,
    resources.cpu.usedCores,
    limits.cpu.maxPercent,
  );
  const memoryHeadroom = headroom(
    resources.memory.limitBytes,
    resources.memory.usedBytes,
    limits.memory.maxPercent,
  );
  const cpuEnforced = limits.cpu.enforce !== false;
  const unknown: ('cpu' | 'memory')[] = [];
  if (cpuHeadroom === null && cpuEnforced) unknown.push('cpu');
  if (memoryHeadroom === null) unknown.push('memory');

  const queues = perWorker.map((queue) => {
    const live = queue.liveWorkers ?? queue.runningPids.length;
    if (!Number.isSafeInteger(live) || live < 0) {
      throw invalid(`perWorker[${queue.queue}].liveWorkers`, 'a whole number >= 0', live);
    }
    return { queue, live, ...costs(queue, resources, limits) };
  });
  const liveTotal = queues.reduce((sum, queue) => sum + queue.live, 0);

  const extra = (cpu: number, memory: number) => ({
    cpu: !cpuEnforced
      ? Number.POSITIVE_INFINITY
      : cpuHeadroom === null
        ? 0
        : Math.max(fits(cpuHeadroom, cpu), 0),
    memory: memoryHeadroom === null ? 0 : fits(memoryHeadroom, memory),
  });

  const mix = mixCost(queues, limits);
  const host = extra(mix.cpu, mix.memory);
  const candidates: [CapacityLimiter, number][] = [
    ['config', limits.maxWorkers],
    ['memory', liveTotal + host.memory],
    ['cpu', liveTotal + host.cpu],
  ];
  // Ties go to the first: the configured cap is the user's choice, memory the hard limit.
  const [limiter, maxWorkers] = candidates.reduce((best, next) =>
    next[1] < best[1] ? next : best,
  );

  const perQueue: Record<string, QueueCapacity> = {};
  for (const { queue, live, cpu, memory } of queues) {
    const own = extra(cpu.value, memory.value);
    const others = liveTotal - live;
    perQueue[queue.queue] = {
      cpuCoresPerWorker: cpu.value,
      cpuFrom: cpu.from,
      memoryBytesPerWorker: memory.value,
      memoryFrom: memory.from,
      maxWorkers: Math.max(
        Math.min(live + own.cpu, live + own.memory, limits.maxWorkers - others),
        0,
      ),
    };
  }

  return {
    maxWorkers: Math.max(maxWorkers, 0),
    limiter,
    headroom: { cpuCores: cpuHeadroom ?? 0, memoryBytes: memoryHeadroom ?? 0 },
    perQueue,
    ...(unknown.length > 0 ? { unknown } : {}),
  };
}

function headroom(limit: number | null, used: number | null, maxPercent: number): number | null {
  if (limit === null || used === null) return null;
  return (limit * maxPercent) / 100 - used;
}

/** Whole workers of `cost` that fit in `room` (negative when use is over the budget). */
function fits(room: number, cost: number): number {
  // 1.0 / 0.1 is 9.999…: a tolerance keeps exact fits whole.
  return Math.floor(room / cost + 1e-9);
}

function costs(queue: QueueWorkers, resources: ResourceSnapshot, limits: CapacityLimits) {
  const measured = queue.runningPids.map((pid) => resources.perWorker[String(pid)]);
  const cpuSamples = measured.flatMap((worker) =>
    worker?.cpuCores != null ? [worker.cpuCores] : [],
  );
  const memorySamples = measured.flatMap((worker) => (worker ? [worker.rssBytes] : []));
  return {
    cpu: floor(
      pick(
        median(cpuSamples),
        queue.resources?.cpuCores ?? null,
        limits.cpu.perWorkerCores,
        DEFAULTS.perWorkerCores,
      ),
      DEFAULTS.minPerWorkerCores,
    ),
    memory: floor(
      pick(
        median(memorySamples),
        queue.resources?.memoryBytes ?? null,
        limits.memory.perWorkerBytes,
        DEFAULTS.perWorkerBytes,
      ),
      DEFAULTS.minPerWorkerBytes,
    ),
  };
}

/** Measured before the queue's configuration, before the global one, before the default. */
function pick(
  measured: number | null,
  queueConfig: number | null,
  limitsConfig: number | null,
  fallback: number,
): Cost {
  if (measured !== null) return { value: measured, from: 'measured' };
  if (queueConfig !== null) return { value: queueConfig, from: 'queue-config' };
  if (limitsConfig !== null) return { value: limitsConfig, from: 'limits-config' };
  return { value: fallback, from: 'default' };
}

function floor(cost: Cost, minimum: number): Cost {
  return cost.value >= minimum ? cost : { value: minimum, from: cost.from };
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] ?? 0;
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] ?? 0) + upper) / 2;
}

/** The cost of "a worker" for the host total: the current mix, weighted by live workers. */
function mixCost(
  queues: { live: number; cpu: Cost; memory: Cost }[],
  limits: CapacityLimits,
): { cpu: number; memory: number } {
  if (queues.length === 0) {
    return {
      cpu: floor(
        pick(null, null, limits.cpu.perWorkerCores, DEFAULTS.perWorkerCores),
        DEFAULTS.minPerWorkerCores,
      ).value,
      memory: floor(
        pick(null, null, limits.memory.perWorkerBytes, DEFAULTS.perWorkerBytes),
        DEFAULTS.minPerWorkerBytes,
      ).value,
    };
  }
  const liveTotal = queues.reduce((sum, queue) => sum + queue.live, 0);
  const weight = (live: number) => (liveTotal === 0 ? 1 : live);
  const total = liveTotal === 0 ? queues.length : liveTotal;
  return {
    cpu: queues.reduce((sum, queue) => sum + weight(queue.live) * queue.cpu.value, 0) / total,
    memory: queues.reduce((sum, queue) => sum + weight(queue.live) * queue.memory.value, 0) / total,
  };
}

function checkLimits(limits: CapacityLimits): void {
  if (!Number.isSafeInteger(limits.maxWorkers) || limits.maxWorkers < 0) {
    throw invalid('limits.maxWorkers', 'a whole number >= 0', limits.maxWorkers);
  }
  for (const [name, percent] of [
    ['limits.cpu.maxPercent', limits.cpu.maxPercent],
    ['limits.memory.maxPercent', limits.memory.maxPercent],
  ] as const) {
    if (!(percent > 0 && percent <= 100))
      throw invalid(name, 'a percentage above 0 and at most 100', percent);
  }
  for (const [name, value] of [
    ['limits.cpu.perWorkerCores', limits.cpu.perWorkerCores],
    ['limits.memory.perWorkerBytes', limits.memory.perWorkerBytes],
  ] as const) {
    if (value !== null && !(value > 0)) throw invalid(name, 'a number above 0 or null', value);
  }
}

function invalid(name: string, expected: string, found: unknown): ResourceMonitorError {
  return new ResourceMonitorError(
    'RESOURCE_OPTIONS_INVALID',
    `capacity: ${name}: expected ${expected}, got ${JSON.stringify(found)}`,
  );
}
