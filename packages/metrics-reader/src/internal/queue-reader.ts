import type {
  FigureSource,
  Logger,
  QueueFigure,
  QueueSnapshot,
  SnapshotError,
} from '@qscale/contracts';
import type { MetricsReaderErrorCode } from '../errors.js';
import type { Batch } from './batch.js';
import {
  type Command,
  classifyRedisError,
  commandOf,
  Prepared,
  type Reply,
  type Sendable,
} from './connection.js';
import type { ResolvedOptions, ResolvedSource } from './options.js';
import { DataProblem, describe } from './payload.js';
import { RateWindow, SlidingSketch } from './windows.js';

/** Timing of one tick, shared by every queue of a connection. */
export interface Tick {
  /** When the tick started, epoch ms (the snapshots' `at`). */
  startedAt: number;
  /** When the first round trip came back. */
  readAt: number;
  /** The previous tick's `startedAt` and `readAt` for this connection; null on the first. */
  previous: { startedAt: number; readAt: number } | null;
}

type Figure = Exclude<QueueFigure, 'serviceTimeMs' | 'pickupLatencyMs'>;

/** The worst problem wins the snapshot's single `error` field. */
const SEVERITY: MetricsReaderErrorCode[] = [
  'REDIS_UNREACHABLE',
  'REDIS_AUTH',
  'REDIS_TLS',
  'REDIS_TIMEOUT',
  'REDIS_NO_PERMISSION',
  'REDIS_ERROR',
  'WRONG_TYPE',
  'PAYLOAD_TOO_LARGE',
  'BAD_PAYLOAD',
  'MISSING_TIMESTAMP',
];

/** The figures of one queue being assembled during a tick. */
export class Draft {
  values: Partial<Record<Figure, number | null>> = {};
  sources: Partial<Record<QueueFigure, FigureSource>> = {};
  problems: { code: MetricsReaderErrorCode; message: string }[] = [];
  /** Figures a problem made unknown for this tick. */
  readonly unknown = new Set<QueueFigure>();
  paused: boolean | undefined = undefined;

  /** Empties the draft for the next tick. */
  reset(): void {
    this.values = {};
    this.sources = {};
    if (this.problems.length > 0) this.problems = [];
    this.unknown.clear();
    this.paused = undefined;
  }

  set(figure: Figure, value: number | null, source: FigureSource): void {
    this.values[figure] = value;
    if (value !== null) this.sources[figure] = source;
  }

  problem(
    code: MetricsReaderErrorCode,
    message: string,
    figures: readonly QueueFigure[],
  ): { code: MetricsReaderErrorCode; message: string } {
    let entry = this.problems.find((known) => known.message === message);
    if (!entry) {
      entry = { code, message };
      this.problems.push(entry);
    }
    for (const figure of figures) this.unknown.add(figure);
    return entry;
  }

  error(): SnapshotError | undefined {
    if (this.problems.length === 0) return undefined;
    const sorted = [...this.problems].sort(
      (a, b) => SEVERITY.indexOf(a.code) - SEVERITY.indexOf(b.code),
    );
    const [first] = sorted;
    if (!first) return undefined;
    const more = sorted.length - 1;
    return {
      code: first.code,
      message:
        more > 0
          ? `${first.message} (and ${more} more problem${more > 1 ? 's' : ''})`
          : first.message,
    };
  }
}

/** What a driver's per-queue reader gets from the reader. */
export interface ReaderContext {
  options: ResolvedOptions;
  logger: Logger;
}

/**
 * One queue: plans its reads into the connection's round trips, interprets the replies, keeps
 * the state between ticks (counters, windows, jobs already seen) and builds the snapshot.
 */
export abstract class QueueReader {
  protected readonly draft = new Draft();
  protected readonly pickups: SlidingSketch;
  protected readonly services: SlidingSketch;
  protected readonly arrivals: RateWindow;
  protected readonly completions: RateWindow;
  protected arrivalSource: FigureSource = 'estimate';
  protected completionSource: FigureSource = 'estimate';
  protected pickupSource: FigureSource = 'observed';
  protected serviceSource: FigureSource = 'observed';
  private lastErrorKey: string | null = null;
  /** Keys that answered WRONGTYPE this tick: their actual type is read in the second round trip. */
  private wrongTypes: { key: string; expected: string; problem: { message: string } }[] = [];

  constructor(
    readonly source: ResolvedSource,
    protected readonly context: ReaderContext,
  ) {
    this.pickups = new SlidingSketch(context.options.windowMs);
    this.services = new SlidingSketch(context.options.windowMs);
    this.arrivals = new RateWindow(context.options.rateWindowMs);
    this.completions = new RateWindow(context.options.rateWindowMs);
  }

