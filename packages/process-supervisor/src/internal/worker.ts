import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import type { RecycleReason, SpawnReason, StopReason, WorkerInfo, WorkerState } from '../types.js';
import { hashWorkerToken, newWorkerToken, WORKER_TOKEN_VARIABLE } from './identity.js';
import { OutputReader, type OutputSettings, type StreamName } from './output.js';
import { isLive, liveGroupMembers, parseStat, readStat } from './proc.js';
import { REDACTED } from './redact.js';
import type { CommandSpec } from './settings.js';
import { refusedGroup, signalGroup } from './signals.js';
import type { StateEntry } from './state-file.js';
import type { Family, ProcessTree } from './tree.js';

/** How a worker's run ended, as the pool needs it. */
export interface WorkerExit {
  code: number | null;
  signal: string | null;
  error: string | null;
  uptimeMs: number;
  /** The worker reached `running` before it ended. */
  wasRunning: boolean;
  lastOutput: string[];
}

/** How to stop a worker: the signals in order, then SIGKILL to the group after the grace. */
export interface StopPlan {
  signals: readonly NodeJS.Signals[];
  graceMs: number;
  signalGapMs: number;
  killWaitMs: number;
}

/** What a worker tells its owner (a pool, or the supervisor for unclaimed previous workers). */
export interface WorkerHooks {
  spawned(worker: Worker): void;
  running(worker: Worker): void;
  stopping(worker: Worker, signal: string): void;
  escalated(worker: Worker, afterMs: number): void;
  unkillable(worker: Worker): void;
  exited(worker: Worker, exit: WorkerExit): void;
  outputLine(worker: Worker, stream: StreamName, text: string, truncated: boolean): void;
  outputDropped(worker: Worker, lines: number): void;
  problem(worker: Worker, message: string, error: unknown): void;
  /** Something the state file records changed (start ticks became known). */
  changed(): void;
}

const STOPPING_POLL_MS = 100;
/** Rounds of scan-and-SIGKILL for what a worker left behind, the first wait after one SIGKILL. */
const LEFTOVER_ROUNDS = 6;
const LEFTOVER_WAIT_MS = 10;

/**
 * One worker process and its state machine: starting -> running -> stopping -> exited.
 * Transitions happen on the child's 'exit' (or, for an adopted worker that is not our child,
 * on a /proc poll), on 'error', and on timers. Uptimes use the monotonic clock.
 */
export class Worker {
  readonly id: string;
  /** Creation order within the owner, to break ties between equal spawn times. */
  readonly seq: number;
  readonly spawnReason: SpawnReason;
  readonly queue: string;
  readonly adopted: boolean;
  readonly commandHash: string;
  readonly argv0: string;
  /** Epoch milliseconds. */
  readonly spawnedAt: number;
  state: WorkerState = 'starting';
  pid: number | null = null;
  startTicks: number | null = null;
  /** SHA-256 of the token in the worker's environment: what proves it ours on adoption. */
  tokenHash: string | null = null;
  retiring: RecycleReason | null = null;
  stopReason: StopReason | null = null;
  rssBytes: number | null = null;
  escalated = false;
  hooks: WorkerHooks;
  /** Used for the state file, and for the stop unless the caller gives another plan. */
  stopPlan: StopPlan;
  /** Resolves when the run has ended and its output is drained. */
  readonly finished: Promise<WorkerExit>;
  /** Resolves when finished, or when the worker outlived SIGKILL by `killWaitMs`. */
  readonly settled: Promise<void>;

  readonly #spawnedMono: number;
  readonly #timers = new Set<NodeJS.Timeout>();
  #resolveFinished!: (exit: WorkerExit) => void;
  #resolveSettled!: () => void;
  #child: Subprocess | null = null;
  #output: OutputReader | null = null;
  #exit: WorkerExit | null = null;
  #finishedFlag = false;
  #stopStartedMono: number | null = null;
  #killAtMono: number | null = null;
  #killTimer: NodeJS.Timeout | null = null;
  #minUptimeTimer: NodeJS.Timeout | null = null;
  #pollTimer: NodeJS.Timeout | null = null;
  #pollMs = 0;
  #lifetimeTimer: NodeJS.Timeout | null = null;
  #ranMinUptime = false;
  #drainMs = 0;
  #killWaitMs = 0;
  readonly #tree: ProcessTree | null;
  #family: Family | null = null;
  /** Resolves once the worker's leftovers are killed (or none were found). */
  #leftovers: Promise<void> | null = null;
  #leftoversKilled = false;

