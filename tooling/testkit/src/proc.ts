import { readdir, readFile } from 'node:fs/promises';

export interface ProcInfo {
  pid: number;
  ppid: number;
  pgid: number;
  /** One-letter state from /proc/PID/stat: R, S, D, Z (zombie), T, ... */
  state: string;
  /** Start time in clock ticks since boot (field 22), to tell a reused PID apart. */
  startTicks: number;
  argv: string[];
}

/** Reads /proc/PID/stat and cmdline; null when the process does not exist (any more). */
export async function readProc(pid: number): Promise<ProcInfo | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may itself contain spaces or parentheses.
    const afterName = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    return {
      pid,
      state: afterName[0] ?? '?',
      ppid: Number(afterName[1]),
      pgid: Number(afterName[2]),
      startTicks: Number(afterName[19]),
      argv: cmdline.split('\0').filter((part) => part.length > 0),
    };
  } catch {
    return null;
  }
}

/** Every live process on the machine, read from /proc (real, never mocked). */
export async function listProcesses(): Promise<ProcInfo[]> {
  const entries = await readdir('/proc');
  const infos = await Promise.all(
    entries.filter((name) => /^\d+$/.test(name)).map((name) => readProc(Number(name))),
  );
  return infos.filter((info): info is ProcInfo => info !== null);
}

/** Processes whose argv contains `marker`: give each fixture worker a unique marker argument. */
export async function findProcessesWithArg(marker: string): Promise<ProcInfo[]> {
  return (await listProcesses()).filter((info) => info.argv.includes(marker));
}
