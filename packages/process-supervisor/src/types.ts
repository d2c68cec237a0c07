import type { Logger } from '@qscale/contracts';

/** Options of {@link startSupervisor}. */
export interface SupervisorOptions {
  /** Where worker PIDs are recorded (written atomically); relative paths resolve from the cwd. */
  stateFile: string;
  /** What to do with live workers of a previous run. Default {@link DEFAULTS}.previousWorkers. */
  previousWorkers?: 'adopt' | 'stop';
  /** Refuse pools whose workers would run as root. Default {@link DEFAULTS}.refuseRoot. */
  refuseRoot?: boolean;
  /** Receives every transition and every worker output line. Default: silent. */
  logger?: Logger;
  /** How often /proc is walked for workers' descendants. Default {@link DEFAULTS}.treeScanMs. */
  treeScanMs?: number;
}

/** Crash-loop settings of a pool; see {@link DEFAULTS}.restart. */
export interface RestartOptions {
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  backoffJitterRatio?: number;
  backoffResetMs?: number;
  maxFailedStarts?: number;
  coolOffMs?: number;
}

/** Output handling of a pool; see {@link DEFAULTS}.output. */
export interface OutputOptions {
  maxLineBytes?: number;
  linesPerSecond?: number;
  burstLines?: number;
  tailLines?: number;
  drainMs?: number;
  /** Literal strings to redact from output lines, in addition to the secret-looking env values. */
  redact?: readonly string[];
}

/**
 * The settings of one queue's pool. The field names are those of the daemon's `QueueConfig`,
 * so a queue's configuration can be passed as is (fields the pool does not use are ignored).
 */
export interface PoolOptions {
  /** The queue's name, used in events, logs and the state file. */
  name: string;
  /** Program and arguments of one worker. Never run through a shell. */
  command: readonly string[];
  /**
   * The worker's whole environment; PATH is added from the supervisor's when not set, and
   * QSCALE_WORKER_TOKEN (the worker's own adoption proof; not allowed here) always.
   */
  env?: Readonly<Record<string, string>>;
  /** Working directory of the workers. Default: the supervisor's. */
  cwd?: string;
  /** User name or numeric id to run as (needs root). Null: the supervisor's own user. */
  user?: string | null;
  /** Group name or numeric id. Null: the user's primary group. */
  group?: string | null;
  stop?: {
    /** Default {@link DEFAULTS}.stop.signals. */
    signals?: readonly string[];
    /** Default {@link DEFAULTS}.stop.graceMs. */
    graceMs?: number;
    /** Default {@link DEFAULTS}.stop.signalGapMs. */
    signalGapMs?: number;
    /** Default {@link DEFAULTS}.stop.killWaitMs. */
    killWaitMs?: number;
  };
  spawn?: {
    /** Default {@link DEFAULTS}.spawn.minUptimeMs. */
    minUptimeMs?: number;
    /** Default {@link DEFAULTS}.spawn.turnBudgetMs. */
    turnBudgetMs?: number;
  };
  recycle?: {
    /** Replace a worker whose RSS (from {@link WorkerPool.observeResources}) passes this. */
    maxRssBytes?: number | null;
    /** Replace a worker that has lived this long. */
    maxLifetimeMs?: number | null;
  };
  workers?: { concurrency?: number };
  restart?: RestartOptions;
  rollout?: { surge?: number };
  output?: OutputOptions;
  /** How often adopted workers are looked up in /proc. Default {@link DEFAULTS}.adoptedPollMs. */
  adoptedPollMs?: number;
}

/** A worker's place in its life. */
export type WorkerState = 'starting' | 'running' | 'stopping' | 'exited';

/** Why a worker is being replaced. */
export type RecycleReason = 'memory' | 'lifetime' | 'config';

/** Why a worker is being stopped. */
export type StopReason = 'scale-down' | 'recycle' | 'shutdown' | 'previous-run';

/** Why a worker was spawned. */
export type SpawnReason = 'scale-up' | 'restart' | 'replacement';

/**
 * How a worker's run ended: `stopped` on request, `finished` (exit 0 after the minimum uptime,
 * e.g. `queue:work --max-jobs`), `crashed` (non-zero or killed after the minimum uptime) or
 * `failed-start` (any exit before it, or a spawn error).
 */
export type ExitOutcome = 'stopped' | 'finished' | 'crashed' | 'failed-start';

/** The pool's restart gate. */
export type PoolHealth = 'ok' | 'backoff' | 'degraded';

/** One worker as the pool sees it. */
export interface WorkerInfo {
  id: string;
  pid: number | null;
  state: WorkerState;
  /** Spawned by an earlier run of the supervisor and adopted by this one. */
  adopted: boolean;
  /** Epoch milliseconds. */
  spawnedAt: number;
  uptimeMs: number;
  /** Set while the worker waits for its replacement. */
  retiring: RecycleReason | null;
  /** The last RSS reported through `observeResources`, or null. */
  rssBytes: number | null;
}

