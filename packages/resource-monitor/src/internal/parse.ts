// Parsers for the /proc and cgroup files the monitor reads. Each one is pure: it takes the
// text a file held and returns numbers, or throws a FormatProblem saying what it expected and
// what it found. The reader adds the file name, so every problem names the file and its content.

/** The content of a file was not what the kernel writes there. */
export class FormatProblem extends Error {}

/** A limit at or above 2^60 is the kernel's way of writing "unlimited" (v1 writes ~2^63). */
export const UNLIMITED_AT_OR_ABOVE = 2 ** 60;

/** Quotes at most 80 characters of what a file held, so a problem stays one readable line. */
export function quote(text: string): string {
  const trimmed = text.trim();
  if (trimmed === '') return 'an empty file';
  const shown = trimmed.length > 80 ? `${trimmed.slice(0, 80)}…` : trimmed;
  return JSON.stringify(shown);
}

function problem(expected: string, found: string): FormatProblem {
  return new FormatProblem(`expected ${expected}, found ${found}`);
}

const WHOLE_NUMBER = /^\d+$/;

/** A non-negative integer file such as `memory.current` or `cpuacct.usage`. */
export function parseCount(text: string, what: string): number {
  const value = text.trim();
  if (!WHOLE_NUMBER.test(value)) throw problem(what, quote(text));
  return Number(value);
}

/**
 * A byte limit (`memory.max`, `memory.high`, `memory.limit_in_bytes`): null when unlimited,
 * written as `max` (v2) or as a value at or above 2^60 (v1 writes 9223372036854771712).
 */
export function parseLimitBytes(text: string): number | null {
  const value = text.trim();
  if (value === 'max') return null;
  if (!WHOLE_NUMBER.test(value)) throw problem('a byte count or "max"', quote(text));
  const bytes = Number(value);
  return bytes >= UNLIMITED_AT_OR_ABOVE ? null : bytes;
}

/** cgroup v2 `cpu.max`: `$MAX $PERIOD` (newer kernels may add a burst); null when MAX is `max`. */
export function parseCpuMax(text: string): number | null {
  const fields = text.trim().split(/\s+/);
  const [max, period] = fields;
  const expected = '"$MAX $PERIOD" such as "max 100000" or "50000 100000"';
  if (
    max === undefined ||
    period === undefined ||
    fields.length > 3 ||
    !WHOLE_NUMBER.test(period) ||
    (max !== 'max' && !WHOLE_NUMBER.test(max))
  ) {
    throw problem(expected, quote(text));
  }
  const periodUs = Number(period);
  if (periodUs === 0) throw problem(`${expected} with a period above 0`, quote(text));
  return max === 'max' ? null : Number(max) / periodUs;
}

/** cgroup v1 `cpu.cfs_quota_us` (-1 = no quota) over `cpu.cfs_period_us`, in cores. */
export function parseCfsQuota(quotaText: string, periodText: string): number | null {
  const quota = quotaText.trim();
  if (quota === '-1') return null;
  if (!WHOLE_NUMBER.test(quota)) throw problem('microseconds or -1', quote(quotaText));
  const periodUs = parseCount(periodText, 'microseconds');
  if (periodUs === 0) throw problem('a period above 0 microseconds', quote(periodText));
  return Number(quota) / periodUs;
}

/** Flat keyed files (`memory.stat`, `cpu.stat`): one `key value` pair per line. */
export function parseKeyed(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    const match = /^(\S+)\s+(-?\d+)$/.exec(line.trim());
    if (!match?.[1] || !match[2]) {
      throw problem(`"key value" lines`, `${quote(line)} on line ${index + 1}`);
    }
    values.set(match[1], Number(match[2]));
  }
  return values;
}

/** One key of a keyed file, which must be there. */
export function requireKey(values: Map<string, number>, key: string, text: string): number {
  const value = values.get(key);
  if (value === undefined || value < 0) {
    throw problem(`a "${key}" line`, `no such line in ${quote(text)}`);
  }
  return value;
}