  protected get options(): ResolvedOptions {
    return this.context.options;
  }

  /** Starts a tick: a fresh draft. */
  begin(): void {
    this.draft.reset();
    if (this.wrongTypes.length > 0) this.wrongTypes = [];
  }

  /** Asks for the type of each key that answered WRONGTYPE, to name it in the message. */
  planTypeChecks(batch: Batch): void {
    for (const check of this.wrongTypes) {
      batch.add(['type', check.key], (reply) => {
        if (typeof reply === 'string') {
          check.problem.message = `${check.key} is a ${typeName(reply)}, expected ${check.expected}`;
        }
      });
    }
  }

  /** Adds this queue's commands to the first round trip. */
  abstract plan(batch: Batch, tick: Tick): void;

  /**
   * Counting commands (LLEN, ZCARD, ZCOUNT: integer replies, no payloads) whose sum is above 0
   * when a job is ready to start at `nowMs`: what `pending` counts, as cheaply as it can be had.
   */
  abstract readyCommands(nowMs: number): Sendable[];

  /** Adds commands to the second round trip (details of newly started jobs); optional. */
  planDetails(_batch: Batch, _tick: Tick): void {}

  /** Turns what was read into figures in the draft. */
  protected abstract finish(tick: Tick): void;

  /** The figures the driver can know (others are omitted, e.g. `failed` for Laravel). */
  protected abstract readonly reportsFailed: boolean;

  /**
   * Queues a read whose reply feeds `figures`: an error reply or a handler that throws marks
   * them unknown and records the problem, naming the command and key.
   */
  protected read(
    batch: Batch,
    command: Sendable,
    figures: readonly QueueFigure[],
    handle: (value: unknown) => void,
  ): void {
    batch.add(command, (reply: Reply) => {
      if (reply instanceof Error) {
        this.commandFailed(commandOf(command), reply, figures);
        return;
      }
      try {
        handle(reply);
      } catch (error) {
        this.dataFailed(error, figures);
      }
    });
  }

  protected commandFailed(command: Command, error: Error, figures: readonly QueueFigure[]): void {
    const code = classifyRedisError(error);
    const [name, key] = command;
    const expected = expectedType(name);
    const suffix = code === 'WRONG_TYPE' ? `, expected ${expected}` : '';
    const problem = this.draft.problem(
      code,
      `${name.toUpperCase()} ${String(key)} failed: ${error.message.split('\n')[0]}${suffix}`,
      figures,
    );
    if (code === 'WRONG_TYPE' && !this.wrongTypes.some((check) => check.key === String(key))) {
      this.wrongTypes.push({ key: String(key), expected, problem });
    }
  }

  protected dataFailed(error: unknown, figures: readonly QueueFigure[]): void {
    if (error instanceof DataProblem) {
      this.draft.problem(error.code, error.message, figures);
    } else {
      this.draft.problem('BAD_PAYLOAD', `unexpected data: ${(error as Error).message}`, figures);
    }
  }

  /** A command sent every tick unchanged, encoded once. */
  protected prepare(...command: Command): Prepared {
    return new Prepared(command);
  }

  /** Runs `work`; a data problem it raises marks `figures` unknown instead of ending the tick. */
  protected guard(figures: readonly QueueFigure[], work: () => void): void {
    try {
      work();
    } catch (error) {
      this.dataFailed(error, figures);
    }
  }

  /** Integer reply (LLEN, ZCARD, ...), checked; `command` and `key` name it if it is not. */
  protected count(value: unknown, command: string, key?: string): number {
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
    const number = typeof value === 'string' ? Number(value) : Number.NaN;
    if (!Number.isInteger(number) || number < 0) {
      const what = key === undefined ? command : `${command} ${key}`;
      throw new DataProblem('BAD_PAYLOAD', `${what} returned ${describe(value)}, expected a count`);
    }
    return number;
  }

  /** The snapshot after a successful read. */
  snapshot(tick: Tick): QueueSnapshot {
    try {
      this.finish(tick);
    } catch (error) {
      this.dataFailed(error, []);
    }
    return this.build(tick.startedAt, tick.readAt);
  }

  /** The snapshot when the connection could not be read at all. */
  failed(startedAt: number, error: SnapshotError): QueueSnapshot {
    this.draft.reset();
    this.draft.problem(error.code as MetricsReaderErrorCode, error.message, []);
    this.onUnreadable();
    const snapshot: QueueSnapshot = {
      queue: this.source.queue,
      backend: this.source.driver,
      at: Math.round(startedAt),
      pending: null,
      delayed: null,
      active: null,
      ...(this.reportsFailed ? { failed: null } : {}),
      oldestPendingAgeMs: null,
      arrivalRate: null,
      completionRate: null,
      serviceTimeMs: null,
      pickupLatencyMs: null,
      sources: {},
      error,
    };
    this.logErrorChange(error);
    return snapshot;
  }

