import { setTimeout as sleep } from 'node:timers/promises';
import type { HostCapacity, ResourceSnapshot } from '@qscale/contracts';
import { ConfigError, formatProblem, loadConfig, type QscaleConfig } from '@qscale/daemon/config';
import { capacity, createResourceMonitor, type ResourceLimits } from '@qscale/resource-monitor';
import { plural } from '../internal/format.js';
import { type CliIo, EXIT, type ExitCode, line } from '../internal/io.js';
import type { ResourcesArgs } from '../specs/resources.js';

/** CPU use is a delta between two readings: this far apart. Not the daemon's tick path. */
const SAMPLE_MS = 1_000;

export async function run({ values }: ResourcesArgs, io: CliIo): Promise<ExitCode> {
  let config: QscaleConfig | null = null;
  if (values.config !== undefined) {
    try {
      config = await loadConfig(values.config, { env: io.env });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      for (const problem of error.problems) line(io.stdout, formatProblem(problem));
      line(io.stderr, `${values.config}: ${plural(error.problems.length, 'problem')}`);
      return EXIT.failure;
    }
  }

  const monitor = createResourceMonitor();
  let limits: ResourceLimits;
  let snapshot: ResourceSnapshot;
  try {
    limits = await monitor.limits();
    await monitor.snapshot();
    await sleep(SAMPLE_MS);
    snapshot = await monitor.snapshot();
  } finally {
    await monitor.close();
  }
  const allowed = config
    ? capacity({
        resources: snapshot,
        perWorker: config.queues.map((queue) => ({
          queue: queue.name,
          runningPids: [],
          resources: queue.resources,
        })),
        limits: config.limits,
      })
    : null;

  if (values.json) {
    line(
      io.stdout,
      JSON.stringify(
        { config: values.config ?? null, limits, snapshot, capacity: allowed },
        null,
        2,
      ),
    );
  } else {
    printSnapshot(io, limits, snapshot);
    if (config && allowed) printCapacity(io, values.config ?? '', config, allowed);
  }
  for (const error of snapshot.errors ?? []) {
    line(io.stderr, `warning: ${error.file}: ${error.message}`);
  }
  return EXIT.ok;
}

/** `[0, 1, 2, 5]` as `0-2,5`, as the kernel writes a CPU list. */
function cpuList(cpus: readonly number[]): string {
  const ranges: string[] = [];
  for (let index = 0; index < cpus.length; ) {
    const first = cpus[index] as number;
    let last = first;
    while (cpus[index + 1] === last + 1) {
      index++;
      last++;
    }
    index++;
    ranges.push(first === last ? String(first) : `${first}-${last}`);
  }
  return ranges.join(',');
}

function printSnapshot(io: CliIo, limits: ResourceLimits, snapshot: ResourceSnapshot): void {
  const { cpu, memory } = snapshot;
  const where = (source: string, cgroupDir: string | null, host: string) =>
    source === 'host' ? host : `${source.replace('-', ' ')} ${cgroupDir ?? ''}`.trim();
  line(io.stdout, `source    ${describeSource(snapshot.source)}`);
  line(
    io.stdout,
    `cpu       ${usage(cpu.usedCores, cpu.limitCores, formatCores)}  limit: ${where(
      limits.cpu.source,
      limits.cpu.cgroupDir,
      limits.cpu.allowedCpus
        ? `CPUs ${cpuList(limits.cpu.allowedCpus)} of the host's ${limits.cpu.hostCores ?? '?'} (cpuset), no quota below`
        : `the host's ${limits.cpu.hostCores ?? '?'} CPUs, no quota`,
    )}`,
  );
  line(
    io.stdout,
    `memory    ${usage(memory.usedBytes, memory.limitBytes, formatBytes)}  limit: ${where(
      limits.memory.source,
      limits.memory.cgroupDir,
      "the host's MemTotal, no cgroup limit",
    )}`,
  );
  const pressure = snapshot.pressure;
  line(
    io.stdout,
    pressure
      ? `pressure  cpu ${percent(pressure.cpuSomeAvg10)}, memory ${percent(pressure.memorySomeAvg10)} (all tasks stalled ${percent(pressure.memoryFullAvg10)}) of the last 10 s`
      : 'pressure  not available (no PSI in this kernel)',
  );
}

function printCapacity(io: CliIo, file: string, config: QscaleConfig, allowed: HostCapacity): void {
  const { cpu, memory } = config.limits;
  line(io.stdout);
  line(
    io.stdout,
    `capacity under ${file}: ${plural(allowed.maxWorkers, 'worker')} (limited by ${allowed.limiter})`,
  );
  line(
    io.stdout,
    `  headroom  ${formatCores(allowed.headroom.cpuCores)} cores, ${formatBytes(allowed.headroom.memoryBytes)} (${cpu.maxPercent}% / ${memory.maxPercent}% of the limits, less the workers' wait for a CPU / other processes' memory, less what the workers cost)`,
  );
  if (allowed.why) line(io.stdout, `  why       ${allowed.why}`);
  if (allowed.unknown)
    line(io.stdout, `  unknown   ${allowed.unknown.join(', ')}: held at the current workers`);
  const width = Math.max(...config.queues.map((queue) => queue.name.length));
  for (const [name, queue] of Object.entries(allowed.perQueue ?? {})) {
    line(
      io.stdout,
      `  ${name.padEnd(width)}  ${formatCores(queue.cpuCoresPerWorker)} cores (${queue.cpuFrom}), ${formatBytes(queue.memoryBytesPerWorker)} (${queue.memoryFrom}) per worker: up to ${plural(queue.maxWorkers, 'worker')} alone`,
    );
  }
}

function describeSource(source: ResourceSnapshot['source']): string {
  if (source === 'host') return 'host (no cgroup limit applies)';
  return source === 'cgroup-v2' ? 'cgroup v2' : 'cgroup v1';
}

function usage(
  used: number | null,
  limit: number | null,
  format: (value: number) => string,
): string {
  const unit = format === formatCores ? ' cores' : '';
  const text =
    limit === null
      ? `${used === null ? 'unknown' : format(used)} of an unknown limit`
      : used === null
        ? `unknown use of ${format(limit)}${unit}`
        : `${format(used)} of ${format(limit)}${unit} used (${Math.round((used / limit) * 100)}%)`;
  return text.padEnd(34);
}

function formatCores(cores: number): string {
  return cores.toFixed(2);
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = Math.abs(bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const sign = bytes < 0 ? '-' : '';
  return `${sign}${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

function percent(value: number | null): string {
  return value === null ? 'unknown' : `${value}%`;
}
