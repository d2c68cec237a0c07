import { constants } from 'node:os';

/** What happened to a signal sent to a process group. */
export type SignalOutcome = 'sent' | 'gone' | 'denied';

/**
 * Sends `signal` to every process of the group `pgid` (a worker spawned detached leads its own
 * group, so its PID is the group id). A vanished group is not an error: it is what we wanted.
 */
export function signalGroup(pgid: number, signal: NodeJS.Signals): SignalOutcome {
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