  protected arrivalRate(nowMs: number): number | null {
    return this.arrivals.rate(nowMs);
  }

  protected completionRate(nowMs: number): number | null {
    return this.completions.rate(nowMs);
  }

  /** Run time over the window: from the jobs timed, once `minSamples` were. */
  protected serviceTime(nowMs: number): QueueSnapshot['serviceTimeMs'] {
    const service = this.services.summary(nowMs);
    if (!service || service.count < this.options.minSamples) return null;
    return { mean: round(service.mean), p95: round(service.quantile(0.95)) };
  }

  /** Called when a tick could not read the queue, so the next one does not bridge the gap. */
  protected onUnreadable(): void {}

  private build(startedAt: number, readAt: number): QueueSnapshot {
    const draft = this.draft;
    const unknown = draft.unknown;
    const values = draft.values;
    const sources: Partial<Record<QueueFigure, FigureSource>> = {};
    const figure = (name: Figure): number | null => {
      if (unknown.has(name)) return null;
      const value = values[name] ?? null;
      const source = draft.sources[name];
      if (value !== null && source !== undefined) sources[name] = source;
      return value;
    };

    // Rates and windows end when the data was read.
    const now = readAt;
    const arrivalRate = unknown.has('arrivalRate') ? null : this.arrivalRate(now);
    const completionRate = unknown.has('completionRate') ? null : this.completionRate(now);
    if (arrivalRate !== null) sources.arrivalRate = this.arrivalSource;
    if (completionRate !== null) sources.completionRate = this.completionSource;
    const minSamples = this.options.minSamples;
    const serviceTimeMs = this.serviceTime(now);
    if (serviceTimeMs) sources.serviceTimeMs = this.serviceSource;
    const pickup = this.pickups.summary(now);
    let pickupLatencyMs: QueueSnapshot['pickupLatencyMs'] = null;
    if (pickup && pickup.count >= minSamples) {
      pickupLatencyMs = {
        p50: round(pickup.quantile(0.5)),
        p95: round(pickup.quantile(0.95)),
        p99: round(pickup.quantile(0.99)),
        samples: pickup.count,
      };
      sources.pickupLatencyMs = this.pickupSource;
    }

    const snapshot: QueueSnapshot = {
      queue: this.source.queue,
      backend: this.source.driver,
      at: Math.round(startedAt),
      pending: figure('pending'),
      delayed: figure('delayed'),
      active: figure('active'),
      oldestPendingAgeMs: null,
      arrivalRate: roundOrNull(arrivalRate, 1000),
      completionRate: roundOrNull(completionRate, 1000),
      serviceTimeMs,
      pickupLatencyMs,
      sources,
    };
    if (this.reportsFailed) snapshot.failed = figure('failed');
    snapshot.oldestPendingAgeMs = roundOrNull(figure('oldestPendingAgeMs'));
    if (draft.paused !== undefined) snapshot.paused = draft.paused;
    const error = draft.error();
    if (error) snapshot.error = error;
    this.logErrorChange(error);
    return snapshot;
  }

  private logErrorChange(error: SnapshotError | undefined): void {
    const key = error ? `${error.code}:${error.message}` : null;
    if (key === this.lastErrorKey) return;
    if (error) {
      this.context.logger.warn('metrics-reader: queue read with a problem', {
        queue: this.source.queue,
        driver: this.source.driver,
        code: error.code,
        problem: error.message,
      });
    } else if (this.lastErrorKey !== null) {
      this.context.logger.info('metrics-reader: queue read cleanly again', {
        queue: this.source.queue,
      });
    }
    this.lastErrorKey = key;
  }
}

function typeName(type: string): string {
  const names: Record<string, string> = {
    string: 'string',
    list: 'list',
    set: 'set',
    zset: 'sorted set',
    hash: 'hash',
    stream: 'stream',
  };
  return names[type] ?? type;
}

function expectedType(command: string): string {
  const name = command.toLowerCase();
  if (name.startsWith('l')) return 'a list';
  if (name.startsWith('z')) return 'a sorted set';
  if (name.startsWith('h')) return 'a hash';
  if (name.startsWith('s')) return 'a set';
  if (name.startsWith('x')) return 'a stream';
  return 'a string';
}

function round(value: number, precision = 1): number {
  return Math.round(value * precision) / precision;
}

function roundOrNull(value: number | null, precision = 1): number | null {
  return value === null ? null : Math.max(0, round(value, precision));
}
