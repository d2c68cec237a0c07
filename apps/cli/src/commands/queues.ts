import { setTimeout as sleep } from 'node:timers/promises';
import {
  type FigureSource,
  QUEUE_BACKENDS,
  type QueueBackend,
  type QueueFigure,
  type QueueSnapshot,
} from '@qscale/contracts';
import { ConfigError, formatProblem, loadConfig } from '@qscale/daemon/config';
import {
  createMetricsReader,
  type MetricsReader,
  MetricsReaderError,
  type QueueSource,
} from '@qscale/metrics-reader';
import Table from 'cli-table3';
import { UsageError } from '../internal/args.js';
import { formatDuration, plural } from '../internal/format.js';
import { type CliIo, EXIT, type ExitCode, line } from '../internal/io.js';
import type { QueuesArgs } from '../specs/queues.js';

/** The flags `queues` and `top` share (specs/shared.ts): where the queues are. */
export interface SourceFlags {
  config?: string | undefined;
  redis?: string | undefined;
  driver?: string | undefined;
  prefix?: string | undefined;
  /** Empty: every queue. */
  queue: string[];
}

/** The queues to read and the tick of the configuration they came from (if any). */
export interface ResolvedQueues {
  sources: QueueSource[];
  tickMs: number | null;
}

/**
 * Turns the flags into queue sources: `--config FILE` (default qscale.yml; `--queue` picks
 * some of its queues), or `--redis URL --driver D [--prefix P] [--queue Q...]` (without
 * `--queue`, every queue of that driver found in Redis). Returns an exit code when the
 * configuration file is wrong (its problems are printed).
 */
export async function resolveQueues(
  flags: SourceFlags,
  io: CliIo,
): Promise<ResolvedQueues | ExitCode> {
  if (flags.redis !== undefined) {
    if (flags.config !== undefined) {
      throw new UsageError('use either --config or --redis, not both');
    }
    return fromRedis(flags.redis, flags);
  }
  if (flags.driver !== undefined || flags.prefix !== undefined) {
    throw new UsageError(
      '--driver and --prefix go with --redis URL; a --config file names its own',
    );
  }
  const file = flags.config ?? 'qscale.yml';
  try {
    const config = await loadConfig(file, { env: io.env });
    const wanted = flags.queue;
    // The queues of the file: a worker group's pool entry stands for its member queues.
    const queues = config.queues.flatMap((queue) => queue.workerGroup?.members ?? [queue]);
    const unknown = wanted.filter((name) => !queues.some((queue) => queue.name === name));
    if (unknown.length > 0) {
      const names = queues.map((queue) => queue.name).join(', ');
      throw new UsageError(`${file} has no queue ${unknown.join(', ')}; its queues: ${names}`);
    }
    const sources = queues
      .filter((queue) => wanted.length === 0 || wanted.includes(queue.name))
      .map((queue) => ({
        queue: queue.name,
        driver: queue.driver,
        backendName: queue.backendName,
        prefix: queue.prefix,
        redis: queue.redis,
      }));
    return { sources, tickMs: config.tickMs };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) line(io.stderr, formatProblem(problem));
    line(io.stderr, `${file}: ${plural(error.problems.length, 'problem')}`);
    return EXIT.failure;
  }
}

async function fromRedis(url: string, flags: SourceFlags): Promise<ResolvedQueues> {
  const driver = flags.driver;
  if (driver === undefined) {
    throw new UsageError(`--driver is required with --redis (one of ${QUEUE_BACKENDS.join(', ')})`);
  }
  if (!(QUEUE_BACKENDS as readonly string[]).includes(driver)) {
    throw new UsageError(
      `--driver ${driver} is not a queue system qscale reads; expected one of ${QUEUE_BACKENDS.join(', ')}`,
    );
  }
  const backend = driver as QueueBackend;
  const prefix = flags.prefix ?? null;
  const redis = { url };
  const source = (name: string): QueueSource => ({
    queue: name,
    driver: backend,
    backendName: name,
    prefix,
    redis,
  });
  if (flags.queue.length > 0) return { sources: flags.queue.map(source), tickMs: null };
  const finder = openReader([]);
  try {
    const found = await finder.discover([{ driver: backend, prefix, redis }]);
    return { sources: found.map((queue) => source(queue.backendName)), tickMs: null };
  } finally {
    await finder.close();
  }
}

/** A reader for the CLI; bad options (an invalid URL) are usage errors. */
export function openReader(sources: QueueSource[]): MetricsReader {
  try {
    return createMetricsReader({ sources });
  } catch (error) {
    if (error instanceof MetricsReaderError) throw new UsageError(error.message);
    throw error;
  }
}