export interface ProcCgroup {
  /** The path of the `0::` (cgroup v2) line, if any. */
  unifiedPath: string | null;
  /** cgroup v1 controller (cpu, cpuacct, memory, ...) -> path. */
  v1Paths: Map<string, string>;
}

/** `/proc/self/cgroup`: `hierarchy-ID:controller-list:cgroup-path` per line. */
export function parseProcCgroup(text: string): ProcCgroup {
  const parsed: ProcCgroup = { unifiedPath: null, v1Paths: new Map() };
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  if (lines.length === 0)
    throw problem('"hierarchy-ID:controller-list:cgroup-path" lines', quote(text));
  for (const [index, line] of lines.entries()) {
    const match = /^(\d+):([^:]*):(\/.*)$/.exec(line);
    if (!match) {
      throw problem(
        '"hierarchy-ID:controller-list:cgroup-path" lines such as "0::/system.slice/app.service"',
        `${quote(line)} on line ${index + 1}`,
      );
    }
    const [, id, controllers = '', path = '/'] = match;
    if (id === '0' && controllers === '') {
      parsed.unifiedPath = path;
      continue;
    }
    for (const controller of controllers.split(',')) {
      if (controller !== '' && !controller.startsWith('name=')) {
        parsed.v1Paths.set(controller, path);
      }
    }
  }
  return parsed;
}

export interface CgroupMount {
  version: 1 | 2;
  /** The cgroup of the hierarchy mounted there (`/` unless the mount shows a subtree). */
  root: string;
  mountPoint: string;
  /** v1: the controllers of the hierarchy; empty for v2. */
  controllers: Set<string>;
}

/** The cgroup mounts of `/proc/self/mountinfo` (proc(5)); other mounts are skipped. */
export function parseMountinfo(text: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    const [before, after] = line.split(' - ');
    const fields = before?.split(' ') ?? [];
    const [fsType, , superOptions = ''] = after?.split(' ') ?? [];
    const root = fields[3];
    const mountPoint = fields[4];
    if (root === undefined || mountPoint === undefined || fsType === undefined) {
      throw problem(
        'mountinfo lines "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - FSTYPE SOURCE OPTIONS"',
        `${quote(line)} on line ${index + 1}`,
      );
    }
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    mounts.push({
      version: fsType === 'cgroup2' ? 2 : 1,
      root: unescapeMountField(root),
      mountPoint: unescapeMountField(mountPoint),
      controllers:
        fsType === 'cgroup' ? new Set(superOptions.split(',').filter(isController)) : new Set(),
    });
  }
  return mounts;
}

const MOUNT_OPTIONS = new Set(['rw', 'ro', 'relatime', 'noatime', 'nosuid', 'nodev', 'noexec']);
function isController(option: string): boolean {
  return option !== '' && !MOUNT_OPTIONS.has(option) && !option.includes('=');
}

/** mountinfo writes space, tab, newline and backslash as octal escapes (`\040`). */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) =>
    String.fromCharCode(Number.parseInt(octal, 8)),
  );
}

/** `/proc/meminfo` values in bytes, by key (`MemTotal`, `MemAvailable`, ...). */
export function parseMeminfo(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(\w[\w()]*):\s+(\d+)(?:\s+kB)?$/.exec(line.trim());
    if (match?.[1] && match[2]) {
      values.set(match[1], Number(match[2]) * (line.trim().endsWith('kB') ? 1024 : 1));
    }
  }
  for (const key of ['MemTotal', 'MemAvailable']) {
    if (!values.has(key)) throw problem(`a "${key}: N kB" line`, `no such line in ${quote(text)}`);
  }
  return values;
}

export interface CpuTimes {
  /** Jiffies spent doing anything but idling or waiting for I/O. */
  busy: number;
  /** All jiffies, busy or not. */
  total: number;
}

