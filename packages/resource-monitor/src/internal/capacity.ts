import type {
  CapacityLimiter,
  HostCapacity,
  QueueCapacity,
  ResourceSnapshot,
  WorkerCostSource,
} from '@qscale/contracts';
import { DEFAULTS } from './defaults.js';
import { ResourceMonitorError } from './errors.js';
import { bytes, cores, count } from './format.js';
import { type MeasuredCost, measuredMean } from './worker-costs.js';

/** The host limits of the configuration: the same shape as the daemon's `config.limits`. */
export interface CapacityLimits {
  /** Workers of all queues together. */
  maxWorkers: number;
  cpu: {
    /** Share (0-100] of the CPU limit the workers together may use. */
    maxPercent: number;
    /** Per-worker CPU for queues that neither measure nor configure one. */
    perWorkerCores: number | null;
    /** False: CPU never limits the workers; memory and `maxWorkers` still do. @defaultValue true */
    enforce?: boolean;
  };
  memory: {
    /** Share (0-100] of the memory limit workers and other processes together may fill. */
    maxPercent: number;
    /** Per-worker memory for queues that neither measure nor configure one. */
    perWorkerBytes: number | null;
  };
}

/** One queue's workers, as the supervisor knows them. */
export interface QueueWorkers {
  /** The queue's name (a key of the result's `perQueue`). */
  queue: string;
  /** PIDs of the queue's running workers (past their minimum uptime). */
  runningPids: readonly number[];
  /** The queue's workers alive now in any state. @defaultValue `runningPids.length` */
  liveWorkers?: number;
  /** The queue's configured estimate (`queues.<name>.resources`), used until measured. */
  resources?: { cpuCores: number | null; memoryBytes: number | null };
  /**
   * The measured per-worker cost, smoothed (`createWorkerCostTracker`). Without it, the mean
   * of `runningPids` in this snapshot.
   */
  measured?: MeasuredCost;
}

export interface CapacityInput {
  /** This tick's snapshot: limits, use, pressure and per-PID figures of every worker. */
  resources: ResourceSnapshot;
  /** Per queue: its workers and their configured or measured cost. */
  perWorker: readonly QueueWorkers[];
  /** The configured limits (`config.limits`). */
  limits: CapacityLimits;
}

interface Cost {
  value: number;
  from: WorkerCostSource;
}

interface Queue {
  name: string;
  live: number;
  cpu: Cost;
  memory: Cost;
  waitCores: number | null;
}

/** Room for workers in one resource: what all workers together may use, and why. */
interface Room {
  /** Cores or bytes the workers together may use; null when a figure is unknown. */
  value: number | null;
  /** The terms of `value`, e.g. `1.70 cores budget (85% of 2 cores) − 0.04 cores waited`. */
  terms: string;
}

/**
 * How many workers this host can hold. Pure: the same input gives the same answer.
 *
 * A worker costs what workers of its queue measure (mean CPU and RSS per running worker),
 * else its configured `resources`, else `limits.*.perWorker`, else DEFAULTS. The workers'
 * own use is what is being sized, so it never counts as "used":
 * - memory: room = limit × maxPercent − what other processes use (working set − workers' RSS);
 * - CPU: room = limit × maxPercent − contention, where contention is the time the workers
 *   waited for a CPU (run-queue delay from schedstat). Other processes' CPU use is not
 *   subtracted as such: the kernel's fair scheduler gives a worker that needs 0.01 cores its
 *   0.01 cores on a host kept busy by others, and what it does not give shows up as wait.
 *   Without schedstat, others' use × PSI cpu some avg10 stands in (others' use without PSI).
 * Workers of a queue = (room − what the other queues' workers cost) / its per-worker cost.
 * Memory can bring that below the current workers (shedding avoids the OOM killer); CPU only
 * holds there (fewer workers would not go faster). An unknown figure holds at the current
 * workers and is listed in `unknown`. `why` names the limit with its figures.
 */
