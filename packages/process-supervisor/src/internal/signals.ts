import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { SupervisorError } from '../errors.js';
import { parseStat } from './proc.js';

/** What happened to a signal sent to a process group. */
export type SignalOutcome = 'sent' | 'gone' | 'denied';

/** The supervisor's own process group, read once from /proc when first needed. */
let ownGroup: number | null = null;

function ownProcessGroup(): number | null {
  if (ownGroup === null) {
    try {
      // Synchronous, like the kill that follows: /proc/self is served from memory.
      ownGroup = parseStat(readFileSync('/proc/self/stat', 'utf8'))?.pgid ?? null;
    } catch {
      ownGroup = null;
    }
  }
  return ownGroup;
}

/**
 * Why a signal to the process group `pgid` must not be sent, or null when it may be. A worker
 * leads its own group, whose id is its PID: never 0 (our own group), 1 (`kill(-1)` is every
 * process we may signal), below 0, fractional, nor the supervisor's own PID or group.
 */
export function refusedGroup(pgid: number): string | null {
  if (!Number.isSafeInteger(pgid)) return 'not a whole number';
  if (pgid < 0) return 'negative';
  if (pgid === 0) return 'group 0 is the sender’s own group';
  if (pgid === 1) return 'kill(-1) would signal every process the supervisor may signal';
  if (pgid === process.pid) return 'it is the supervisor’s own process';
  const own = ownProcessGroup();
  if (own === null) return 'the supervisor’s own process group cannot be read from /proc/self/stat';
  if (pgid === own) return 'it is the supervisor’s own process group';
  return null;
}

/**
 * Throws a `SIGNAL_REFUSED` {@link SupervisorError} unless `pgid` may be signalled as a
 * worker's group. Every group signal goes through {@link signalGroup}, which calls this first.
 */
export function assertSignallableGroup(pgid: number, signal: string): void {
  const why = refusedGroup(pgid);
  if (why === null) return;
  throw new SupervisorError(
    'SIGNAL_REFUSED',
    `refused to send ${signal} to process group ${pgid}: ${why}; expected the group of a worker (a PID above 1, not the supervisor's ${process.pid} nor its group ${ownProcessGroup() ?? 'unknown'})`,
  );
}

/**
 * Sends `signal` to every process of the group `pgid` (a worker spawned detached leads its own
 * group, so its PID is the group id). A vanished group is not an error: it is what we wanted.
 * Throws `SIGNAL_REFUSED` for a group that cannot be a worker's (see {@link refusedGroup}).
 */
export function signalGroup(pgid: number, signal: NodeJS.Signals): SignalOutcome {
  assertSignallableGroup(pgid, signal);
  try {
    process.kill(-pgid, signal);
    return 'sent';
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return 'gone';
    if (code === 'EPERM') return 'denied';
    throw error;
  }
}

/** Signals a worker may be asked to stop with; SIGKILL and SIGSTOP cannot be handled. */
export function isStopSignal(name: string): name is NodeJS.Signals {
  return name in constants.signals && name !== 'SIGKILL' && name !== 'SIGSTOP';
}