/** The aggregate `cpu` line at the top of `/proc/stat` (proc_stat(5)). */
export function parseProcStatTimes(text: string): CpuTimes {
  const first = text.slice(0, text.indexOf('\n') === -1 ? undefined : text.indexOf('\n'));
  return cpuLineTimes(
    first,
    'cpu',
    'a first line "cpu USER NICE SYSTEM IDLE IOWAIT IRQ SOFTIRQ ..."',
  );
}

/**
 * The sum of the `cpuN` lines of /proc/stat for the CPUs in `cpus` (a cpuset): what those
 * CPUs did, whoever ran on them. Every CPU of the set must have its line.
 */
export function parseProcStatTimesOf(text: string, cpus: readonly number[]): CpuTimes {
  const lines = new Map<number, string>();
  for (const line of text.split('\n')) {
    const match = /^cpu(\d+)\s/.exec(line);
    if (match) lines.set(Number(match[1]), line);
  }
  let busy = 0;
  let total = 0;
  for (const cpu of cpus) {
    const line = lines.get(cpu);
    if (line === undefined) throw problem(`a "cpu${cpu} ..." line (CPU ${cpu} is allowed)`, 'none');
    const times = cpuLineTimes(line, `cpu${cpu}`, `"cpu${cpu} USER NICE SYSTEM IDLE ..."`);
    busy += times.busy;
    total += times.total;
  }
  return { busy, total };
}

function cpuLineTimes(line: string, label: string, expected: string): CpuTimes {
  const fields = line.trim().split(/\s+/);
  if (fields[0] !== label || fields.length < 5) throw problem(expected, quote(line));
  const numbers = fields.slice(1).map((field) => (WHOLE_NUMBER.test(field) ? Number(field) : NaN));
  if (numbers.some(Number.isNaN)) throw problem(expected, quote(line));
  // user nice system idle iowait irq softirq steal guest guest_nice: guest time is already
  // counted in user and nice, so it is left out; steal is time this host could not use.
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] =
    numbers;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

/** The numbers N of the `cpuN` lines of /proc/stat: the CPUs online. */
export function parseProcStatCpuIds(text: string): number[] {
  const ids: number[] = [];
  for (const line of text.split('\n')) {
    const match = /^cpu(\d+)\s/.exec(line);
    if (match) ids.push(Number(match[1]));
  }
  if (ids.length === 0) throw problem('one "cpuN ..." line per CPU', `none in ${quote(text)}`);
  return ids;
}

/**
 * `Cpus_allowed_list` of /proc/PID/status, e.g. `0-3,8,10-11`: the CPUs the process may run
 * on (its cpuset, or a narrower affinity), which its children inherit. Sorted, distinct.
 */
export function parseCpusAllowed(statusText: string): number[] {
  const line = statusText.split('\n').find((entry) => entry.startsWith('Cpus_allowed_list:'));
  const expected = 'a line "Cpus_allowed_list: 0-3,8"';
  if (line === undefined) throw problem(expected, 'none');
  const list = line.slice('Cpus_allowed_list:'.length).trim();
  const cpus = new Set<number>();
  for (const part of list.split(',')) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    const first = Number(match?.[1]);
    const last = match?.[2] === undefined ? first : Number(match[2]);
    if (!match || last < first || last - first > 65_535) throw problem(expected, quote(line));
    for (let cpu = first; cpu <= last; cpu++) cpus.add(cpu);
  }
  return [...cpus].sort((a, b) => a - b);
}

export interface PidStat {
  /** R, S, D, Z (zombie), T, X (dead), ... */
  state: string;
  /** utime + stime, in clock ticks. */
  cpuTicks: number;
  /** Start time after boot in clock ticks: tells a reused PID apart. */
  startTicks: number;
  rssPages: number;
}

