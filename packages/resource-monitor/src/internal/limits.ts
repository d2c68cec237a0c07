import { access, readFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import { dirname, join } from 'node:path';
import type { ResourceSource } from '@qscale/contracts';
import { describeProblem, type FileProblem, readText, readTextIfPresent } from './files.js';
import {
  type AuxValues,
  type CgroupMount,
  type ProcCgroup,
  parseAuxv,
  parseCfsQuota,
  parseCpuMax,
  parseCpusAllowed,
  parseLimitBytes,
  parseMeminfo,
  parseMountinfo,
  parseProcCgroup,
  parseProcStatCpuIds,
} from './parse.js';

export interface Roots {
  procRoot: string;
  sysRoot: string;
}

/** Where CPU use is read each tick. */
export type CpuUsagePlan =
  | { kind: 'cgroup-v2'; file: string }
  | { kind: 'cgroup-v1'; file: string }
  /** /proc/stat: the aggregate line, or the lines of `cpus` only (a cpuset). */
  | { kind: 'host'; file: string; cpus: readonly number[] | null };

/** Where memory use is read each tick. */
export type MemoryUsagePlan =
  | { kind: 'cgroup-v2'; usageFile: string; statFile: string }
  | { kind: 'cgroup-v1'; usageFile: string; statFile: string }
  | { kind: 'host'; file: string };

export interface ResourcePlan<Usage> {
  /** Where the limit came from. */
  source: ResourceSource;
  /** The cgroup directory whose limit binds; null when the host is the limit. */
  cgroupDir: string | null;
  /** null when a limit file could not be read: the limit is unknown, so is its use. */
  usage: Usage | null;
}

export interface Limits {
  readAt: number;
  /** CPUs online (`cpuN` lines of /proc/stat). */
  hostCores: number | null;
  /**
   * The CPUs this process (and so its workers, which inherit it) may run on, when fewer than
   * those online: a cpuset (Docker `--cpuset-cpus`, Kubernetes' static CPU manager) or a
   * narrower affinity. null when every online CPU is allowed or the list is unknown.
   */
  allowedCpus: number[] | null;
  /** MemTotal of /proc/meminfo. */
  hostMemoryBytes: number | null;
  cpu: ResourcePlan<CpuUsagePlan> & { limitCores: number | null };
  memory: ResourcePlan<MemoryUsagePlan> & { limitBytes: number | null };
  /** PSI files, or null where the kernel has none. */
  pressure: { cpuFile: string | null; memoryFile: string | null };
  aux: AuxValues;
  problems: FileProblem[];
}

/** Used only when /proc/self/auxv cannot be read; the problem is reported. */
const FALLBACK_AUX: AuxValues = { pageSizeBytes: 4_096, clockTicksPerSecond: 100 };

const WORD_BYTES: 4 | 8 = [
  'arm64',
  'x64',
  'ppc64',
  's390x',
  'riscv64',
  'loong64',
  'mips64el',
].includes(process.arch)
  ? 8
  : 4;

/**
 * Finds the cgroup this process runs in and reads its CPU and memory limits, falling back to
 * the host where the cgroup sets none. Never throws: what cannot be read is a problem entry
 * and an unknown (null) figure.
 */
export async function readLimits(roots: Roots, now: number): Promise<Limits> {
  const problems: FileProblem[] = [];
  const attempt = async <T>(file: string, read: () => Promise<T>): Promise<T | null> => {
    try {
      return await read();
    } catch (error) {
      problems.push(describeProblem(file, error));
      return null;
    }
  };
  const proc = (...parts: string[]) => join(roots.procRoot, ...parts);

  const statFile = proc('stat');
  const onlineCpus = await attempt(statFile, async () =>
    parseProcStatCpuIds(await readText(statFile)),
  );
  const hostCores = onlineCpus?.length ?? null;
  const statusFile = proc('self', 'status');
  const allowed = await attempt(statusFile, async () => {
    const text = await readTextIfPresent(statusFile);
    return text === null ? null : parseCpusAllowed(text);
  });
  const allowedCpus = cpuset(onlineCpus, allowed);
  // Without a quota, the CPUs this process may use are the limit.
  const availableCores = allowedCpus?.length ?? hostCores;
  const meminfoFile = proc('meminfo');
  const hostMemoryBytes = await attempt(
    meminfoFile,
    async () => parseMeminfo(await readText(meminfoFile)).get('MemTotal') ?? null,
  );
  const auxvFile = proc('self', 'auxv');
  const aux =
    (await attempt(auxvFile, async () =>
      parseAuxv(await readFile(auxvFile), WORD_BYTES, endianness() === 'LE'),
    )) ?? FALLBACK_AUX;
  const auxProblem = problems.find((entry) => entry.file === auxvFile);
  if (auxProblem) {
    auxProblem.message += `; assuming ${FALLBACK_AUX.pageSizeBytes}-byte pages and ${FALLBACK_AUX.clockTicksPerSecond} clock ticks per second`;
  }

  const cgroupFile = proc('self', 'cgroup');
  let cgroups: ProcCgroup | null = null;
  let cgroupsKnown = true;
  try {
    const text = await readTextIfPresent(cgroupFile);
    cgroups = text === null ? null : parseProcCgroup(text);
  } catch (error) {
    problems.push(describeProblem(cgroupFile, error));
    cgroupsKnown = false;
  }
  const mountinfoFile = proc('self', 'mountinfo');
  const mounts = await attempt(mountinfoFile, async () => {
    const text = await readTextIfPresent(mountinfoFile);
    return text === null ? null : parseMountinfo(text);
  });

  const hostCpu = { kind: 'host', file: statFile, cpus: allowedCpus } as const;
  const hostMemory = { kind: 'host', file: meminfoFile } as const;
  const unknown = { source: 'host', cgroupDir: null, usage: null } as const;
  if (!cgroupsKnown) {
    return {
      readAt: now,
      hostCores,
      allowedCpus,
      hostMemoryBytes,
      cpu: { ...unknown, limitCores: null },
      memory: { ...unknown, limitBytes: null },
      pressure: await hostPressure(roots),
      aux,
      problems,
    };
  }

  const finder = new CgroupFinder(roots, cgroups, mounts, problems);
  const cpuCgroup = await finder.locate('cpu');
  const memoryCgroup = await finder.locate('memory');
  const cpu = await cpuPlan(finder, cpuCgroup, availableCores, hostCpu, problems);
  const memory = await memoryPlan(memoryCgroup, hostMemoryBytes, hostMemory, problems);
  const pressure = await pressureFiles(finder, roots, cpuCgroup, memoryCgroup);
  return {
    readAt: now,
    hostCores,
    allowedCpus,
    hostMemoryBytes,
    cpu,
    memory,
    pressure,
    aux,
    problems,
  };
}

/** The allowed CPUs that are online, when they are some but not all of them; else null. */
function cpuset(online: number[] | null, allowed: number[] | null): number[] | null {
  if (!online || !allowed) return null;
  const usable = online.filter((cpu) => allowed.includes(cpu));
  return usable.length > 0 && usable.length < online.length ? usable : null;
}

interface Located {
  version: 1 | 2;
  /** The cgroup of this process for the controller. */
  dir: string;
  /** Where the hierarchy is mounted: the walk up stops there. */
  mountDir: string;
}

/** Resolves a controller's cgroup directory from /proc/self/cgroup and mountinfo. */
class CgroupFinder {
  constructor(
    private readonly roots: Roots,
    private readonly cgroups: ProcCgroup | null,
    private readonly mounts: CgroupMount[] | null,
    private readonly problems: FileProblem[],
  ) {}

  /** The v1 hierarchy listing the controller, else v2 if it offers it, else null (host). */
  async locate(controller: string): Promise<Located | null> {
    if (!this.cgroups) return null;
    const v1Path = this.cgroups.v1Paths.get(controller);
    if (v1Path !== undefined) {
      const mount = this.mounts?.find((m) => m.version === 1 && m.controllers.has(controller));
      const mountDir = mount
        ? this.reroot(mount.mountPoint)
        : await this.firstExisting(
            // cpu and cpuacct are usually mounted together, under either name order.
            [controller, 'cpu,cpuacct', 'cpuacct,cpu']
              .filter((name) => name === controller || name.split(',').includes(controller))
              .map((name) => join(this.roots.sysRoot, 'fs/cgroup', name)),
          );
      if (mountDir === null) {
        this.problems.push({
          file: join(this.roots.procRoot, 'self/cgroup'),
          message: `lists the cgroup v1 ${controller} controller, but no ${controller} hierarchy is mounted under ${join(this.roots.sysRoot, 'fs/cgroup')}; using host figures`,
        });
        return null;
      }
      return { version: 1, ...(await this.join(mountDir, mount?.root ?? '/', v1Path)) };
    }
    const unified = await this.unified();
    if (!unified) return null;
    const available = await readTextIfPresent(join(unified.mountDir, 'cgroup.controllers')).catch(
      () => null,
    );
    if (!available?.split(/\s+/).includes(controller)) return null;
    return { version: 2, ...unified };
  }

  /** The v2 cgroup of this process, whichever controllers it has. */
  async unified(): Promise<{ dir: string; mountDir: string } | null> {
    const path = this.cgroups?.unifiedPath;
    if (path == null) return null;
    const mount = this.mounts?.find((m) => m.version === 2);
    const mountDir = mount
      ? this.reroot(mount.mountPoint)
      : await this.firstExisting(
          ['fs/cgroup', 'fs/cgroup/unified'].map((dir) =>
            join(this.roots.sysRoot, dir, 'cgroup.controllers'),
          ),
        ).then((file) => (file === null ? null : dirname(file)));
    if (mountDir === null) return null;
    return this.join(mountDir, mount?.root ?? '/', path);
  }

  /**
   * The cgroup's directory under the mount. A mount may show a subtree (its root), and inside
   * a cgroup namespace or a container the path may not exist under the mount: then the
   * mount's own directory is the cgroup, as libuv also assumes.
   */
  private async join(mountDir: string, root: string, path: string) {
    const inside =
      root === '/'
        ? path
        : path === root || path.startsWith(`${root}/`)
          ? path.slice(root.length) || '/'
          : '/';
    const dir = join(mountDir, inside);
    return { dir: (await exists(dir)) ? dir : mountDir, mountDir };
  }

  /** mountinfo names real paths; tests and chroots read them under another sysRoot. */
  private reroot(mountPoint: string): string {
    if (this.roots.sysRoot === '/sys') return mountPoint;
    if (mountPoint === '/sys' || mountPoint.startsWith('/sys/')) {
      return join(this.roots.sysRoot, mountPoint.slice('/sys'.length));
    }
    return join(this.roots.sysRoot, mountPoint);
  }

  private async firstExisting(paths: string[]): Promise<string | null> {
    for (const path of paths) if (await exists(path)) return path;
    return null;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** From the cgroup up to the mount: limits are hierarchical, the smallest one binds. */
function levels(located: Located): string[] {
  const dirs = [located.dir];
  let dir = located.dir;
  while (dir !== located.mountDir && dir.startsWith(located.mountDir) && dir !== dirname(dir)) {
    dir = dirname(dir);
    dirs.push(dir);
  }
  return dirs;
}

interface Bound {
  value: number;
  dir: string;
  depth: number;
}

/** The smallest limit along the walk up; undefined when a file could not be read. */
async function smallestLimit(
  dirs: string[],
  read: (dir: string) => Promise<number | null>,
  problems: FileProblem[],
): Promise<Bound | null | undefined> {
  let best: Bound | null = null;
  for (const [depth, dir] of dirs.entries()) {
    try {
      const value = await read(dir);
      if (value !== null && (best === null || value < best.value)) best = { value, dir, depth };
    } catch (error) {
      problems.push(
        error instanceof LimitFileError
          ? describeProblem(error.file, error.cause)
          : describeProblem(dir, error),
      );
      return undefined;
    }
  }
  return best;
}

/** Carries the exact file a limit read failed on. */
class LimitFileError extends Error {
  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    super(`cannot read ${file}`, { cause });
  }
}

/** Reads a limit file of one level; absent means no limit at that level. */
async function limitFile<T>(file: string, parse: (text: string) => T): Promise<T | null> {
  try {
    const text = await readTextIfPresent(file);
    return text === null ? null : parse(text);
  } catch (error) {
    throw new LimitFileError(file, error);
  }
}

/** `availableCores`: the host's CPUs, or those of this process's cpuset when fewer. */
async function cpuPlan(
  finder: CgroupFinder,
  located: Located | null,
  availableCores: number | null,
  host: CpuUsagePlan,
  problems: FileProblem[],
): Promise<Limits['cpu']> {
  const hostPlan = {
    source: 'host',
    cgroupDir: null,
    usage: host,
    limitCores: availableCores,
  } as const;
  if (!located) return hostPlan;
  const source = located.version === 2 ? 'cgroup-v2' : 'cgroup-v1';
  const bound = await smallestLimit(
    levels(located),
    async (dir) => {
      if (located.version === 2) return limitFile(join(dir, 'cpu.max'), parseCpuMax);
      const quota = await limitFile(join(dir, 'cpu.cfs_quota_us'), (text) => text);
      if (quota === null) return null;
      return limitFile(join(dir, 'cpu.cfs_period_us'), (period) => parseCfsQuota(quota, period));
    },
    problems,
  );
  if (bound === undefined) return { source, cgroupDir: located.dir, usage: null, limitCores: null };
  // A quota the host (or the cpuset) cannot give is no limit: the CPUs are.
  if (bound === null || (availableCores !== null && bound.value >= availableCores)) return hostPlan;
  if (located.version === 2) {
    return {
      source,
      cgroupDir: bound.dir,
      usage: { kind: 'cgroup-v2', file: join(bound.dir, 'cpu.stat') },
      limitCores: bound.value,
    };
  }
  // v1 counts CPU time in the cpuacct hierarchy, often mounted apart from cpu: take the
  // same level of it.
  const accounting = await finder.locate('cpuacct');
  if (!accounting) {
    return { source, cgroupDir: bound.dir, usage: null, limitCores: bound.value };
  }
  const accountingDir = levels(accounting)[bound.depth] ?? accounting.mountDir;
  return {
    source,
    cgroupDir: bound.dir,
    usage: { kind: 'cgroup-v1', file: join(accountingDir, 'cpuacct.usage') },
    limitCores: bound.value,
  };
}

async function memoryPlan(
  located: Located | null,
  hostMemoryBytes: number | null,
  host: MemoryUsagePlan,
  problems: FileProblem[],
): Promise<Limits['memory']> {
  const hostPlan = {
    source: 'host',
    cgroupDir: null,
    usage: host,
    limitBytes: hostMemoryBytes,
  } as const;
  if (!located) return hostPlan;
  const source = located.version === 2 ? 'cgroup-v2' : 'cgroup-v1';
  const bound = await smallestLimit(
    levels(located),
    async (dir) => {
      if (located.version === 1) {
        return limitFile(join(dir, 'memory.limit_in_bytes'), parseLimitBytes);
      }
      // Above memory.high the kernel throttles and reclaims hard: that is the usable limit.
      const limits = [
        await limitFile(join(dir, 'memory.max'), parseLimitBytes),
        await limitFile(join(dir, 'memory.high'), parseLimitBytes),
      ].filter((value) => value !== null);
      return limits.length === 0 ? null : Math.min(...limits);
    },
    problems,
  );
  if (bound === undefined) {
    return { source, cgroupDir: located.dir, usage: null, limitBytes: null };
  }
  if (bound === null || (hostMemoryBytes !== null && bound.value >= hostMemoryBytes)) {
    return hostPlan;
  }
  const usage: MemoryUsagePlan =
    located.version === 2
      ? {
          kind: 'cgroup-v2',
          usageFile: join(bound.dir, 'memory.current'),
          statFile: join(bound.dir, 'memory.stat'),
        }
      : {
          kind: 'cgroup-v1',
          usageFile: join(bound.dir, 'memory.usage_in_bytes'),
          statFile: join(bound.dir, 'memory.stat'),
        };
  return { source, cgroupDir: bound.dir, usage, limitBytes: bound.value };
}

/** PSI of this process's v2 cgroup where there is one, else the host's /proc/pressure. */
async function pressureFiles(
  finder: CgroupFinder,
  roots: Roots,
  cpu: Located | null,
  memory: Located | null,
): Promise<Limits['pressure']> {
  const host = await hostPressure(roots);
  const unified = await finder.unified();
  // On a hybrid host the v2 tree holds no controllers: its root PSI is the host's anyway.
  const own = async (name: string, located: Located | null, fallback: string | null) => {
    if (!unified || located?.version === 1) return fallback;
    const file = join(unified.dir, name);
    return (await exists(file)) ? file : fallback;
  };
  return {
    cpuFile: await own('cpu.pressure', cpu, host.cpuFile),
    memoryFile: await own('memory.pressure', memory, host.memoryFile),
  };
}

async function hostPressure(roots: Roots): Promise<Limits['pressure']> {
  const file = (name: string) => join(roots.procRoot, 'pressure', name);
  return {
    cpuFile: (await exists(file('cpu'))) ? file('cpu') : null,
    memoryFile: (await exists(file('memory'))) ? file('memory') : null,
  };
}
