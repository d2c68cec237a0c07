import { resolve } from 'node:path';
import { type Logger, silentLogger } from '@qscale/contracts';
import { z } from 'zod';
import { DEFAULTS } from './defaults.js';
import { SupervisorError } from './errors.js';
import { Emitter } from './internal/emitter.js';
import { provesWorkerToken } from './internal/identity.js';
import { isLive, readBootId, readStat } from './internal/proc.js';
import { describeIssues, resolvePoolSettings } from './internal/settings.js';
import { isStopSignal, refusedGroup } from './internal/signals.js';
import { readStateFile, type StateEntry, StateWriter } from './internal/state-file.js';
import { ProcessTree } from './internal/tree.js';
import { type StopPlan, Worker, type WorkerHooks } from './internal/worker.js';
import { type PoolContext, WorkerPool } from './pool.js';
import type {
  PoolEvents,
  PoolOptions,
  SkipReason,
  StopSummary,
  SupervisorEvents,
  SupervisorOptions,
} from './types.js';

/** What `startSupervisor` found of the previous run. */
export interface PreviousRun {
  /** Live workers kept for their queue's pool (policy `adopt`), not yet claimed by one. */
  unclaimed: number;
  /** Live workers being stopped (policy `stop`). */
  stopping: number;
  /**
   * Recorded workers left alone, and why: a reused PID, or a process that does not prove it is
   * one qscale started, is never touched.
   */
  skipped: { queue: string; pid: number; reason: SkipReason }[];
}

const optionsSchema = z.strictObject({
  stateFile: z
    .string({ error: 'expected stateFile as a file path' })
    .min(1, 'expected a non-empty stateFile path'),
  previousWorkers: z
    .enum(['adopt', 'stop'], { error: 'expected previousWorkers to be adopt or stop' })
    .optional(),
  refuseRoot: z.boolean({ error: 'expected refuseRoot to be true or false' }).optional(),
  treeScanMs: z
    .number({ error: 'expected treeScanMs as a number of milliseconds' })
    .int('expected treeScanMs as whole milliseconds')
    .min(0, 'expected treeScanMs of 0 (walk /proc only at stops) or more')
    .optional(),
  logger: z
    .custom<Logger>(
      (value) =>
        typeof value === 'object' &&
        value !== null &&
        ['debug', 'info', 'warn', 'error'].every(
          (level) => typeof (value as Record<string, unknown>)[level] === 'function',
        ),
      { error: 'expected logger to have debug, info, warn and error functions' },
    )
    .optional(),
});

/**
 * Checks a pool's options exactly as {@link Supervisor.createPool} does (options, program on
 * the worker's PATH, directory, user and group, root policy) without creating anything, so
 * a caller can check every queue before changing any. Throws the same {@link SupervisorError}.
 */
export async function checkPoolOptions(
  options: PoolOptions,
  context: { refuseRoot?: boolean } = {},
): Promise<void> {
  await resolvePoolSettings(options, { refuseRoot: context.refuseRoot ?? DEFAULTS.refuseRoot });
}

/** State files in use by a supervisor of this process. */
const openStateFiles = new Set<string>();

/**
 * Starts the supervisor: reads the state file of the previous run, keeps (or stops) its
 * workers that are still the same processes, and records every worker from now on.
 */
export function startSupervisor(options: SupervisorOptions): Promise<Supervisor> {
  return Supervisor.start(options);
}

/**
 * Owns the worker pools of one daemon and the state file that lets the next run find their
 * workers again. Create it with {@link startSupervisor}.
 */
export class Supervisor {
  /** The absolute path of the state file. */
  readonly stateFile: string;
  readonly #logger: Logger;
  readonly #emitter: Emitter<SupervisorEvents>;
  readonly #refuseRoot: boolean;
  readonly #policy: 'adopt' | 'stop';
  readonly #bootId: string;
  readonly #self: { pid: number; startTicks: number };
  readonly #pools = new Map<string, WorkerPool>();
  readonly #poolWorkers = new Map<WorkerPool, () => Iterable<Worker>>();
  readonly #creating = new Set<string>();
  /** Workers of the previous run not (yet) in a pool: unclaimed adoptees and those stopping. */
  readonly #held = new Set<Worker>();
  readonly #writer: StateWriter;
  /** Every worker's descendants, found by one /proc walk for all pools. */
  readonly #tree: ProcessTree;
  #stopping: Promise<StopSummary> | null = null;
  #previousRun: PreviousRun = { unclaimed: 0, stopping: 0, skipped: [] };

