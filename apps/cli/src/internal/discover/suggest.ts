// The rules behind the SLO and bounds `qscale init --discover` suggests. Pure; the written
// file repeats each rule in a comment so the user can judge the number.

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

export const SUGGEST_RULES = {
  /** The pickup target is this many times the measured mean run time... */
  runTimeMultiple: 10,
  /** ...rounded up to the next of these friendly values (beyond them, whole hours). */
  friendlyMs: [
    5 * SECOND,
    10 * SECOND,
    15 * SECOND,
    30 * SECOND,
    MINUTE,
    2 * MINUTE,
    5 * MINUTE,
    10 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    HOUR,
  ],
  /** The configuration schema's largest pickup target. */
  maxPickupMs: 24 * HOUR,
  /** `max` workers: this many times the measured load, for peaks and backlogs. */
  loadHeadroom: 2,
  /** `max` never above this many workers per CPU (qscale audit flags more than 8). */
  workersPerCpu: 4,
} as const;

export interface SloSuggestion {
  pickupMs: number;
  /** One line saying how it was reached. */
  why: string;
}

/**
 * A pickup target: `runTimeMultiple` × the mean run time, rounded up to a friendly value, and
 * never below `floorMs`, what the daemon can honour from zero workers (a tick to notice the
 * job, then a worker's start). Without a measured run time, `fallbackMs` (the default SLO).
 */
export function suggestSlo(
  meanRunMs: number | null,
  floorMs: number,
  fallbackMs: number,
): SloSuggestion {
  const floor = friendly(floorMs);
  if (meanRunMs === null) {
    const pickupMs = Math.max(friendly(fallbackMs), floor);
    return {
      pickupMs,
      why: `no run time measured: qscale's default ${formatMs(pickupMs)}`,
    };
  }
  const target = SUGGEST_RULES.runTimeMultiple * meanRunMs;
  const pickupMs = Math.max(friendly(target), floor);
  const rounded = `${SUGGEST_RULES.runTimeMultiple} x ${formatMs(meanRunMs)} run time = ${formatMs(target)}, rounded up`;
  return {
    pickupMs,
    why:
      target < floorMs
        ? `${rounded}, raised to ${formatMs(floor)}: the tick (${formatMs(floorMs)} with a worker's start) cannot honour less from zero workers`
        : rounded,
  };
}

export interface BoundsSuggestion {
  min: number;
  max: number;
  /** Busy workers the measured load needs on average (arrivals × run time); null if unknown. */
  loadWorkers: number | null;
  why: string;
}

/**
 * Worker bounds from the measured load (Little's law: arrivals per second × run time in
 * seconds = workers busy on average) and the host's CPUs: `min` 1 for a queue that received
 * jobs while measured (one warm worker), else 0 (scale from zero); `max` twice the load, at
 * least 2, at most `workersPerCpu` per CPU; without a load, one per CPU.
 */
export function suggestBounds(
  arrivalRate: number | null,
  meanRunMs: number | null,
  cpuCores: number,
): BoundsSuggestion {
  const cap = Math.max(1, Math.floor(cpuCores * SUGGEST_RULES.workersPerCpu));
  const min = arrivalRate !== null && arrivalRate > 0 ? 1 : 0;
  const capped = (n: number) => Math.max(min, 1, Math.min(cap, n));
  if (arrivalRate === null || meanRunMs === null) {
    const max = capped(Math.max(2, Math.ceil(cpuCores)));
    return {
      min,
      max,
      loadWorkers: null,
      why: `load unknown (${arrivalRate === null ? 'no arrival rate' : 'no run time'} measured): max one worker per CPU (${formatCores(cpuCores)})`,
    };
  }
  const loadWorkers = (arrivalRate * meanRunMs) / SECOND;
  const max = capped(Math.max(2, Math.ceil(loadWorkers * SUGGEST_RULES.loadHeadroom)));
  return {
    min,
    max,
    loadWorkers,
    why: `load ${arrivalRate.toFixed(2)}/s x ${formatMs(meanRunMs)} = ${loadWorkers.toFixed(2)} busy workers; max ${SUGGEST_RULES.loadHeadroom} x that (at least 2, at most ${SUGGEST_RULES.workersPerCpu} per CPU: ${cap})`,
  };
}

/** Rounds up to the next friendly duration. */
export function friendly(ms: number): number {
  for (const step of SUGGEST_RULES.friendlyMs) if (ms <= step) return step;
  return Math.min(Math.ceil(ms / HOUR) * HOUR, SUGGEST_RULES.maxPickupMs);
}

/** `250ms`, `1.5s`, `5s`, `2m`, `1h`: the config's units, as short as exact allows. */
export function formatMs(ms: number): string {
  if (ms >= HOUR && ms % HOUR === 0) return `${ms / HOUR}h`;
  if (ms >= MINUTE && ms % MINUTE === 0) return `${ms / MINUTE}m`;
  if (ms >= SECOND) return `${Number((ms / SECOND).toFixed(ms >= 10 * SECOND ? 0 : 1))}s`;
  return `${Math.round(ms)}ms`;
}

function formatCores(cores: number): string {
  return `${Number(cores.toFixed(2))} CPU${cores === 1 ? '' : 's'}`;
}