export function capacity({ resources, perWorker, limits }: CapacityInput): HostCapacity {
  checkLimits(limits);
  const queues: Queue[] = perWorker.map((queue) => {
    const live = queue.liveWorkers ?? queue.runningPids.length;
    if (!Number.isSafeInteger(live) || live < 0) {
      throw invalid(`perWorker[${queue.queue}].liveWorkers`, 'a whole number >= 0', live);
    }
    const measured = queue.measured ?? measuredMean(resources, queue.runningPids);
    return { name: queue.queue, live, ...costs(queue, measured, limits) };
  });
  const cpuEnforced = limits.cpu.enforce !== false;
  const cpuRoom = cpuEnforced ? roomForCpu(resources, queues, limits) : null;
  const memoryRoom = roomForMemory(resources, limits);
  const unknown: ('cpu' | 'memory')[] = [];
  if (cpuEnforced && cpuRoom?.value === null) unknown.push('cpu');
  if (memoryRoom.value === null) unknown.push('memory');

  const liveTotal = queues.reduce((sum, queue) => sum + queue.live, 0);
  const mix = mixCost(queues, limits);
  // CPU never holds a queue at zero workers: one worker per queue (sharing the CPU fairly)
  // is the least that makes progress.
  const cpuFloor = queues.reduce((sum, queue) => sum + Math.max(queue.live, 1), 0);
  const host = limit(
    { name: 'all queues', live: liveTotal, cpu: mix.cpu, memory: mix.memory, waitCores: null },
    cpuFloor,
    0,
    { cpu: 0, memory: 0 },
    cpuRoom,
    memoryRoom,
    limits,
  );

  const perQueue: Record<string, QueueCapacity> = {};
  for (const queue of queues) {
    const others = queues.filter((other) => other !== queue);
    const reserved = {
      cpu: others.reduce((sum, other) => sum + other.live * other.cpu.value, 0),
      memory: others.reduce((sum, other) => sum + other.live * other.memory.value, 0),
    };
    const own = limit(
      queue,
      Math.max(queue.live, 1),
      liveTotal - queue.live,
      reserved,
      cpuRoom,
      memoryRoom,
      limits,
    );
    perQueue[queue.name] = {
      cpuCoresPerWorker: queue.cpu.value,
      cpuFrom: queue.cpu.from,
      memoryBytesPerWorker: queue.memory.value,
      memoryFrom: queue.memory.from,
      maxWorkers: own.maxWorkers,
      limiter: own.limiter,
      why: own.why,
    };
  }

  const ourCpu = queues.reduce((sum, queue) => sum + queue.live * queue.cpu.value, 0);
  const ourMemory = queues.reduce((sum, queue) => sum + queue.live * queue.memory.value, 0);
  return {
    maxWorkers: host.maxWorkers,
    limiter: host.limiter,
    headroom: {
      cpuCores: cpuRoom?.value == null ? 0 : cpuRoom.value - ourCpu,
      memoryBytes: memoryRoom.value === null ? 0 : memoryRoom.value - ourMemory,
    },
    perQueue,
    ...(unknown.length > 0 ? { unknown } : {}),
    why: host.why,
  };
}

/**
 * The workers of `queue` that fit, given the room of each resource, what the workers of the
 * other queues cost (`reserved`) and how many they are (`othersLive`).
 */