  private constructor(init: {
    stateFile: string;
    logger: Logger;
    policy: 'adopt' | 'stop';
    refuseRoot: boolean;
    bootId: string;
    self: { pid: number; startTicks: number };
    treeScanMs: number;
  }) {
    this.stateFile = init.stateFile;
    this.#logger = init.logger;
    this.#refuseRoot = init.refuseRoot;
    this.#policy = init.policy;
    this.#bootId = init.bootId;
    this.#self = init.self;
    this.#emitter = new Emitter(init.logger);
    this.#tree = new ProcessTree({
      scanMs: init.treeScanMs,
      onError: (error) =>
        this.#logger.warn("cannot walk /proc for workers' descendants", {
          error: error instanceof Error ? error.message : String(error),
        }),
      onFound: (family, member) =>
        this.#logger.debug('worker descendant found', {
          queue: family.queue,
          worker: family.worker,
          pid: family.rootPid,
          descendant: member.pid,
          ppid: member.ppid,
          pgid: member.pgid,
          sid: member.sid,
        }),
    });
    this.#writer = new StateWriter(
      init.stateFile,
      () => this.#snapshot(),
      (error) => {
        const message = error instanceof Error ? error.message : String(error);
        this.#logger.error('cannot write the state file', { path: this.stateFile, error: message });
        this.#emitter.emit('state-file-error', { path: this.stateFile, error: message });
      },
    );
  }

  /** @internal Use {@link startSupervisor}. */
  static async start(options: SupervisorOptions): Promise<Supervisor> {
    const parsed = optionsSchema.safeParse(options);
    if (!parsed.success) {
      throw new SupervisorError(
        'INVALID_OPTIONS',
        describeIssues('invalid supervisor options', parsed.error),
      );
    }
    const stateFile = resolve(parsed.data.stateFile);
    if (openStateFiles.has(stateFile)) {
      throw new SupervisorError(
        'STATE_FILE_IN_USE',
        `state file ${stateFile} is already used by a supervisor of this process; stop it first`,
      );
    }
    const logger = parsed.data.logger ?? silentLogger;
    const bootId = await readBootId();
    const selfStat = await readStat(process.pid);
    const previous = await readStateFile(stateFile);
    if (previous) await assertNotInUse(stateFile, previous.supervisor, bootId);

    const policy = parsed.data.previousWorkers ?? DEFAULTS.previousWorkers;
    const supervisor = new Supervisor({
      stateFile,
      logger,
      policy,
      refuseRoot: parsed.data.refuseRoot ?? DEFAULTS.refuseRoot,
      bootId,
      self: { pid: process.pid, startTicks: selfStat?.startTicks ?? 0 },
      treeScanMs: parsed.data.treeScanMs ?? DEFAULTS.treeScanMs,
    });
    const { live, skipped } = await classify(previous?.workers ?? [], bootId);
    for (const entry of live) supervisor.#hold(entry);
    // Proves the file is writable before anything is spawned; the previous workers stay
    // recorded, untouched, if it is not.
    await supervisor.#writer.writeOrThrow();
    openStateFiles.add(stateFile);
    for (const worker of supervisor.#held) worker.watch(DEFAULTS.adoptedPollMs);
    supervisor.#previousRun = {
      unclaimed: policy === 'adopt' ? live.length : 0,
      stopping: policy === 'stop' ? live.length : 0,
      skipped,
    };
    logger.info('supervisor started', {
      stateFile,
      previousWorkers: policy,
      found: live.length,
      skipped: skipped.length,
    });
    // Events of the previous run go out on the next turn, so that listeners attached right
    // after `await startSupervisor(...)` receive them.
    setImmediate(() => supervisor.#announcePrevious(policy, skipped));
    return supervisor;
  }

  /** What was found of the previous run (also logged at start). */
  get previousRun(): PreviousRun {
    return {
      ...this.#previousRun,
      unclaimed: [...this.#held].filter((w) => w.stopReason === null).length,
    };
  }

  /**
   * Creates the pool of one queue. Validates the options (program on PATH, directory, user and
   * group, root policy) and throws a {@link SupervisorError} naming the problem. Live workers
   * of a previous run recorded for this queue are adopted by the new pool.
   */
  async createPool(options: PoolOptions): Promise<WorkerPool> {
    if (this.#stopping) throw new SupervisorError('STOPPED', 'the supervisor was stopped');
    const name = typeof options?.name === 'string' ? options.name : '';
    if (this.#pools.has(name) || this.#creating.has(name)) {
      throw new SupervisorError('POOL_EXISTS', `a pool for queue "${name}" already exists`);
    }
    this.#creating.add(name);
    try {
      const settings = await resolvePoolSettings(options, { refuseRoot: this.#refuseRoot });
      if (this.#stopping) throw new SupervisorError('STOPPED', 'the supervisor was stopped');
      const previous =
        this.#policy === 'adopt'
          ? [...this.#held].filter((w) => w.queue === name && w.stopReason === null)
          : [];
      for (const worker of previous) this.#held.delete(worker);
      const pool = new WorkerPool(settings, this.#poolContext(), previous);
      this.#pools.set(name, pool);
      return pool;
    } finally {
      this.#creating.delete(name);
    }
  }

  /** The pool of a queue, if any. */
  pool(name: string): WorkerPool | undefined {
    return this.#pools.get(name);
  }

  /** Every pool, in creation order. */
  pools(): WorkerPool[] {
    return [...this.#pools.values()];
  }

  /** Passes the resource monitor's per-PID figures to every pool (memory recycling). */
  observeResources(perWorker: Readonly<Record<string, { rssBytes: number }>>): void {
    for (const pool of this.#pools.values()) pool.observeResources(perWorker);
  }

  /**
   * Stops the adopted workers of the previous run that no pool claimed (their queue is gone
   * from the configuration). Call it once every pool is created.
   */
  stopUnclaimed(options: { graceMs?: number } = {}): Promise<StopSummary> {
    const workers = [...this.#held].filter((worker) => worker.stopReason === null);
    for (const worker of workers) {
      worker.requestStop('previous-run', worker.stopPlan, options.graceMs);
    }
    return summarize(workers);
  }

  /**
   * Stops every pool and every worker of the previous run in parallel, each within its grace
   * period (or `graceMs`, when shorter: the daemon's shutdown deadline), and records an empty
   * state file. The supervisor cannot be used afterwards.
   */
  stop(options: { graceMs?: number } = {}): Promise<StopSummary> {
    if (this.#stopping) {
      for (const pool of this.#pools.values()) void pool.stop(options);
      for (const worker of this.#held) {
        worker.requestStop('shutdown', worker.stopPlan, options.graceMs);
      }
      return this.#stopping;
    }
    this.#stopping = this.#stopAll(options);
    return this.#stopping;
  }

  /**
   * Last resort for the daemon's `process.on('exit')` handler, where only synchronous code
   * runs: SIGKILL every worker's process group now. Returns how many groups were signalled.
   * Not for a normal shutdown (use {@link Supervisor.stop}), and it defeats adoption.
   */
  killAllSync(): number {
    let killed = 0;
    for (const worker of this.#allWorkers()) if (worker.killSync()) killed++;
    return killed;
  }

  /** Subscribes to one event of any pool, or of the supervisor; returns the unsubscribe function. */
  on<Name extends keyof SupervisorEvents>(
    name: Name,
    listener: (payload: SupervisorEvents[Name]) => void,
  ): () => void {
    return this.#emitter.on(name, listener);
  }

  async #stopAll(options: { graceMs?: number }): Promise<StopSummary> {
    const held = [...this.#held];
    for (const worker of held) worker.requestStop('shutdown', worker.stopPlan, options.graceMs);
    const results = await Promise.all([
      ...[...this.#pools.values()].map((pool) => pool.stop(options)),
      summarize(held),
    ]);
    this.#writer.markDirty();
    await this.#writer.flush();
    openStateFiles.delete(this.stateFile);
    this.#logger.info('supervisor stopped', { stateFile: this.stateFile });
    return results.reduce(
      (sum, result) => ({
        stopped: sum.stopped + result.stopped,
        escalated: sum.escalated + result.escalated,
        unkillable: sum.unkillable + result.unkillable,
      }),
      { stopped: 0, escalated: 0, unkillable: 0 },
    );
  }

  /** Pool events are a subset of the supervisor's. */
  #poolEmitter(): Emitter<PoolEvents> {
    return this.#emitter as unknown as Emitter<PoolEvents>;
  }

  *#allWorkers(): Iterable<Worker> {
    for (const workers of this.#poolWorkers.values()) yield* workers();
    yield* this.#held;
  }

  #snapshot() {
    const workers: StateEntry[] = [];
    for (const worker of this.#allWorkers()) {
      const entry = worker.toStateEntry(this.#bootId);
      if (entry) workers.push(entry);
    }
    return {
      version: 1 as const,
      supervisor: { ...this.#self, bootId: this.#bootId },
      updatedAt: Date.now(),
      workers,
    };
  }

  #poolContext(): PoolContext {
    return {
      logger: this.#logger,
      emit: (name, payload) => this.#poolEmitter().emit(name, payload),
      changed: () => this.#writer.markDirty(),
      resolve: (options) => resolvePoolSettings(options, { refuseRoot: this.#refuseRoot }),
      tree: this.#tree,
      attach: (pool, workers) => {
        this.#poolWorkers.set(pool, workers);
      },
      closed: (pool) => {
        // A worker that outlived SIGKILL stays recorded until it is really gone.
        const left = [...(this.#poolWorkers.get(pool)?.() ?? [])];
        if (left.length === 0) this.#poolWorkers.delete(pool);
        if (this.#pools.get(pool.name) === pool) this.#pools.delete(pool.name);
        this.#writer.markDirty();
      },
    };
  }

  /** Wraps a live worker of the previous run; it polls /proc, since it is not our child. */
  #hold(entry: StateEntry): void {
    const worker = new Worker({
      id: `${entry.queue}#previous-${entry.pid}`,
      seq: 0,
      spawnReason: 'scale-up',
      queue: entry.queue,
      adopted: true,
      commandHash: entry.commandHash,
      argv0: entry.argv0,
      spawnedAt: entry.spawnedAt,
      hooks: this.#heldHooks(),
      stopPlan: recordedStopPlan(entry),
      tree: this.#tree,
    });
    worker.adopt(entry);
    this.#held.add(worker);
  }

  #announcePrevious(
    policy: 'adopt' | 'stop',
    skipped: { queue: string; pid: number; reason: SkipReason }[],
  ): void {
    for (const skip of skipped) {
      this.#emitter.emit('previous-skipped', skip);
      if (skip.reason === 'unproven' || skip.reason === 'protected-pid') {
        // A live process the state file names but that is not provably ours: an older
        // version's file, a worker that dropped its token, or a forged file.
        this.#logger.warn('recorded process did not prove it is a qscale worker: left alone', {
          ...skip,
        });
      } else {
        this.#logger.info('worker of the previous run left alone', { ...skip });
      }
    }
    if (policy !== 'stop') return;
    for (const worker of this.#held) {
      if (worker.stopReason === null) {
        worker.requestStop('previous-run', worker.stopPlan);
      }
    }
  }

  /** Hooks of previous-run workers no pool owns: log and forward, nothing to restart. */
  #heldHooks(): WorkerHooks {
    const emit = <Name extends keyof PoolEvents>(name: Name, payload: PoolEvents[Name]) =>
      this.#poolEmitter().emit(name, payload);
    const fieldsOf = (worker: Worker) => ({
      queue: worker.queue,
      worker: worker.id,
      pid: worker.pid,
    });
    const refOf = (worker: Worker) => ({
      queue: worker.queue,
      workerId: worker.id,
      pid: worker.pid,
    });
    return {
      spawned: () => {},
      running: () => {},
      stopping: (worker, signal) => {
        const reason = worker.stopReason ?? 'previous-run';
        emit('stopping', { ...refOf(worker), reason, signal });
        this.#logger.info('worker of the previous run stopping', { ...fieldsOf(worker), signal });
      },
      escalated: (worker, afterMs) => {
        emit('escalated', { ...refOf(worker), afterMs });
        this.#logger.warn('grace period over: SIGKILL to the worker group', {
          ...fieldsOf(worker),
          afterMs,
        });
      },
      unkillable: (worker) => {
        this.#logger.error('worker still alive after SIGKILL', fieldsOf(worker));
      },
      exited: (worker, exit) => {
        this.#held.delete(worker);
        const outcome = worker.stopReason === null ? 'crashed' : 'stopped';
        emit('exited', {
          ...refOf(worker),
          code: exit.code,
          signal: exit.signal,
          outcome,
          uptimeMs: exit.uptimeMs,
          adopted: true,
          error: exit.error,
        });
        this.#logger.info('worker of the previous run exited', { ...fieldsOf(worker), outcome });
        this.#writer.markDirty();
      },
      outputLine: () => {},
      outputDropped: () => {},
      problem: (worker, message, error) => {
        this.#logger.warn(message, {
          ...fieldsOf(worker),
          error: error instanceof Error ? error.message : String(error),
        });
      },
      changed: () => this.#writer.markDirty(),
    };
  }
}

async function assertNotInUse(
  stateFile: string,
  owner: { pid: number; startTicks: number; bootId: string },
  bootId: string,
): Promise<void> {
  if (owner.bootId !== bootId || owner.pid === process.pid) return;
  const stat = await readStat(owner.pid);
  if (isLive(stat) && stat.startTicks === owner.startTicks) {
    throw new SupervisorError(
      'STATE_FILE_IN_USE',
      `state file ${stateFile} belongs to a supervisor that is still running (pid ${owner.pid}); stop it, or use another state file`,
    );
  }
}

/**
 * Which recorded workers are still the very processes we spawned. Start time and boot id say a
 * PID was not reused, but anyone can read them, so a process must also prove itself: it still
 * leads its own group and carries the token whose hash was recorded (internal/identity.ts).
 * Anything else is skipped and never signalled; PID 1 and our own process or group are not
 * even looked at.
 */
async function classify(
  entries: readonly StateEntry[],
  bootId: string,
): Promise<{ live: StateEntry[]; skipped: { queue: string; pid: number; reason: SkipReason }[] }> {
  const live: StateEntry[] = [];
  const skipped: { queue: string; pid: number; reason: SkipReason }[] = [];
  const reasons = await Promise.all(entries.map((entry) => skipReason(entry, bootId)));
  entries.forEach((entry, index) => {
    const reason = reasons[index] ?? null;
    if (reason === null) live.push(entry);
    else skipped.push({ queue: entry.queue, pid: entry.pid, reason });
  });
  return { live, skipped };
}

async function skipReason(entry: StateEntry, bootId: string): Promise<SkipReason | null> {
  if (refusedGroup(entry.pid) !== null) return 'protected-pid';
  if (entry.bootId !== bootId) return 'other-boot';
  const stat = await readStat(entry.pid);
  if (stat === null) return 'gone';
  if (!isLive(stat)) return 'zombie';
  if (stat.startTicks !== entry.startTicks) return 'pid-reused';
  if (stat.pgid !== entry.pid || entry.pgid !== entry.pid || entry.tokenHash === undefined) {
    return 'unproven';
  }
  return (await provesWorkerToken(entry.pid, entry.tokenHash)) ? null : 'unproven';
}

function recordedStopPlan(entry: StateEntry): StopPlan {
  const signals = entry.stopSignals.filter(isStopSignal);
  return {
    signals: signals.length > 0 ? signals : (['SIGTERM'] as NodeJS.Signals[]),
    graceMs: entry.graceMs,
    signalGapMs: DEFAULTS.stop.signalGapMs,
    killWaitMs: DEFAULTS.stop.killWaitMs,
  };
}

async function summarize(workers: readonly Worker[]): Promise<StopSummary> {
  await Promise.all(workers.map((worker) => worker.settled));
  return {
    stopped: workers.length,
    escalated: workers.filter((worker) => worker.escalated).length,
    unkillable: workers.filter((worker) => worker.state !== 'exited').length,
  };
}