/** One column of the queue table: a header and how a snapshot fills it. */
export interface QueueColumn {
  header: string;
  cell(snapshot: QueueSnapshot): string;
  align?: 'left' | 'right';
}

/** `~` marks an estimate (derived, not read or observed), `-` a figure that is unknown. */
function figure(
  snapshot: QueueSnapshot,
  key: QueueFigure,
  value: number | null | undefined,
  format: (value: number) => string = String,
): string {
  if (value === null || value === undefined) return '-';
  const source: FigureSource | undefined = snapshot.sources[key];
  return `${source === 'estimate' ? '~' : ''}${format(value)}`;
}

const rate = (value: number) => (value >= 100 ? value.toFixed(0) : value.toFixed(1));
const age = (value: number) => (value === 0 ? '0' : formatDuration(value));

export const COLUMNS = {
  queue: { header: 'queue', cell: (s) => s.queue, align: 'left' },
  backend: { header: 'backend', cell: (s) => s.backend, align: 'left' },
  pending: { header: 'pending', cell: (s) => figure(s, 'pending', s.pending) },
  delayed: { header: 'delayed', cell: (s) => figure(s, 'delayed', s.delayed) },
  active: { header: 'active', cell: (s) => figure(s, 'active', s.active) },
  failed: { header: 'failed', cell: (s) => figure(s, 'failed', s.failed) },
  oldest: {
    header: 'oldest',
    cell: (s) => figure(s, 'oldestPendingAgeMs', s.oldestPendingAgeMs, age),
  },
  arrival: { header: 'arrival/s', cell: (s) => figure(s, 'arrivalRate', s.arrivalRate, rate) },
  completion: {
    header: 'done/s',
    cell: (s) => figure(s, 'completionRate', s.completionRate, rate),
  },
  pickup: {
    header: 'p95 pickup',
    cell: (s) => figure(s, 'pickupLatencyMs', s.pickupLatencyMs?.p95, formatDuration),
  },
  service: {
    header: 'mean run',
    cell: (s) => figure(s, 'serviceTimeMs', s.serviceTimeMs?.mean, formatDuration),
  },
  note: {
    header: 'note',
    cell: (s) => (s.error ? s.error.code : s.paused ? 'paused' : ''),
    align: 'left',
  },
} satisfies Record<string, QueueColumn>;

/** Every figure: `qscale queues`. */
export const QUEUES_COLUMNS: QueueColumn[] = Object.values(COLUMNS);

/** The live view's figures: `qscale top`. */
export const TOP_COLUMNS: QueueColumn[] = [
  COLUMNS.queue,
  COLUMNS.pending,
  COLUMNS.active,
  COLUMNS.oldest,
  COLUMNS.arrival,
  COLUMNS.completion,
  COLUMNS.pickup,
  COLUMNS.note,
];

/**
 * The queue table as text, one row per snapshot, followed by each queue's error. Pass more
 * columns (e.g. workers and decisions) to extend it; `~` marks estimates, `-` unknowns.
 */
export function renderQueueTable(
  snapshots: readonly QueueSnapshot[],
  columns: readonly QueueColumn[] = QUEUES_COLUMNS,
): string {
  const table = new Table({
    head: columns.map((column) => column.header),
    colAligns: columns.map((column) => column.align ?? 'right'),
    style: { head: [], border: [], compact: true },
  });
  for (const snapshot of snapshots) table.push(columns.map((column) => column.cell(snapshot)));
  const errors = snapshots
    .filter((snapshot) => snapshot.error)
    .map((snapshot) => `${snapshot.queue}: ${snapshot.error?.code}: ${snapshot.error?.message}`);
  return [table.toString(), ...errors].join('\n');
}

export async function run({ values }: QueuesArgs, io: CliIo): Promise<ExitCode> {
  // Two reads this far apart give rates and pickups; 0s reads once.
  const intervalMs = values.interval;
  const resolved = await resolveQueues(values, io);
  if (typeof resolved === 'number') return resolved;
  if (resolved.sources.length === 0) {
    if (values.json) line(io.stdout, '[]');
    else line(io.stdout, 'no queues found');
    return EXIT.ok;
  }
  const reader = openReader(resolved.sources);
  let snapshots: QueueSnapshot[];
  try {
    snapshots = await reader.snapshot();
    if (intervalMs > 0) {
      await sleep(intervalMs);
      snapshots = await reader.snapshot();
    }
  } finally {
    await reader.close();
  }
  if (values.json) line(io.stdout, JSON.stringify(snapshots, null, 2));
  else line(io.stdout, renderQueueTable(snapshots));
  return snapshots.some((snapshot) => snapshot.error) ? EXIT.failure : EXIT.ok;
}