  constructor(init: {
    id: string;
    seq: number;
    spawnReason: SpawnReason;
    queue: string;
    adopted: boolean;
    commandHash: string;
    argv0: string;
    spawnedAt: number;
    hooks: WorkerHooks;
    stopPlan: StopPlan;
    /** Finds the worker's descendants that left its process group; none when absent. */
    tree?: ProcessTree | null;
  }) {
    this.id = init.id;
    this.seq = init.seq;
    this.spawnReason = init.spawnReason;
    this.queue = init.queue;
    this.adopted = init.adopted;
    this.commandHash = init.commandHash;
    this.argv0 = init.argv0;
    this.spawnedAt = init.spawnedAt;
    this.hooks = init.hooks;
    this.stopPlan = init.stopPlan;
    this.#tree = init.tree ?? null;
    this.#spawnedMono = performance.now() - Math.max(0, Date.now() - init.spawnedAt);
    this.finished = new Promise((resolve) => {
      this.#resolveFinished = resolve;
    });
    this.settled = new Promise((resolve) => {
      this.#resolveSettled = resolve;
    });
  }

  get uptimeMs(): number {
    return Math.max(0, Math.round(performance.now() - this.#spawnedMono));
  }

  /** True while the process may still run jobs (not stopping, not exited). */
  get live(): boolean {
    return this.state === 'starting' || this.state === 'running';
  }

  /** Spawns the process (no shell, own process group, explicit environment). */
  start(
    spec: CommandSpec,
    output: OutputSettings & { drainMs: number },
    redact: (line: string) => string,
  ): void {
    let child: Subprocess;
    const token = newWorkerToken();
    this.tokenHash = hashWorkerToken(token);
    try {
      child = spawnProcess({ ...spec, env: { ...spec.env, [WORKER_TOKEN_VARIABLE]: token } });
    } catch (error) {
      // Invalid spawn options throw synchronously; report it like a spawn failure, but not
      // from inside the caller's loop.
      setImmediate(() => this.#onExit(null, null, errorMessage(error)));
      return;
    }
    this.#child = child;
    // reject: false means this never rejects; the result only matters when spawning failed
    // before any 'exit' (execa then returns a stand-in subprocess that emits nothing).
    child.then(
      (result) => {
        if (this.pid === null) this.#onExit(null, null, spawnError(result));
      },
      (error: unknown) => {
        if (this.pid === null) this.#onExit(null, null, errorMessage(error));
      },
    );
    child.on('error', (error) => {
      if (this.pid === null) this.#onExit(null, null, errorMessage(error));
      else this.hooks.problem(this, 'worker process error', error);
    });
    if (child.pid === undefined) return;

    this.pid = child.pid;
    this.#family =
      this.#tree?.track({
        pid: child.pid,
        startTicks: null,
        isChild: true,
        queue: this.queue,
        worker: this.id,
      }) ?? null;
    child.once('exit', (code, signal) => this.#onExit(code, signal, null));
    // The token is a secret too: a worker that prints its environment must not log it.
    const redactAll = (line: string) => redact(line).replaceAll(token, REDACTED);
    this.#output = new OutputReader(output, redactAll, {
      line: (stream, text, truncated) => this.hooks.outputLine(this, stream, text, truncated),
      dropped: (lines) => this.hooks.outputDropped(this, lines),
    });
    this.#read('stdout', child.stdout);
    this.#read('stderr', child.stderr);
    this.#drainMs = output.drainMs;
    this.hooks.spawned(this);
    this.#recordStartTicks(child.pid);
  }

