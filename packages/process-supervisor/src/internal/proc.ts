import { readdir, readFile } from 'node:fs/promises';

/** The fields of /proc/PID/stat the supervisor needs. */
export interface ProcStat {
  /** One letter: R, S, D, T, Z (zombie), X (dead), ... */
  state: string;
  ppid: number;
  pgid: number;
  /** Session id (field 6): a process that called setsid() leads its own. */
  sid: number;
  /** Field 22, start time in clock ticks after boot: tells a reused PID apart. */
  startTicks: number;
}

/**
 * Parses /proc/PID/stat. The command name sits in parentheses and may itself contain spaces
 * or parentheses, so the fields are read after the last `)`.
 */
export function parseStat(text: string): ProcStat | null {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const ppid = Number(fields[1]);
  const pgid = Number(fields[2]);
  const sid = Number(fields[3]);
  const startTicks = Number(fields[19]);
  if (
    !state ||
    !Number.isInteger(ppid) ||
    !Number.isInteger(pgid) ||
    !Number.isInteger(sid) ||
    !Number.isFinite(startTicks)
  ) {
    return null;
  }
  return { state, ppid, pgid, sid, startTicks };
}

/** Reads /proc/PID/stat; null when the process does not exist (any more). */
export async function readStat(pid: number): Promise<ProcStat | null> {
  try {
    return parseStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** A zombie or dead entry still has a /proc directory but runs nothing and holds no job. */
export function isLive(stat: ProcStat | null): stat is ProcStat {
  return stat !== null && stat.state !== 'Z' && stat.state !== 'X';
}

/** The kernel's random id of this boot: start ticks only compare within one boot. */
export async function readBootId(): Promise<string> {
  return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
}

/** Live processes whose process group is `pgid`, found by scanning /proc. */
export async function liveGroupMembers(pgid: number): Promise<number[]> {
  const entries = await readdir('/proc').catch(() => [] as string[]);
  const pids = entries.filter((name) => /^\d+$/.test(name)).map(Number);
  const stats = await Promise.all(pids.map(async (pid) => [pid, await readStat(pid)] as const));
  return stats.filter(([, stat]) => isLive(stat) && stat.pgid === pgid).map(([pid]) => pid);
}