/** The end of a worker's run. */
export interface ExitRecord {
  workerId: string;
  pid: number | null;
  /** Exit code, or null when a signal ended it (or it was adopted: not our child, unknown). */
  code: number | null;
  signal: string | null;
  outcome: ExitOutcome;
  uptimeMs: number;
  /** Epoch milliseconds. */
  at: number;
  /** Spawn error, e.g. `spawn php ENOENT`. */
  error: string | null;
}

/** Spawn latency: from the spawn call to the `running` state (which includes the minimum uptime). */
export interface SpawnLatency {
  lastMs: number;
  /** Exponential moving average, weight 0.3 on the newest sample. */
  meanMs: number;
  samples: number;
}

/** Everything a status page needs about one pool. */
export interface PoolStatus {
  queue: string;
  desired: number;
  running: number;
  starting: number;
  stopping: number;
  health: PoolHealth;
  /** Failed starts in a row (exits before the minimum uptime). */
  failedStarts: number;
  /** When the restart gate opens again, in ms from now; null when open. */
  retryInMs: number | null;
  spawnLatency: SpawnLatency | null;
  lastExit: ExitRecord | null;
  workers: WorkerInfo[];
}

/** What `stop()` did. */
export interface StopSummary {
  /** Workers told to stop. */
  stopped: number;
  /** Of those, how many had to be killed with SIGKILL after the grace period. */
  escalated: number;
  /** Of those, how many had not exited `killWaitMs` after SIGKILL (logged as errors). */
  unkillable: number;
}

/** Fields every worker event carries (also the log fields of worker lines). */
export interface WorkerRef {
  queue: string;
  workerId: string;
  pid: number | null;
}

/** The events of a pool, by name. */
export interface PoolEvents {
  /** A process was started. */
  spawned: WorkerRef & { pid: number; pgid: number; argv0: string; reason: SpawnReason };
  /** A worker passed the minimum uptime. */
  running: WorkerRef & {
    /** From the spawn call to now; null for an adopted worker (not spawned by this run). */
    spawnLatencyMs: number | null;
  };
  /** A worker's process ended, whatever the reason. */
  exited: WorkerRef & {
    code: number | null;
    signal: string | null;
    outcome: ExitOutcome;
    uptimeMs: number;
    adopted: boolean;
    error: string | null;
  };
  /** A worker ended without being asked to (or failed to start); emitted after `exited`. */
  crashed: WorkerRef & {
    code: number | null;
    signal: string | null;
    uptimeMs: number;
    failedStart: boolean;
    error: string | null;
    /** The worker's last output lines, redacted. */
    lastOutput: string[];
  };
  /** Restarts wait `delayMs` after a crash. */
  backoff: { queue: string; delayMs: number; attempt: number; failedStarts: number };
  /** Too many failed starts in a row: no spawns until the cool-off is over, then one probe. */
  degraded: { queue: string; failedStarts: number; retryInMs: number };
  /** A worker reached `running` again after the queue was degraded. */
  recovered: { queue: string };
  /** A live worker of a previous run was taken over. */
  adopted: WorkerRef & { pid: number; startTicks: number; uptimeMs: number; outdated: boolean };
  /** A worker will be replaced (its replacement starts before it stops). */
  recycled: WorkerRef & { reason: RecycleReason; rssBytes: number | null; uptimeMs: number };
  /** A worker was sent its first stop signal. */
  stopping: WorkerRef & { reason: StopReason; signal: string };
  /** The grace period ran out: the worker's group got SIGKILL. */
  escalated: WorkerRef & { afterMs: number };
  /** Output lines over the rate limit were dropped (reported at most once a second). */
  'output-dropped': WorkerRef & { lines: number };
}

/**
 * Why a worker recorded in the state file was left alone: `gone`, `zombie`, `pid-reused` (same
 * PID, another start time), `other-boot`, `unproven` (the process does not carry the worker
 * token whose hash was recorded, or no longer leads its group: qscale did not start it, or a
 * file of an older version), `protected-pid` (PID 1, or the supervisor's own process or group).
 */
export type SkipReason =
  | 'gone'
  | 'zombie'
  | 'pid-reused'
  | 'other-boot'
  | 'unproven'
  | 'protected-pid';

/** The events of a supervisor: those of all its pools, plus its own. */
export interface SupervisorEvents extends PoolEvents {
  /** A worker of a previous run was not adopted nor stopped, and why (a reused PID is never touched). */
  'previous-skipped': { queue: string; pid: number; reason: SkipReason };
  /** The state file could not be written; supervision goes on. */
  'state-file-error': { path: string; error: string };
}