  /** Takes over a live worker of a previous run: identity already checked by the caller. */
  adopt(entry: StateEntry): void {
    this.pid = entry.pid;
    this.startTicks = entry.startTicks;
    this.tokenHash = entry.tokenHash ?? null;
    this.#family =
      this.#tree?.track({
        pid: entry.pid,
        startTicks: entry.startTicks,
        isChild: false,
        queue: this.queue,
        worker: this.id,
      }) ?? null;
  }

  /** Starts looking an adopted worker up in /proc every `pollMs`: it is not our child. */
  watch(pollMs: number): void {
    this.#pollMs = pollMs;
    this.#schedulePoll();
  }

  /** Becomes `running` after the rest of the minimum uptime. */
  beginMinUptime(minUptimeMs: number): void {
    const remaining = minUptimeMs - this.uptimeMs;
    if (remaining <= 0) {
      this.#becomeRunning();
      return;
    }
    this.#minUptimeTimer = this.#timer(() => this.#becomeRunning(), remaining, false);
  }

  /** Calls `onExpiry` once the worker has lived `maxLifetimeMs` (replaces an earlier timer). */
  setLifetime(maxLifetimeMs: number | null, onExpiry: () => void): void {
    if (this.#lifetimeTimer) this.#clear(this.#lifetimeTimer);
    this.#lifetimeTimer = null;
    if (maxLifetimeMs === null || this.#finishedFlag) return;
    const expire = () => {
      // Timers may fire a fraction of a millisecond early: never retire a worker before its time.
      if (this.uptimeMs < maxLifetimeMs) this.setLifetime(maxLifetimeMs, onExpiry);
      else onExpiry();
    };
    this.#lifetimeTimer = this.#timer(expire, Math.max(1, maxLifetimeMs - this.uptimeMs), false);
  }

  /**
   * Stops the worker: the plan's signals in order to its process group, then SIGKILL to the
   * group once `graceMs` (capped by `deadlineMs` from now, when given) has passed. Asking
   * again can only bring the SIGKILL closer.
   */
  requestStop(reason: StopReason, plan: StopPlan, deadlineMs?: number): void {
    if (this.#finishedFlag || this.#exit) return;
    const now = performance.now();
    if (this.state !== 'stopping') {
      this.state = 'stopping';
      this.stopReason = reason;
      this.#stopStartedMono = now;
      if (this.#minUptimeTimer) this.#clear(this.#minUptimeTimer);
      const [first] = plan.signals;
      if (first) this.hooks.stopping(this, first);
      this.#signalInTurn(plan.signals, plan.signalGapMs);
      this.#killWaitMs = plan.killWaitMs;
      if (this.adopted) this.#schedulePoll();
    }
    const killAt = Math.min(
      (this.#stopStartedMono ?? now) + plan.graceMs,
      deadlineMs === undefined ? Number.POSITIVE_INFINITY : now + deadlineMs,
      this.#killAtMono ?? Number.POSITIVE_INFINITY,
    );
    if (killAt === this.#killAtMono) return;
    this.#killAtMono = killAt;
    this.#armKill(killAt);
  }

  /**
   * Last resort for the daemon's process 'exit' handler (synchronous by necessity): SIGKILL
   * the worker's group now. An adopted worker is checked against its start time first.
   */
  killSync(): boolean {
    if (this.pid === null || this.#exit || this.#finishedFlag) return false;
    this.#killDescendantsSync();
    if (this.adopted) {
      try {
        const stat = parseStat(readFileSync(`/proc/${this.pid}/stat`, 'utf8'));
        if (!isLive(stat) || stat.startTicks !== this.startTicks) return false;
      } catch {
        return false;
      }
    }
    try {
      return signalGroup(this.pid, 'SIGKILL') === 'sent';
    } catch {
      return false; // SIGNAL_REFUSED: not a group a worker can lead
    }
  }

  toInfo(): WorkerInfo {
    return {
      id: this.id,
      pid: this.pid,
      state: this.state,
      adopted: this.adopted,
      spawnedAt: this.spawnedAt,
      uptimeMs: this.uptimeMs,
      retiring: this.retiring,
      rssBytes: this.rssBytes,
    };
  }

  /** The state-file record, once the start time is known. */
  toStateEntry(bootId: string): StateEntry | null {
    if (this.pid === null || this.startTicks === null || this.#finishedFlag) return null;
    return {
      queue: this.queue,
      pid: this.pid,
      pgid: this.pid,
      startTicks: this.startTicks,
      bootId,
      ...(this.tokenHash === null ? {} : { tokenHash: this.tokenHash }),
      commandHash: this.commandHash,
      argv0: this.argv0,
      spawnedAt: this.spawnedAt,
      stopSignals: [...this.stopPlan.signals],
      graceMs: this.stopPlan.graceMs,
    };
  }

  #read(name: StreamName, stream: Readable | null): void {
    if (!stream) return;
    stream.on('data', (chunk: Buffer | string) => {
      this.#output?.push(name, typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    });
    stream.on('end', () => this.#output?.end(name));
    // A pipe error only ends the output; the process state comes from 'exit'.
    stream.on('error', () => {});
  }

  #recordStartTicks(pid: number): void {
    readStat(pid).then(
      (stat) => {
        if (stat && !this.#finishedFlag) {
          this.startTicks = stat.startTicks;
          this.hooks.changed();
        }
      },
      (error: unknown) => this.hooks.problem(this, 'cannot read /proc start time', error),
    );
  }

  #becomeRunning(): void {
    this.#minUptimeTimer = null;
    if (this.state !== 'starting') return;
    this.state = 'running';
    this.#ranMinUptime = true;
    this.hooks.running(this);
  }

  /**
   * Sends the signals, in order, to the worker's process group; SIGKILL also goes to the
   * groups of its descendants that left it: a job process that called setsid (RQ's work
   * horse), or what a double fork left re-parented to init. This is systemd's
   * `KillMode=mixed`: the stop signals are the worker's to pass on (RQ's warm shutdown lets
   * its horse finish the job, where a SIGTERM to the horse would fail it at once), and
   * nothing of the tree outlives the grace or the worker itself (#killLeftovers).
   */
  #signal(signals: NodeJS.Signals[], sent: () => void = () => {}): void {
    if (this.pid === null || this.#exit) return;
    const family = this.#family;
    const tree = this.#tree;
    if (!family || !tree) {
      this.#signalWorker(signals);
      sent();
      return;
    }
    // Walk the tree first: once signalled, the worker may exit at once, and a child that left
    // its group would then be re-parented to init before a later walk could link it to the
    // worker. The walk is asynchronous, so the signals land a few milliseconds later.
    tree
      .scan({ verify: true })
      .then(() => {
        // Exited meanwhile: #killLeftovers SIGKILLs what is left.
        if (this.#exit) return;
        this.#signalWorker(signals);
        if (!signals.includes('SIGKILL')) {
          sent();
          return;
        }
        for (const group of descendantGroups(family)) {
          if (group === this.pid) continue; // signalled with the worker
          for (const signal of signals) signalGroup(group, signal);
        }
        sent();
      })
      .catch((error: unknown) =>
        this.hooks.problem(this, `cannot send ${signals.join(', ')}`, error),
      );
  }

  /**
   * Sends `signals` one after another, each `gapMs` after the previous one was sent (not
   * requested: each waits for a walk of /proc, and two that landed together would lose a TSTP
   * to the SIGCONT that follows the TERM).
   */
  #signalInTurn(signals: readonly NodeJS.Signals[], gapMs: number): void {
    const [signal, ...rest] = signals;
    if (!signal) return;
    this.#signal(withContinue(signal), () => {
      if (rest.length > 0) this.#timer(() => this.#signalInTurn(rest, gapMs), gapMs, true);
    });
  }

  /** The signals to the worker's own process group. */
  #signalWorker(signals: NodeJS.Signals[]): void {
    if (this.pid === null || this.#exit) return;
    if (!this.adopted) {
      // Our child is not reaped before its 'exit' callback runs, so its PID (the group id)
      // cannot have been reused yet.
      try {
        for (const signal of signals) {
          if (signalGroup(this.pid, signal) === 'denied') this.#child?.kill(signal);
        }
      } catch (error) {
        this.hooks.problem(this, `cannot send ${signals.join(', ')}`, error);
      }
      return;
    }
    this.#signalAdopted(this.pid, signals).catch((error: unknown) =>
      this.hooks.problem(this, `cannot send ${signals.join(', ')}`, error),
    );
  }

  /**
   * What the worker left behind when it exited (its process group was SIGKILLed already):
   * SIGKILL to every group its tree still has, scanning again until none is left, like
   * systemd's control-group kill mode. Never rejects.
   */
  async #killLeftovers(family: Family): Promise<void> {
    const tree = this.#tree;
    if (!tree) return;
    tree.rootExited(family);
    try {
      for (let round = 0; round < LEFTOVER_ROUNDS; round++) {
        await tree.scan({ verify: true });
        if (family.members.size === 0) return;
        if (round === LEFTOVER_ROUNDS - 1) {
          const pids = [...family.members.keys()].join(', ');
          this.hooks.problem(this, 'descendants still alive after SIGKILL', new Error(pids));
          return;
        }
        for (const group of descendantGroups(family)) signalGroup(group, 'SIGKILL');
        await sleep(LEFTOVER_WAIT_MS * 2 ** round);
      }
    } catch (error) {
      this.hooks.problem(this, 'cannot kill what the worker left behind', error);
    } finally {
      tree.untrack(family);
    }
  }

  /** {@link killSync} for the descendants known at the last scan, each checked by start time. */
  #killDescendantsSync(): void {
    for (const member of this.#family?.members.values() ?? []) {
      try {
        const stat = parseStat(readFileSync(`/proc/${member.pid}/stat`, 'utf8'));
        if (!isLive(stat) || stat.startTicks !== member.startTicks) continue;
        if (refusedGroup(stat.pgid) === null) signalGroup(stat.pgid, 'SIGKILL');
        process.kill(member.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }

  /** Not our child: check it is still the same process (start time) before signalling. */
  async #signalAdopted(pid: number, signals: NodeJS.Signals[]): Promise<void> {
    const stat = await readStat(pid);
    const same = isLive(stat) && stat.startTicks === this.startTicks;
    // When the leader is gone, members of its group keep the group id from being reused.
    if (!same && (await liveGroupMembers(pid)).length === 0) return;
    for (const signal of signals) signalGroup(pid, signal);
  }

  #kill(): void {
    this.#killTimer = null;
    if (this.#finishedFlag || this.#exit) return;
    this.escalated = true;
    const afterMs = Math.round(performance.now() - (this.#stopStartedMono ?? 0));
    this.hooks.escalated(this, afterMs);
    this.#signal(['SIGKILL']);
    this.#timer(
      () => {
        if (this.#finishedFlag) return;
        this.hooks.unkillable(this);
        this.#resolveSettled();
      },
      this.#killWaitMs,
      true,
    );
  }

  #schedulePoll(): void {
    if (this.#pollTimer) this.#clear(this.#pollTimer);
    const interval = this.state === 'stopping' ? STOPPING_POLL_MS : this.#pollMs;
    this.#pollTimer = this.#timer(() => this.#poll(), interval, this.state === 'stopping');
  }

  #poll(): void {
    this.#pollTimer = null;
    const pid = this.pid;
    if (pid === null || this.#exit) return;
    readStat(pid)
      .then(async (stat) => {
        if (this.#exit) return;
        if (isLive(stat) && stat.startTicks === this.startTicks) {
          this.#schedulePoll();
          return;
        }
        if ((await liveGroupMembers(pid)).length > 0) signalGroup(pid, 'SIGKILL');
        this.#onExit(null, null, null);
      })
      .catch((error: unknown) => {
        this.hooks.problem(this, 'cannot poll adopted worker', error);
        this.#schedulePoll();
      });
  }

  #onExit(code: number | null, signal: string | null, error: string | null): void {
    if (this.#exit || this.#finishedFlag) return;
    const wasRunning = this.#ranMinUptime;
    this.state = 'exited';
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    // Whatever the worker left in its group (a grandchild that ignored SIGTERM) goes with it,
    // like systemd's control-group kill mode.
    if (this.pid !== null && !this.adopted) signalGroup(this.pid, 'SIGKILL');
    // ...and so does what left the group: a setsid child, a re-parented grandchild.
    if (this.#family) this.#leftovers = this.#killLeftovers(this.#family);
    this.#exit = {
      code,
      signal,
      error,
      uptimeMs: this.uptimeMs,
      wasRunning,
      lastOutput: [],
    };
    const child = this.#child;
    if (!child || this.pid === null) {
      this.#finish();
      return;
    }
    // 'close' follows once the pipes are drained; a child that escaped the group may hold
    // them open, so the wait is bounded.
    const timer = setTimeout(() => {
      child.stdout?.destroy();
      child.stderr?.destroy();
      this.#finish();
    }, this.#drainMs);
    timer.unref();
    child.once('close', () => {
      clearTimeout(timer);
      this.#finish();
    });
  }

  #finish(): void {
    if (this.#finishedFlag || !this.#exit) return;
    // Finished means nothing of the worker's tree runs any more.
    if (this.#leftovers && !this.#leftoversKilled) {
      void this.#leftovers.then(() => {
        this.#leftoversKilled = true;
        this.#finish();
      });
      return;
    }
    this.#finishedFlag = true;
    this.#output?.close();
    const exit = { ...this.#exit, lastOutput: this.#output?.tail() ?? [] };
    this.#resolveFinished(exit);
    this.#resolveSettled();
    this.hooks.exited(this, exit);
  }

  /**
   * SIGKILL once the monotonic clock reaches `killAtMono`. A timer may fire a fraction of a
   * millisecond early: it then waits out the rest, so a grace period is never cut short.
   */
  #armKill(killAtMono: number): void {
    if (this.#killTimer) this.#clear(this.#killTimer);
    this.#killTimer = this.#timer(
      () => (performance.now() < killAtMono ? this.#armKill(killAtMono) : this.#kill()),
      Math.max(0, Math.ceil(killAtMono - performance.now())),
      true,
    );
  }

  #timer(callback: () => void, delayMs: number, keepAlive: boolean): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      callback();
    }, delayMs);
    if (!keepAlive) timer.unref();
    this.#timers.add(timer);
    return timer;
  }

  #clear(timer: NodeJS.Timeout): void {
    clearTimeout(timer);
    this.#timers.delete(timer);
  }
}

/** The groups of a worker's tree that may be signalled (never ours, init's or the kernel's). */
function descendantGroups(family: Family): number[] {
  return family.groups.filter((group) => refusedGroup(group) === null);
}

const JOB_CONTROL_STOPS = new Set<string>(['SIGTSTP', 'SIGTTIN', 'SIGTTOU']);

/**
 * A stop signal followed by SIGCONT, as systemd does: a worker someone stopped (SIGSTOP)
 * would otherwise never see the SIGTERM and only die at SIGKILL. Not after SIGTSTP and its
 * kin: the kernel discards a pending stop signal when SIGCONT arrives, so the worker's TSTP
 * handler (Sidekiq's "quiet") would never run.
 */
function withContinue(signal: NodeJS.Signals): NodeJS.Signals[] {
  return JOB_CONTROL_STOPS.has(signal) ? [signal] : [signal, 'SIGCONT'];
}

/** Spawns one worker: no shell, its own process group, only the given environment. */
function spawnProcess(spec: CommandSpec) {
  return execa(spec.file, spec.args, {
    cwd: spec.cwd,
    env: spec.env,
    extendEnv: false,
    shell: false,
    // Own process group, so a stop reaches the worker's children too (execa 9 has no
    // killDescendants). This also turns execa's exit cleanup off: the supervisor kills the
    // group itself, and a daemon restart may adopt the workers instead.
    detached: true,
    cleanup: false,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    // Read as a stream, line by line, never accumulated.
    buffer: false,
    reject: false,
    forceKillAfterDelay: false,
    ...(spec.uid === undefined ? {} : { uid: spec.uid }),
    ...(spec.gid === undefined ? {} : { gid: spec.gid }),
  });
}
type Subprocess = ReturnType<typeof spawnProcess>;

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** execa's failed result: `originalMessage` is the bare spawn error (`spawn php ENOENT`). */
function spawnError(result: unknown): string {
  const failed = result as { originalMessage?: string; shortMessage?: string; failed?: boolean };
  return failed.originalMessage || failed.shortMessage || 'the process could not be spawned';
}