function limit(
  queue: Queue,
  cpuFloor: number,
  othersLive: number,
  reserved: { cpu: number; memory: number },
  cpuRoom: Room | null,
  memoryRoom: Room,
  limits: CapacityLimits,
): { maxWorkers: number; limiter: CapacityLimiter; why: string } {
  const per = (cost: Cost, text: string) =>
    `${text} per worker${cost.from === 'measured' ? '' : ` (${SOURCE_WORDS[cost.from]})`}`;
  const reservedText = (amount: string) =>
    othersLive > 0 ? ` − ${amount} for ${count(othersLive, 'worker')} of other queues` : '';

  const candidates: { limiter: CapacityLimiter; maxWorkers: number; why: string }[] = [];
  const configMax = Math.max(limits.maxWorkers - othersLive, 0);
  candidates.push({
    limiter: 'config',
    maxWorkers: configMax,
    why: `config: limits.maxWorkers ${limits.maxWorkers}${othersLive > 0 ? ` − ${othersLive} workers of other queues = ${configMax}` : ''}`,
  });
  if (memoryRoom.value === null) {
    candidates.push({
      limiter: 'memory',
      maxWorkers: queue.live,
      why: `memory: unknown (${memoryRoom.terms}), so the ${queue.live} live workers stay`,
    });
  } else {
    const free = memoryRoom.value - reserved.memory;
    const fit = Math.max(fits(free, queue.memory.value), 0);
    candidates.push({
      limiter: 'memory',
      maxWorkers: fit,
      why: `memory: ${memoryRoom.terms}${reservedText(bytes(reserved.memory))} = ${bytes(free)} free / ${per(queue.memory, bytes(queue.memory.value))} = ${fit}`,
    });
  }
  if (cpuRoom !== null) {
    if (cpuRoom.value === null) {
      candidates.push({
        limiter: 'cpu',
        maxWorkers: queue.live,
        why: `cpu: unknown (${cpuRoom.terms}), so the ${queue.live} live workers stay`,
      });
    } else {
      const free = cpuRoom.value - reserved.cpu;
      const fit = Math.max(fits(free, queue.cpu.value), 0);
      // CPU over its room slows workers down; fewer of them would not go faster: hold. And a
      // queue is never held at zero by CPU: its first worker shares the CPU like any task.
      const floor = Math.max(queue.live, cpuFloor);
      const held =
        fit >= floor
          ? ''
          : floor > queue.live
            ? `, at least ${floor} (CPU is shared fairly: one worker per queue always makes progress)`
            : `, held at the ${queue.live} live workers (CPU over its room slows them; fewer would not go faster)`;
      candidates.push({
        limiter: 'cpu',
        maxWorkers: Math.max(fit, floor),
        why: `cpu: ${cpuRoom.terms}${reservedText(cores(reserved.cpu))} = ${cores(free)} free / ${per(queue.cpu, cores(queue.cpu.value))} = ${fit}${held}`,
      });
    }
  }
  // Ties go to the first: the configured cap is the user's choice, memory the hard limit.
  const best = candidates.reduce((a, b) => (b.maxWorkers < a.maxWorkers ? b : a));
  return best;
}

const SOURCE_WORDS: Record<WorkerCostSource, string> = {
  measured: 'measured',
  'queue-config': 'configured in queues.*.resources until measured',
  'limits-config': 'configured in limits.*.perWorker until measured',
  default: 'default until measured',
};

/**
 * The CPU the workers together may use: the budget minus the contention they feel. Their
 * own use is not subtracted (it is what is being sized).
 */
function roomForCpu(resources: ResourceSnapshot, queues: Queue[], limits: CapacityLimits): Room {
  const { limitCores, usedCores } = resources.cpu;
  if (limitCores === null) return { value: null, terms: 'the CPU limit could not be read' };
  const budget = (limitCores * limits.cpu.maxPercent) / 100;
  const budgetText = `${cores(budget)} budget (${limits.cpu.maxPercent}% of ${cores(limitCores)})`;
  const psi = resources.pressure?.cpuSomeAvg10 ?? null;
  const busy =
    usedCores === null
      ? ''
      : `; host ${cores(usedCores)} busy${psi === null ? '' : `, PSI cpu some ${round(psi)}%`}, not counted as such`;
  const measured = queues.filter((queue) => queue.waitCores !== null && queue.live > 0);
  if (measured.length > 0) {
    const waited = measured.reduce((sum, queue) => sum + queue.live * (queue.waitCores ?? 0), 0);
    return {
      value: budget - waited,
      terms: `${budgetText} − ${cores(waited)} the workers waited for a CPU${busy}`,
    };
  }
  const workers = Object.values(resources.perWorker);
  const withoutWait = workers.some((worker) => worker.cpuWaitCores === undefined);
  if (!withoutWait || workers.length === 0) {
    // No worker runs yet: nothing contends with them that could be measured.
    return { value: budget, terms: `${budgetText} (no worker measured for contention yet)${busy}` };
  }
  // No schedstat on this kernel: other processes' use, weighted by how often CPU is contended.
  if (usedCores === null) return { value: null, terms: 'CPU use is not measured yet' };
  const ours = workers.reduce((sum, worker) => sum + (worker.cpuCores ?? 0), 0);
  const others = Math.max(usedCores - ours, 0);
  const contended = others * (psi === null ? 1 : psi / 100);
  const how = psi === null ? 'no PSI' : `× PSI cpu some ${round(psi)}%`;
  return {
    value: budget - contended,
    terms: `${budgetText} − ${cores(contended)} contended by other processes (${cores(others)} ${how})`,
  };
}