/**
 * `/proc/PID/stat` (proc_pid_stat(5)). The command name sits in parentheses and may contain
 * spaces and parentheses itself, so fields are counted from the last `)`. Its `rss` field is
 * `get_mm_rss()`: file + anon + shmem pages, the same counters `/proc/PID/statm` adds up as
 * `resident` (fs/proc/task_mmu.c `task_statm`), so one read per PID gives both CPU and RSS.
 */
export function parsePidStat(text: string): PidStat {
  const close = text.lastIndexOf(')');
  const fields =
    close === -1
      ? []
      : text
          .slice(close + 2)
          .trim()
          .split(' ');
  // After the name: state is field 3, utime 14, stime 15, starttime 22, rss 24.
  const at = (field: number) => fields[field - 3];
  const numbers = [14, 15, 22, 24].map((field) => at(field) ?? '');
  if (!at(3) || numbers.some((value) => !/^-?\d+$/.test(value))) {
    throw problem('"PID (COMMAND) STATE PPID ..." with at least 24 fields', quote(text));
  }
  const [utime, stime, start, rss] = numbers.map(Number) as [number, number, number, number];
  return {
    state: at(3) ?? '?',
    cpuTicks: utime + stime,
    startTicks: start,
    rssPages: Math.max(rss, 0),
  };
}

/** `/proc/PID/schedstat`: nanoseconds on a CPU, nanoseconds waiting on a run queue, timeslices. */
export function parseSchedstat(text: string): { runNs: number; waitNs: number } {
  const match = /^(\d+) (\d+) (\d+)\s*$/.exec(text);
  if (!match) throw problem('"RUN_NS WAIT_NS TIMESLICES"', quote(text));
  return { runNs: Number(match[1]), waitNs: Number(match[2]) };
}

export interface PressureLine {
  someAvg10: number;
  fullAvg10: number | null;
}

/** PSI files: `some avg10=0.00 avg60=0.00 avg300=0.00 total=0` and, mostly, a `full` line. */
export function parsePressure(text: string): PressureLine {
  const avg10 = (kind: string) => {
    const match = new RegExp(`^${kind} avg10=(\\d+(?:\\.\\d+)?) `, 'm').exec(text);
    return match?.[1] === undefined ? null : Math.min(Number(match[1]), 100);
  };
  const some = avg10('some');
  if (some === null) {
    throw problem('"some avg10=N avg60=N avg300=N total=N"', quote(text));
  }
  return { someAvg10: some, fullAvg10: avg10('full') };
}

export interface AuxValues {
  pageSizeBytes: number;
  clockTicksPerSecond: number;
}

const AT_PAGESZ = 6n;
const AT_CLKTCK = 17n;

/**
 * `/proc/self/auxv`: (type, value) machine words the kernel hands every process. AT_PAGESZ and
 * AT_CLKTCK are what `getconf PAGESIZE` and `getconf CLK_TCK` print, without spawning them.
 */
export function parseAuxv(bytes: Buffer, wordBytes: 4 | 8, littleEndian: boolean): AuxValues {
  const read = (offset: number): bigint =>
    wordBytes === 8
      ? littleEndian
        ? bytes.readBigUInt64LE(offset)
        : bytes.readBigUInt64BE(offset)
      : BigInt(littleEndian ? bytes.readUInt32LE(offset) : bytes.readUInt32BE(offset));
  let pageSizeBytes: number | null = null;
  let clockTicksPerSecond: number | null = null;
  for (let offset = 0; offset + 2 * wordBytes <= bytes.length; offset += 2 * wordBytes) {
    const type = read(offset);
    const value = Number(read(offset + wordBytes));
    if (type === 0n) break;
    if (type === AT_PAGESZ) pageSizeBytes = value;
    if (type === AT_CLKTCK) clockTicksPerSecond = value;
  }
  if (!pageSizeBytes || !clockTicksPerSecond) {
    throw problem('AT_PAGESZ (6) and AT_CLKTCK (17) entries', `${bytes.length} bytes without them`);
  }
  return { pageSizeBytes, clockTicksPerSecond };
}
