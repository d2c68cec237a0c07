import { join } from 'node:path';
import {
  type Logger,
  type Pressure,
  type ResourceSnapshot,
  type ResourceSource,
  silentLogger,
  type WorkerResources,
} from '@qscale/contracts';
import { DEFAULTS } from './defaults.js';
import { ResourceMonitorError } from './errors.js';
import { describeProblem, errorCode, type FileProblem, isAbsent, KeptFile } from './files.js';
import { type Limits, readLimits } from './limits.js';
import {
  parseCount,
  parseKeyed,
  parseMeminfo,
  parsePidStat,
  parsePressure,
  parseProcStatTimes,
  parseProcStatTimesOf,
  parseSchedstat,
  requireKey,
} from './parse.js';

export interface ResourceMonitorOptions {
  /** Where procfs is mounted; a fixture tree in tests. @defaultValue `/proc` */
  procRoot?: string;
  /** Where sysfs is mounted; a fixture tree in tests. @defaultValue `/sys` */
  sysRoot?: string;
  /** Receives a warning when a file becomes unreadable, and the limits when they change. */
  logger?: Logger;
  /** The clock, epoch milliseconds: stamps snapshots and times CPU deltas. @defaultValue `Date.now` */
  now?: () => number;
  /** How often limits are read again. @defaultValue 60000 */
  limitsRefreshMs?: number;
}

/** What the monitor found about the limits, for `qscale resources` and the daemon's log. */
export interface ResourceLimits {
  /** When they were read, epoch milliseconds. */
  at: number;
  /** Where the limits came from overall (memory's source, else CPU's). */
  source: ResourceSource;
  cpu: {
    source: ResourceSource;
    /** Quota in cores, or the host's CPUs without one; null when unknown. */
    limitCores: number | null;
    /** CPUs online on the host. */
    hostCores: number | null;
    /**
     * The CPUs this process and its workers may run on (cpuset or affinity) when fewer than
     * those online; null when all. Without a quota, their number is `limitCores`.
     */
    allowedCpus: number[] | null;
    /** The cgroup whose quota binds; null when the host is the limit. */
    cgroupDir: string | null;
  };
  memory: {
    source: ResourceSource;
    /** Limit in bytes, or the host's MemTotal without one; null when unknown. */
    limitBytes: number | null;
    hostBytes: number | null;
    cgroupDir: string | null;
  };
  /** Page size and clock ticks, from /proc/self/auxv. */
  pageSizeBytes: number;
  clockTicksPerSecond: number;
  /** Files that could not be read or parsed while reading the limits. */
  errors: FileProblem[];
}

/** One per daemon: it keeps the counters CPU use is computed from. */
export interface ResourceMonitor {
  /**
   * CPU and memory of the cgroup (or host), and RSS and CPU of each PID in `pids`. CPU figures
   * are deltas since the previous call, so the first call has null CPU use. Never throws on
   * unreadable files: the figure is null and `errors` names the file and what it held. A PID
   * that cannot be read (it exited, or is a zombie) is left out of `perWorker`, with an entry
   * in `errors`. Calls run one after another.
   */
  snapshot(pids?: readonly number[]): Promise<ResourceSnapshot>;
  /** The limits as last read (reading them if they are older than `limitsRefreshMs`). */
  limits(): Promise<ResourceLimits>;
  /** Closes the files kept open between calls; calling it again does nothing. */
  close(): Promise<void>;
}

interface CounterSample {
  file: string;
  value: number;
  total: number;
  atMs: number;
}

interface WorkerState {
  file: KeptFile;
  /** `/proc/PID/schedstat`; null once the kernel is found not to have it. */
  schedFile: KeptFile | null;
  startTicks: number;
  cpuTicks: number;
  /** Run-queue wait so far (schedstat), ns; null when unknown. */
  waitNs: number | null;
  atMs: number;
}

/**
 * A monitor over the cgroup the calling process runs in. Nothing happens until the first
 * call: no timers, no reads at creation.
 */