/** The memory the workers together may use: the budget minus what other processes use. */
function roomForMemory(resources: ResourceSnapshot, limits: CapacityLimits): Room {
  const { limitBytes, usedBytes } = resources.memory;
  if (limitBytes === null || usedBytes === null) {
    return { value: null, terms: 'the memory limit or use could not be read' };
  }
  const budget = (limitBytes * limits.memory.maxPercent) / 100;
  const ours = Object.values(resources.perWorker).reduce((sum, worker) => sum + worker.rssBytes, 0);
  const others = Math.max(usedBytes - ours, 0);
  return {
    value: budget - others,
    terms: `${bytes(budget)} budget (${limits.memory.maxPercent}% of ${bytes(limitBytes)}) − ${bytes(others)} used by other processes`,
  };
}

/** Whole workers of `cost` that fit in `room` (negative when over). */
function fits(room: number, cost: number): number {
  // 1.0 / 0.1 is 9.999…: a tolerance keeps exact fits whole.
  return Math.floor(room / cost + 1e-9);
}

function costs(queue: QueueWorkers, measured: MeasuredCost, limits: CapacityLimits) {
  return {
    cpu: floor(
      pick(
        measured.cpuCores,
        queue.resources?.cpuCores ?? null,
        limits.cpu.perWorkerCores,
        DEFAULTS.perWorkerCores,
      ),
      DEFAULTS.minPerWorkerCores,
    ),
    memory: floor(
      pick(
        measured.memoryBytes,
        queue.resources?.memoryBytes ?? null,
        limits.memory.perWorkerBytes,
        DEFAULTS.perWorkerBytes,
      ),
      DEFAULTS.minPerWorkerBytes,
    ),
    waitCores: measured.cpuWaitCores,
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

/** The cost of "a worker" for the host total: the current mix, weighted by live workers. */
function mixCost(queues: Queue[], limits: CapacityLimits): { cpu: Cost; memory: Cost } {
  if (queues.length === 0) {
    return {
      cpu: floor(
        pick(null, null, limits.cpu.perWorkerCores, DEFAULTS.perWorkerCores),
        DEFAULTS.minPerWorkerCores,
      ),
      memory: floor(
        pick(null, null, limits.memory.perWorkerBytes, DEFAULTS.perWorkerBytes),
        DEFAULTS.minPerWorkerBytes,
      ),
    };
  }
  const liveTotal = queues.reduce((sum, queue) => sum + queue.live, 0);
  const weight = (live: number) => (liveTotal === 0 ? 1 : live);
  const total = liveTotal === 0 ? queues.length : liveTotal;
  const weighted = queues.filter((queue) => weight(queue.live) > 0);
  // "Measured" only when every queue in the mix is; else where the first unmeasured one's is from.
  const from = (pickFrom: (queue: Queue) => WorkerCostSource): WorkerCostSource =>
    weighted.map(pickFrom).find((source) => source !== 'measured') ?? 'measured';
  return {
    cpu: {
      value: queues.reduce((sum, queue) => sum + weight(queue.live) * queue.cpu.value, 0) / total,
      from: from((queue) => queue.cpu.from),
    },
    memory: {
      value:
        queues.reduce((sum, queue) => sum + weight(queue.live) * queue.memory.value, 0) / total,
      from: from((queue) => queue.memory.from),
    },
  };
}

function round(value: number): number {
  return Math.round(value);
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
