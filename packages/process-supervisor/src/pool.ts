import { performance } from 'node:perf_hooks';
import type { Logger, WorkerCounts } from '@qscale/contracts';
import { SupervisorError } from './errors.js';
import { backoffDelayMs } from './internal/backoff.js';
import { Emitter } from './internal/emitter.js';
import { createRedactor } from './internal/redact.js';
import type { PoolSettings } from './internal/settings.js';
import type { ProcessTree } from './internal/tree.js';
import type { StopPlan, Worker, WorkerExit, WorkerHooks } from './internal/worker.js';
import { Worker as WorkerProcess } from './internal/worker.js';
import type {
  ExitOutcome,
  ExitRecord,
  PoolEvents,
  PoolHealth,
  PoolOptions,
  PoolStatus,
  RecycleReason,
  SpawnLatency,
  SpawnReason,
  StopReason,
  StopSummary,
  WorkerInfo,
} from './types.js';

/** What a pool needs from its supervisor. */
export interface PoolContext {
  logger: Logger;
  /** Forwards a pool event to the supervisor's listeners. */
  emit<Name extends keyof PoolEvents>(name: Name, payload: PoolEvents[Name]): void;
  /** The set of workers changed: rewrite the state file. */
  changed(): void;
  /** Validates options the same way `createPool` does. */
  resolve(options: PoolOptions): Promise<PoolSettings>;
  /** Registers the pool's workers for the state file and `killAllSync`. */
  attach(pool: WorkerPool, workers: () => Iterable<Worker>): void;
  /** The pool has stopped every worker; forget it. */
  closed(pool: WorkerPool): void;
  /** Finds workers' descendants that left their process group (shared by every pool). */
  tree: ProcessTree;
}

/** How long the spawn-latency average remembers: weight of the newest sample. */
const LATENCY_WEIGHT = 0.3;
const RETIRE_ORDER: Record<RecycleReason, number> = { memory: 0, lifetime: 1, config: 2 };

/**
 * The workers of one queue. `scaleTo(n)` only records the wish and returns: spawning (in
 * batches), stopping (group signal, grace, group SIGKILL), crash backoff and rolling
 * replacement proceed in the background, driven by process exits and timers.
 *
 * Created by `Supervisor.createPool`; not constructed directly.
 */
export class WorkerPool {
  /** The queue's name. */
  readonly name: string;
  readonly #context: PoolContext;
  readonly #emitter: Emitter<PoolEvents>;
  readonly #workers = new Map<string, Worker>();
  readonly #hooks: WorkerHooks;
  readonly #unkillable = new Set<Worker>();
  #settings: PoolSettings;
  #redact: (line: string) => string;
  #desired = 0;
  /** Nothing is spawned or stopped before the first `scaleTo`: adopted workers wait for it. */
  #scaled = false;
  #seq = 0;
  #stopping: Promise<StopSummary> | null = null;
  #failedStarts = 0;
  #crashStreak = 0;
  #pendingRestarts = 0;
  /** Monotonic time until which no worker is spawned (backoff or cool-off). */
  #gateUntil = 0;
  #gateTimer: NodeJS.Timeout | null = null;
  #degraded = false;
  #latency: SpawnLatency | null = null;
  #lastExit: ExitRecord | null = null;
  #reconciling = false;
  #again = false;
  #continuation: NodeJS.Immediate | null = null;