export function createResourceMonitor(options: ResourceMonitorOptions = {}): ResourceMonitor {
  const procRoot = checkRoot('procRoot', options.procRoot ?? DEFAULTS.procRoot);
  const sysRoot = checkRoot('sysRoot', options.sysRoot ?? DEFAULTS.sysRoot);
  const refreshMs = options.limitsRefreshMs ?? DEFAULTS.limitsRefreshMs;
  if (!Number.isFinite(refreshMs) || refreshMs < 0) {
    throw new ResourceMonitorError(
      'RESOURCE_OPTIONS_INVALID',
      `limitsRefreshMs: expected a number of milliseconds >= 0, got ${String(refreshMs)}`,
    );
  }
  const logger = options.logger ?? silentLogger;
  const now = options.now ?? Date.now;

  let limits: Limits | null = null;
  let closed = false;
  let queue: Promise<unknown> = Promise.resolve();
  const files = new Map<string, KeptFile>();
  const workers = new Map<number, WorkerState>();
  let previousCpu: CounterSample | null = null;
  let loggedProblems = new Set<string>();

  /** Runs calls one after another: CPU deltas need one previous sample, not a race. */
  function serialised<T>(run: () => Promise<T>, evenIfClosed = false): Promise<T> {
    const result = queue.then(() => {
      if (closed && !evenIfClosed) {
        throw new ResourceMonitorError('RESOURCE_MONITOR_CLOSED', 'the resource monitor is closed');
      }
      return run();
    });
    queue = result.catch(() => {});
    return result;
  }

  async function currentLimits(atMs: number): Promise<Limits> {
    if (limits && atMs - limits.readAt < refreshMs && atMs >= limits.readAt) return limits;
    const fresh = await readLimits({ procRoot, sysRoot }, atMs);
    if (!limits || describeLimits(limits) !== describeLimits(fresh)) {
      logger.info('resource limits read', {
        source: sourceOf(fresh),
        cpuSource: fresh.cpu.source,
        cpuLimitCores: fresh.cpu.limitCores,
        cpuCgroup: fresh.cpu.cgroupDir,
        ...(fresh.allowedCpus ? { allowedCpus: fresh.allowedCpus.join(',') } : {}),
        memorySource: fresh.memory.source,
        memoryLimitBytes: fresh.memory.limitBytes,
        memoryCgroup: fresh.memory.cgroupDir,
      });
    }
    limits = fresh;
    await closeFilesExcept(usageFiles(fresh));
    return fresh;
  }

  function kept(path: string, maxBytes: number | null = null): KeptFile {
    let file = files.get(path);
    if (!file) {
      file = new KeptFile(path, { maxBytes });
      files.set(path, file);
    }
    return file;
  }

  async function closeFilesExcept(keep: Set<string>): Promise<void> {
    for (const [path, file] of files) {
      if (keep.has(path)) continue;
      files.delete(path);
      await file.close().catch(() => {});
    }
  }

  async function readCpu(plan: Limits['cpu'], atMs: number, problems: FileProblem[]) {
    const usage = plan.usage;
    if (!usage) return null;
    let sample: CounterSample;
    try {
      // Without a cpuset only the aggregate first line of /proc/stat is needed; the rest can
      // be kilobytes.
      const firstLineOnly = usage.kind === 'host' && usage.cpus === null;
      const text = await kept(usage.file, firstLineOnly ? 4_096 : null).read();
      if (usage.kind === 'host') {
        const times = usage.cpus
          ? parseProcStatTimesOf(text, usage.cpus)
          : parseProcStatTimes(text);
        // The CPUs counted are part of what the sample is of: another set is another counter.
        const counter = usage.cpus ? `${usage.file} cpus ${usage.cpus.join(',')}` : usage.file;
        sample = { file: counter, value: times.busy, total: times.total, atMs };
      } else {
        const seconds =
          usage.kind === 'cgroup-v2'
            ? requireKey(parseKeyed(text), 'usage_usec', text) / 1e6
            : parseCount(text, 'CPU time in nanoseconds') / 1e9;
        sample = { file: usage.file, value: seconds, total: atMs / 1_000, atMs };
      }
    } catch (error) {
      problems.push(describeProblem(usage.file, error));
      previousCpu = null;
      return null;
    }
    const before = previousCpu;
    previousCpu = sample;
    if (!before || before.file !== sample.file) return null;
    const used = sample.value - before.value;
    const elapsed = sample.total - before.total;
    // A counter that went back (a new cgroup) or a clock that did not move gives no rate.
    if (used < 0 || elapsed <= 0) return null;
    if (usage.kind === 'host') {
      // Busy share of all jiffies, times the CPUs: no clock tick rate or wall time needed.
      return plan.limitCores === null ? null : (used / elapsed) * plan.limitCores;
    }
    return used / elapsed;
  }

  async function readMemory(plan: Limits['memory'], problems: FileProblem[]) {
    const usage = plan.usage;
    if (!usage) return null;
    if (usage.kind === 'host') {
      try {
        const meminfo = parseMeminfo(await kept(usage.file).read());
        return Math.max((meminfo.get('MemTotal') ?? 0) - (meminfo.get('MemAvailable') ?? 0), 0);
      } catch (error) {
        problems.push(describeProblem(usage.file, error));
        return null;
      }
    }
    let current: number;
    let stat: string;
    try {
      current = parseCount(await kept(usage.usageFile).read(), 'a byte count');
    } catch (error) {
      problems.push(describeProblem(usage.usageFile, error));
      return null;
    }
    try {
      stat = await kept(usage.statFile).read();
      // Working set, as cAdvisor and the kubelet count it: usage minus inactive file cache.
      const key = usage.kind === 'cgroup-v2' ? 'inactive_file' : 'total_inactive_file';
      return Math.max(current - requireKey(parseKeyed(stat), key, stat), 0);
    } catch (error) {
      problems.push(describeProblem(usage.statFile, error));
      return null;
    }
  }

  async function readPressure(
    pressureFiles: Limits['pressure'],
    problems: FileProblem[],
  ): Promise<Pressure | null> {
    const read = async (file: string | null) => {
      if (file === null) return null;
      try {
        return parsePressure(await kept(file).read());
      } catch (error) {
        if (isAbsent(error)) return null;
        problems.push(describeProblem(file, error));
        return 'unknown' as const;
      }
    };
    const [cpu, memory] = await Promise.all([
      read(pressureFiles.cpuFile),
      read(pressureFiles.memoryFile),
    ]);
    if (cpu === null && memory === null) return null;
    const known = <T>(value: T | 'unknown' | null) => (value === 'unknown' ? null : value);
    return {
      cpuSomeAvg10: known(cpu)?.someAvg10 ?? null,
      memorySomeAvg10: known(memory)?.someAvg10 ?? null,
      memoryFullAvg10: known(memory)?.fullAvg10 ?? null,
    };
  }

  async function readWorker(
    pid: number,
    aux: Limits['aux'],
    atMs: number,
    problems: FileProblem[],
  ): Promise<WorkerResources | null> {
    let state = workers.get(pid);
    const file =
      state?.file ?? new KeptFile(join(procRoot, String(pid), 'stat'), { initialBytes: 1_024 });
    const schedFile =
      state === undefined
        ? new KeptFile(join(procRoot, String(pid), 'schedstat'), { initialBytes: 128 })
        : state.schedFile;
    const forget = async () => {
      workers.delete(pid);
      await file.close().catch(() => {});
      await schedFile?.close().catch(() => {});
    };
    let stat: ReturnType<typeof parsePidStat>;
    try {
      stat = parsePidStat(await file.read());
    } catch (error) {
      await forget();
      const code = errorCode(error);
      problems.push(
        code === 'ENOENT' || code === 'ESRCH'
          ? { file: file.path, message: `process ${pid} does not exist: it exited` }
          : describeProblem(file.path, error),
      );
      return null;
    }
    if (stat.state === 'Z' || stat.state === 'X') {
      await forget();
      problems.push({
        file: file.path,
        message: `process ${pid} has exited (state ${stat.state}) and is not reaped yet`,
      });
      return null;
    }
    const waitNs = await readWaitNs(schedFile, problems);
    // A new start time is a new process under a reused PID: its counters start over.
    const previous = state && state.startTicks === stat.startTicks ? state : null;
    const elapsedSeconds = previous ? (atMs - previous.atMs) / 1_000 : 0;
    const usedTicks = previous ? stat.cpuTicks - previous.cpuTicks : -1;
    const waitedNs =
      previous?.waitNs != null && typeof waitNs === 'number'
        ? waitNs - previous.waitNs
        : Number.NaN;
    state = {
      file,
      // A kernel without schedstat (no CONFIG_SCHED_INFO) is not asked again for this PID.
      schedFile: waitNs === 'absent' ? null : schedFile,
      startTicks: stat.startTicks,
      cpuTicks: stat.cpuTicks,
      waitNs: typeof waitNs === 'number' ? waitNs : null,
      atMs,
    };
    if (waitNs === 'absent') await schedFile?.close().catch(() => {});
    workers.set(pid, state);
    const waitKnown = elapsedSeconds > 0 && waitedNs >= 0;
    return {
      rssBytes: stat.rssPages * aux.pageSizeBytes,
      cpuCores:
        elapsedSeconds > 0 && usedTicks >= 0
          ? usedTicks / aux.clockTicksPerSecond / elapsedSeconds
          : null,
      ...(waitNs === 'absent' || schedFile === null
        ? {}
        : { cpuWaitCores: waitKnown ? waitedNs / 1e9 / elapsedSeconds : null }),
    };
  }

  /** Run-queue wait in ns; 'absent' when the kernel has no schedstat; null when unreadable. */
  async function readWaitNs(
    schedFile: KeptFile | null,
    problems: FileProblem[],
  ): Promise<number | 'absent' | null> {
    if (schedFile === null) return 'absent';
    try {
      return parseSchedstat(await schedFile.read()).waitNs;
    } catch (error) {
      if (isAbsent(error)) return 'absent';
      problems.push(describeProblem(schedFile.path, error));
      return null;
    }
  }

  async function readWorkers(
    pids: readonly number[],
    aux: Limits['aux'],
    atMs: number,
    problems: FileProblem[],
  ): Promise<Record<string, WorkerResources>> {
    const wanted = new Set(pids);
    for (const [pid, state] of workers) {
      if (wanted.has(pid)) continue;
      workers.delete(pid);
      await state.file.close().catch(() => {});
      await state.schedFile?.close().catch(() => {});
    }
    const read = await Promise.all(
      [...wanted].map(async (pid) => [pid, await readWorker(pid, aux, atMs, problems)] as const),
    );
    const perWorker: Record<string, WorkerResources> = {};
    for (const [pid, resources] of read) if (resources) perWorker[String(pid)] = resources;
    return perWorker;
  }

  function report(problems: FileProblem[]): void {
    const seen = new Set<string>();
    for (const problem of problems) {
      const key = `${problem.file}\n${problem.message}`;
      seen.add(key);
      if (loggedProblems.has(key)) continue;
      // A worker that exits between the supervisor's list and the read is routine.
      const routine = /\/\d+\/(?:sched)?stat$/.test(problem.file);
      logger[routine ? 'debug' : 'warn']('resource figure unknown', { ...problem });
    }
    loggedProblems = seen;
  }

  async function takeSnapshot(pids: readonly number[]): Promise<ResourceSnapshot> {
    for (const pid of pids) {
      if (!Number.isSafeInteger(pid) || pid <= 0) {
        throw new ResourceMonitorError(
          'RESOURCE_OPTIONS_INVALID',
          `snapshot(pids): expected process IDs (whole numbers above 0), got ${JSON.stringify(pid)}`,
        );
      }
    }
    const atMs = now();
    const current = await currentLimits(atMs);
    // The reads overlap; each keeps its own problems, so errors (and their log lines) come
    // in the same order every time: limits, CPU, memory, pressure, workers.
    const cpuProblems: FileProblem[] = [];
    const memoryProblems: FileProblem[] = [];
    const pressureProblems: FileProblem[] = [];
    const workerProblems: FileProblem[] = [];
    const [usedCores, usedBytes, pressure, perWorker] = await Promise.all([
      readCpu(current.cpu, atMs, cpuProblems),
      readMemory(current.memory, memoryProblems),
      readPressure(current.pressure, pressureProblems),
      readWorkers(pids, current.aux, atMs, workerProblems),
    ]);
    const errors = distinct([
      ...current.problems,
      ...cpuProblems,
      ...memoryProblems,
      ...pressureProblems,
      ...workerProblems,
    ]);
    report(errors);
    return {
      at: Math.round(atMs),
      source: sourceOf(current),
      cpu: { limitCores: current.cpu.limitCores, usedCores },
      memory: { limitBytes: current.memory.limitBytes, usedBytes },
      pressure,
      perWorker,
      errors,
    };
  }

  return {
    snapshot: (pids = []) => serialised(() => takeSnapshot(pids)),
    limits: () =>
      serialised(async () => {
        const current = await currentLimits(now());
        return {
          at: current.readAt,
          source: sourceOf(current),
          cpu: {
            source: current.cpu.source,
            limitCores: current.cpu.limitCores,
            hostCores: current.hostCores,
            allowedCpus: current.allowedCpus,
            cgroupDir: current.cpu.cgroupDir,
          },
          memory: {
            source: current.memory.source,
            limitBytes: current.memory.limitBytes,
            hostBytes: current.hostMemoryBytes,
            cgroupDir: current.memory.cgroupDir,
          },
          pageSizeBytes: current.aux.pageSizeBytes,
          clockTicksPerSecond: current.aux.clockTicksPerSecond,
          errors: [...current.problems],
        };
      }),
    close: () =>
      serialised(async () => {
        closed = true;
        await closeFilesExcept(new Set());
        for (const state of workers.values()) {
          await state.file.close().catch(() => {});
          await state.schedFile?.close().catch(() => {});
        }
        workers.clear();
      }, true),
  };
}