  /** @internal Use `Supervisor.createPool`. */
  constructor(settings: PoolSettings, context: PoolContext, previous: readonly Worker[]) {
    this.name = settings.name;
    this.#settings = settings;
    this.#context = context;
    this.#emitter = new Emitter(context.logger);
    this.#redact = createRedactor(settings.spec.secrets);
    this.#hooks = this.#createHooks();
    context.attach(this, () => this.#workers.values());
    if (settings.runsAsRoot) this.#warnRoot();
    for (const worker of previous) this.#claim(worker);
  }

  /**
   * Sets the number of workers the pool should have. Returns at once; the pool spawns,
   * stops (youngest first) and replaces workers in the background.
   */
  scaleTo(workers: number): void {
    if (this.#stopping) {
      throw new SupervisorError('STOPPED', `queue "${this.name}": the pool was stopped`);
    }
    if (!Number.isInteger(workers) || workers < 0) {
      throw new SupervisorError(
        'INVALID_OPTIONS',
        `queue "${this.name}": scaleTo expects a whole number of workers of 0 or more, got ${workers}`,
      );
    }
    this.#desired = workers;
    this.#scaled = true;
    this.#requestReconcile();
  }

  /** Workers by state; slots waiting out a crash backoff count as starting. */
  counts(): WorkerCounts {
    let running = 0;
    let starting = 0;
    let stopping = 0;
    for (const worker of this.#workers.values()) {
      if (worker.state === 'running') running++;
      else if (worker.state === 'starting') starting++;
      else if (worker.state === 'stopping') stopping++;
    }
    // Slots waiting for a spawn (or a crash backoff) are starting; a degraded queue's are not.
    const coolingOff = this.#degraded && performance.now() < this.#gateUntil;
    const pending =
      this.#stopping || coolingOff || !this.#scaled
        ? 0
        : Math.max(0, this.#desired - running - starting);
    return {
      running,
      starting: starting + pending,
      stopping,
      concurrency: this.#settings.concurrency,
    };
  }

  /** PIDs of every worker process alive (starting, running or stopping), for the resource monitor. */
  pids(): number[] {
    const pids: number[] = [];
    for (const worker of this.#workers.values()) {
      if (worker.pid !== null && worker.state !== 'exited') pids.push(worker.pid);
    }
    return pids;
  }

  /** Every worker, oldest first. */
  workers(): WorkerInfo[] {
    return [...this.#workers.values()].sort(byAge).map((worker) => worker.toInfo());
  }

  /** Spawn to running, measured on this pool's own workers; null until one has run. */
  spawnLatency(): SpawnLatency | null {
    return this.#latency ? { ...this.#latency } : null;
  }

  status(): PoolStatus {
    const counts = this.counts();
    const retryInMs = Math.max(0, Math.round(this.#gateUntil - performance.now()));
    return {
      queue: this.name,
      desired: this.#desired,
      running: counts.running,
      starting: counts.starting,
      stopping: counts.stopping,
      health: this.#health(),
      failedStarts: this.#failedStarts,
      retryInMs: retryInMs > 0 ? retryInMs : null,
      spawnLatency: this.spawnLatency(),
      lastExit: this.#lastExit ? { ...this.#lastExit } : null,
      workers: this.workers(),
    };
  }

  /**
   * Takes the resource monitor's figures (`ResourceSnapshot.perWorker`: RSS by PID) and
   * replaces, gracefully, every worker over the queue's memory limit.
   */
  observeResources(perWorker: Readonly<Record<string, { rssBytes: number }>>): void {
    const limit = this.#settings.maxRssBytes;
    let retired = false;
    for (const worker of this.#workers.values()) {
      if (worker.pid === null) continue;
      const rssBytes = perWorker[String(worker.pid)]?.rssBytes;
      if (rssBytes === undefined) continue;
      worker.rssBytes = rssBytes;
      if (limit !== null && rssBytes > limit && worker.live && worker.retiring === null) {
        this.#retire(worker, 'memory');
        retired = true;
      }
    }
    if (retired) this.#requestReconcile();
  }

  /**
   * Applies new settings (e.g. after a config reload). When the command, environment,
   * directory or account changed, every worker is replaced by a rolling replacement: at most
   * `rollout.surge` new workers start at a time, and an old worker stops only once a new one
   * runs, so the queue never loses capacity; if the new command cannot start, the old
   * workers keep running and the pool reports itself degraded. Other settings (stop, recycle,
   * restart, output) apply from now on without replacing anyone.
   */
  async update(options: PoolOptions): Promise<{ replacing: number }> {
    if (this.#stopping) {
      throw new SupervisorError('STOPPED', `queue "${this.name}": the pool was stopped`);
    }
    const next = await this.#context.resolve(options);
    if (next.name !== this.name) {
      throw new SupervisorError(
        'INVALID_OPTIONS',
        `queue "${this.name}": update cannot rename the pool to "${next.name}"; create a new pool`,
      );
    }
    if (this.#stopping) {
      throw new SupervisorError('STOPPED', `queue "${this.name}": the pool was stopped`);
    }
    const previous = this.#settings;
    this.#settings = next;
    this.#redact = createRedactor(next.spec.secrets);
    if (next.runsAsRoot && !previous.runsAsRoot) this.#warnRoot();
    let replacing = 0;
    for (const worker of this.#workers.values()) {
      worker.stopPlan = this.#stopPlan();
      if (next.maxLifetimeMs !== previous.maxLifetimeMs) this.#armLifetime(worker);
      if (next.spec.hash !== previous.spec.hash && worker.live && worker.retiring === null) {
        this.#retire(worker, 'config');
        replacing++;
      }
    }
    if (next.spec.hash !== previous.spec.hash) this.#resetRestartGate();
    this.#context.changed();
    this.#requestReconcile();
    return { replacing };
  }

  /**
   * Stops every worker in parallel (stop signals to each group, then SIGKILL after the grace
   * period, or after `graceMs` when that is shorter) and resolves once all have exited.
   * The pool cannot be used afterwards. Calling it again returns the same promise, and a
   * shorter `graceMs` still brings the SIGKILL closer.
   */
  stop(options: { graceMs?: number } = {}): Promise<StopSummary> {
    if (this.#stopping) {
      for (const worker of this.#workers.values()) {
        worker.requestStop('shutdown', this.#stopPlan(), options.graceMs);
      }
      return this.#stopping;
    }
    this.#desired = 0;
    if (this.#gateTimer) clearTimeout(this.#gateTimer);
    if (this.#continuation) clearImmediate(this.#continuation);
    const workers = [...this.#workers.values()];
    for (const worker of workers) worker.requestStop('shutdown', this.#stopPlan(), options.graceMs);
    this.#stopping = Promise.all(workers.map((worker) => worker.settled)).then(() => {
      this.#context.closed(this);
      return {
        stopped: workers.length,
        escalated: workers.filter((worker) => worker.escalated).length,
        unkillable: workers.filter((worker) => this.#unkillable.has(worker)).length,
      };
    });
    return this.#stopping;
  }

  /** Subscribes to one event; returns the unsubscribe function. */
  on<Name extends keyof PoolEvents>(
    name: Name,
    listener: (payload: PoolEvents[Name]) => void,
  ): () => void {
    return this.#emitter.on(name, listener);
  }

  #emit<Name extends keyof PoolEvents>(name: Name, payload: PoolEvents[Name]): void {
    this.#emitter.emit(name, payload);
    this.#context.emit(name, payload);
  }

  #health(): PoolHealth {
    if (this.#degraded) return 'degraded';
    return this.#gateUntil > performance.now() ? 'backoff' : 'ok';
  }

  #stopPlan(): StopPlan {
    const s = this.#settings;
    return {
      signals: s.stopSignals,
      graceMs: s.graceMs,
      signalGapMs: s.signalGapMs,
      killWaitMs: s.killWaitMs,
    };
  }

  #warnRoot(): void {
    this.#context.logger.warn(
      'workers run as root: no user is configured for this queue (set one, or refuseRoot to forbid this)',
      { queue: this.name },
    );
  }

  /** Reconciles on the next turn: the caller (the daemon's tick) never waits for a spawn. */
  #requestReconcile(): void {
    this.#continuation ??= setImmediate(() => {
      this.#continuation = null;
      this.#reconcile();
    });
  }

  #reconcile(): void {
    if (this.#reconciling) {
      this.#again = true;
      return;
    }
    this.#reconciling = true;
    try {
      do {
        this.#again = false;
        this.#reconcileOnce();
      } while (this.#again);
    } finally {
      this.#reconciling = false;
    }
  }

  #reconcileOnce(): void {
    if (this.#stopping || !this.#scaled) return;
    const desired = this.#desired;
    const live = () => [...this.#workers.values()].filter((worker) => worker.live);

    // Scale down: the youngest go first (the oldest are the most likely to be warm).
    const current = live().filter((worker) => worker.retiring === null);
    if (current.length > desired) {
      const victims = current.sort(byAge).slice(desired);
      for (const worker of victims) this.#stopWorker(worker, 'scale-down');
    }

    // A retiring worker stops once enough replacements run to cover it.
    const before = live();
    const retiring = before.filter((worker) => worker.retiring !== null);
    const runningKept = before.filter((w) => w.retiring === null && w.state === 'running').length;
    const excess = Math.min(retiring.length, runningKept + retiring.length - desired);
    if (excess > 0) {
      const order = retiring.sort(
        (a, b) =>
          RETIRE_ORDER[a.retiring ?? 'config'] - RETIRE_ORDER[b.retiring ?? 'config'] ||
          byAge(a, b),
      );
      for (const worker of order.slice(0, excess)) this.#stopWorker(worker, 'recycle');
    }

    // A worker whose exit is still being handled (what it left behind killed, its output
    // drained) keeps its slot until then: whether it crashed decides whether the next spawn
    // waits out a backoff. Its handling ends with another reconcile.
    if ([...this.#workers.values()].some((worker) => worker.state === 'exited')) return;

    // Scale up, and start replacements for the retiring (a few at a time).
    const all = live();
    const kept = all.filter((worker) => worker.retiring === null);
    const missing = desired - kept.length;
    if (missing > 0) {
      const retiringLeft = all.length - kept.length;
      this.#spawnMissing(missing, kept, retiringLeft, all);
    }
  }

  #spawnMissing(missing: number, kept: Worker[], retiringCount: number, all: Worker[]): void {
    const deficit = Math.max(0, this.#desired - kept.length - retiringCount);
    const startingKept = kept.filter((worker) => worker.state === 'starting').length;
    const startingAll = all.filter((worker) => worker.state === 'starting').length;
    const wanted = Math.min(missing, deficit + Math.max(0, this.#settings.surge - startingKept));
    const count = Math.min(wanted, this.#allowance(startingAll));
    const turnStart = performance.now();
    for (let index = 0; index < count; index++) {
      // The rest on the next turn, so a large scale-up never holds the event loop.
      if (index > 0 && performance.now() - turnStart >= this.#settings.turnBudgetMs) {
        this.#requestReconcile();
        return;
      }
      const reason: SpawnReason =
        this.#pendingRestarts > 0 ? 'restart' : index < deficit ? 'scale-up' : 'replacement';
      if (this.#pendingRestarts > 0) this.#pendingRestarts--;
      this.#spawn(reason);
    }
  }

  /** How many workers may be spawned now: none during a backoff, one probe after failed starts. */
  #allowance(starting: number): number {
    if (performance.now() < this.#gateUntil) {
      // Timers fire on the loop's millisecond clock, which may lag this one: never stall.
      this.#gateTimer ?? this.#scheduleGate();
      return 0;
    }
    if (this.#failedStarts > 0) return starting === 0 ? 1 : 0;
    return Number.POSITIVE_INFINITY;
  }

  #spawn(reason: SpawnReason): void {
    const s = this.#settings;
    const seq = ++this.#seq;
    const worker = new WorkerProcess({
      id: `${this.name}#${seq}`,
      seq,
      spawnReason: reason,
      queue: this.name,
      adopted: false,
      commandHash: s.spec.hash,
      argv0: s.spec.file,
      spawnedAt: Date.now(),
      hooks: this.#hooks,
      stopPlan: this.#stopPlan(),
      tree: this.#context.tree,
    });
    this.#workers.set(worker.id, worker);
    worker.start(s.spec, s.output, this.#redact);
    if (worker.pid !== null) {
      worker.beginMinUptime(s.minUptimeMs);
      this.#armLifetime(worker);
    }
  }

  #claim(worker: Worker): void {
    worker.hooks = this.#hooks;
    worker.stopPlan = this.#stopPlan();
    this.#workers.set(worker.id, worker);
    const outdated = worker.commandHash !== this.#settings.spec.hash;
    this.#emit('adopted', {
      ...ref(worker),
      pid: worker.pid ?? 0,
      startTicks: worker.startTicks ?? 0,
      uptimeMs: worker.uptimeMs,
      outdated,
    });
    this.#context.logger.info('worker adopted from a previous run', {
      ...fields(worker),
      uptimeMs: worker.uptimeMs,
      outdated,
    });
    if (!worker.live) return;
    worker.watch(this.#settings.adoptedPollMs);
    worker.beginMinUptime(this.#settings.minUptimeMs);
    this.#armLifetime(worker);
    if (outdated) this.#retire(worker, 'config');
  }

  #armLifetime(worker: Worker): void {
    worker.setLifetime(this.#settings.maxLifetimeMs, () => {
      if (worker.live && worker.retiring === null) {
        this.#retire(worker, 'lifetime');
        this.#reconcile();
      }
    });
  }

  #retire(worker: Worker, reason: RecycleReason): void {
    worker.retiring = reason;
    this.#emit('recycled', {
      ...ref(worker),
      reason,
      rssBytes: worker.rssBytes,
      uptimeMs: worker.uptimeMs,
    });
    this.#context.logger.info('worker will be replaced', {
      ...fields(worker),
      reason,
      rssBytes: worker.rssBytes,
      uptimeMs: worker.uptimeMs,
    });
  }

  #stopWorker(worker: Worker, reason: StopReason): void {
    worker.requestStop(reason, this.#stopPlan());
  }

  /** A new command gets a fresh chance; the pool stays degraded until a worker runs. */
  #resetRestartGate(): void {
    this.#failedStarts = 0;
    this.#crashStreak = 0;
    this.#gateUntil = 0;
    if (this.#gateTimer) clearTimeout(this.#gateTimer);
    this.#gateTimer = null;
  }

  #scheduleGate(): void {
    if (this.#gateTimer) clearTimeout(this.#gateTimer);
    this.#gateTimer = setTimeout(
      () => {
        this.#gateTimer = null;
        this.#reconcile();
      },
      Math.max(0, Math.ceil(this.#gateUntil - performance.now()) + 1),
    );
    this.#gateTimer.unref();
  }

  /** A crash or failed start closes the gate for a backoff, or a cool-off once degraded. */
  #afterCrash(exit: WorkerExit, failedStart: boolean): void {
    if (failedStart) this.#failedStarts++;
    this.#pendingRestarts++;
    if (this.#stopping) return;
    const now = performance.now();
    const r = this.#settings.restart;
    if (this.#failedStarts >= r.maxFailedStarts) {
      if (this.#gateUntil > now && this.#degraded) return;
      this.#degraded = true;
      this.#gateUntil = now + r.coolOffMs;
      this.#scheduleGate();
      this.#emit('degraded', {
        queue: this.name,
        failedStarts: this.#failedStarts,
        retryInMs: r.coolOffMs,
      });
      this.#context.logger.error('queue degraded: too many failed starts in a row', {
        queue: this.name,
        failedStarts: this.#failedStarts,
        retryInMs: r.coolOffMs,
      });
      return;
    }
    // Crashes while a backoff already runs are one incident: one delay, not one each.
    if (this.#gateUntil > now) return;
    if (exit.uptimeMs >= r.backoffResetMs) this.#crashStreak = 0;
    const delayMs = backoffDelayMs(this.#crashStreak, r);
    this.#crashStreak++;
    this.#gateUntil = now + delayMs;
    this.#scheduleGate();
    const payload = {
      queue: this.name,
      delayMs,
      attempt: this.#crashStreak,
      failedStarts: this.#failedStarts,
    };
    this.#emit('backoff', payload);
    this.#context.logger.warn(`restarting in ${delayMs} ms`, payload);
  }

  #onRunning(worker: Worker): void {
    if (!worker.adopted) {
      const sample = worker.uptimeMs;
      const previous = this.#latency;
      this.#latency = {
        lastMs: sample,
        meanMs: previous
          ? Math.round(LATENCY_WEIGHT * sample + (1 - LATENCY_WEIGHT) * previous.meanMs)
          : sample,
        samples: (previous?.samples ?? 0) + 1,
      };
    }
    this.#failedStarts = 0;
    if (this.#degraded) {
      this.#degraded = false;
      this.#emit('recovered', { queue: this.name });
      this.#context.logger.info('queue recovered: a worker is running again', {
        queue: this.name,
      });
    }
    this.#emit('running', {
      ...ref(worker),
      spawnLatencyMs: worker.adopted ? null : worker.uptimeMs,
    });
    this.#context.logger.debug('worker running', { ...fields(worker), uptimeMs: worker.uptimeMs });
    this.#reconcile();
  }

  #onExited(worker: Worker, exit: WorkerExit): void {
    this.#workers.delete(worker.id);
    this.#unkillable.delete(worker);
    const outcome: ExitOutcome =
      worker.stopReason !== null
        ? 'stopped'
        : !exit.wasRunning
          ? 'failed-start'
          : exit.code === 0
            ? 'finished'
            : 'crashed';
    this.#lastExit = {
      workerId: worker.id,
      pid: worker.pid,
      code: exit.code,
      signal: exit.signal,
      outcome,
      uptimeMs: exit.uptimeMs,
      at: Date.now(),
      error: exit.error,
    };
    const details = {
      code: exit.code,
      signal: exit.signal,
      outcome,
      uptimeMs: exit.uptimeMs,
      adopted: worker.adopted,
      error: exit.error,
    };
    this.#emit('exited', { ...ref(worker), ...details });
    const log = outcome === 'stopped' || outcome === 'finished' ? 'info' : 'warn';
    this.#context.logger[log]('worker exited', { ...fields(worker), ...details });
    if (outcome === 'crashed' || outcome === 'failed-start') {
      this.#emit('crashed', {
        ...ref(worker),
        code: exit.code,
        signal: exit.signal,
        uptimeMs: exit.uptimeMs,
        failedStart: outcome === 'failed-start',
        error: exit.error,
        lastOutput: exit.lastOutput,
      });
      this.#afterCrash(exit, outcome === 'failed-start');
    }
    this.#context.changed();
    this.#reconcile();
  }

  #createHooks(): WorkerHooks {
    const logger = this.#context.logger;
    return {
      spawned: (worker) => {
        const payload = {
          ...ref(worker),
          pid: worker.pid ?? 0,
          pgid: worker.pid ?? 0,
          argv0: worker.argv0,
          reason: worker.spawnReason,
        };
        this.#emit('spawned', payload);
        logger.info('worker spawned', { ...fields(worker), reason: worker.spawnReason });
      },
      running: (worker) => this.#onRunning(worker),
      stopping: (worker, signal) => {
        const reason = worker.stopReason ?? 'shutdown';
        this.#emit('stopping', { ...ref(worker), reason, signal });
        logger.info('worker stopping', { ...fields(worker), reason, signal });
      },
      escalated: (worker, afterMs) => {
        this.#emit('escalated', { ...ref(worker), afterMs });
        logger.warn('grace period over: SIGKILL to the worker group', {
          ...fields(worker),
          afterMs,
        });
      },
      unkillable: (worker) => {
        this.#unkillable.add(worker);
        logger.error('worker still alive after SIGKILL (uninterruptible sleep?)', fields(worker));
      },
      exited: (worker, exit) => this.#onExited(worker, exit),
      outputLine: (worker, stream, text, truncated) => {
        logger.info(text, { ...fields(worker), stream, ...(truncated ? { truncated } : {}) });
      },
      outputDropped: (worker, lines) => {
        this.#emit('output-dropped', { ...ref(worker), lines });
        logger.warn('worker output over the rate limit was dropped', { ...fields(worker), lines });
      },
      problem: (worker, message, error) => {
        logger.warn(message, {
          ...fields(worker),
          error: error instanceof Error ? error.message : String(error),
        });
      },
      changed: () => this.#context.changed(),
    };
  }
}

/** Oldest first; among equal spawn times, the first created first. */
function byAge(a: Worker, b: Worker): number {
  return a.spawnedAt - b.spawnedAt || a.seq - b.seq;
}

function ref(worker: Worker): { queue: string; workerId: string; pid: number | null } {
  return { queue: worker.queue, workerId: worker.id, pid: worker.pid };
}

/** The log fields of every worker line. */
function fields(worker: Worker): { queue: string; worker: string; pid: number | null } {
  return { queue: worker.queue, worker: worker.id, pid: worker.pid };
}