function checkRoot(name: string, value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/')) {
    throw new ResourceMonitorError(
      'RESOURCE_OPTIONS_INVALID',
      `${name}: expected an absolute directory path such as /${name.replace('Root', '')}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** A file read twice (at a limits refresh and in the tick) is one problem, not two. */
function distinct(problems: FileProblem[]): FileProblem[] {
  const seen = new Set<string>();
  return problems.filter((problem) => {
    const key = `${problem.file}\n${problem.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function sourceOf(limits: Limits): ResourceSource {
  return limits.memory.source !== 'host' ? limits.memory.source : limits.cpu.source;
}

function usageFiles(limits: Limits): Set<string> {
  const paths = new Set<string>();
  const cpu = limits.cpu.usage;
  if (cpu) paths.add(cpu.file);
  const memory = limits.memory.usage;
  if (memory?.kind === 'host') paths.add(memory.file);
  else if (memory) {
    paths.add(memory.usageFile);
    paths.add(memory.statFile);
  }
  for (const file of [limits.pressure.cpuFile, limits.pressure.memoryFile]) {
    if (file) paths.add(file);
  }
  return paths;
}

function describeLimits(limits: Limits): string {
  const { cpu, memory } = limits;
  return JSON.stringify([
    cpu.source,
    cpu.limitCores,
    cpu.cgroupDir,
    limits.allowedCpus,
    memory.source,
    memory.limitBytes,
    memory.cgroupDir,
  ]);
}
