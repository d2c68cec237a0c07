import type {
  Decision,
  HostCapacity,
  Logger,
  QueueSnapshot,
  ResourceSnapshot,
} from '@qscale/contracts';
import type { PoolStatus, StopSummary } from '@qscale/process-supervisor';
import type { AlertsState } from './alerts/alerting.js';
import type { Environment } from './config/env.js';
import type { ExternalScalerConfig } from './config/external-scaler.js';
import type { QscaleConfig, QueueConfig } from './config/schema.js';
import type { FleetState } from './fleet/fleet.js';
import type { DaemonMetrics } from './observability/metrics.js';
import type { GroupState } from './runtime/group-runtime.js';
import type { DecisionRecord, QueueHold } from './runtime/holds.js';
import type { QueueRuntime } from './runtime/queue-runtime.js';
import type { WorkerCountView } from './scaler/pods.js';

// The daemon's public shapes: what startDaemon takes and returns, and what /api/state shows.
// They live apart from the code so that every part of the daemon (daemon.ts, the tick, the
// reload, the state view) can name them without importing one another.

export interface DaemonOptions {
  config: QscaleConfig;
  /** The file `reload()` reads again; without it, reload() reports that it cannot. */
  configPath?: string | null;
  /** Decide and report, but spawn and stop nothing. @defaultValue false */
  dryRun?: boolean;
  /** A plain Logger, or the daemon logger (which also learns the secrets to redact). */
  logger?: Logger & { setSecrets?: (values: Iterable<string>) => void };
  /** Variables for `${NAME}` references on reload. @defaultValue process.env */
  env?: Environment;
  /** Decisions kept for /api/state. @defaultValue 200 */
  decisionHistory?: number;
  /** The dashboard's charts: how far back, in how many points per queue. @defaultValue 1 h, 720 */
  history?: { windowMs?: number; points?: number };
  /** Where the resource monitor reads; for containers that mount them elsewhere. */
  procRoot?: string;
  sysRoot?: string;
  /**
   * The workers run elsewhere (pods that KEDA scales; `qscale scaler`): spawn nothing, count
   * them from each queue's backend every tick, and leave this host's capacity out of the
   * decisions. @defaultValue false
   */
  workersElsewhere?: boolean;
  /**
   * Serve KEDA's external scaler with these settings even when the configuration has no
   * `externalScaler` section (`qscale scaler`). @defaultValue the configuration's section
   */
  externalScaler?: ExternalScalerConfig | null;
}

export interface QueueState {
  name: string;
  driver: QueueConfig['driver'];
  slo: QueueConfig['slo'];
  bounds: { min: number; max: number };
  snapshot: QueueSnapshot | null;
  workers: ReturnType<QueueRuntime['workers']>;
  pool: PoolStatus | null;
  lastDecision: Decision | null;
  /** The last decision kept the queue below its recommendation: by whom and why; else null. */
  held: QueueHold | null;
  /** Workers run elsewhere (scaler mode): how they were counted at the last tick; else absent. */
  workerCount?: WorkerCountView | null;
  /** A worker group: its discipline and member queues, each with its term; else absent. */
  group?: GroupState;
}

export interface DaemonState {
  version: 1;
  startedAt: number;
  now: number;
  dryRun: boolean;
  tickMs: number;
  ticks: number;
  /** The last tick: when, how long, and how long each phase took (read, resources, decide, apply), ms. */
  lastTick: { at: number; durationMs: number; phasesMs: Record<TickPhase, number> } | null;
  health: { status: 'ok' | 'degraded'; reasons: string[] };
  resources: ResourceSnapshot | null;
  capacity: HostCapacity | null;
  queues: QueueState[];
  /** Recent changes of worker counts, oldest first. */
  decisions: DecisionRecord[];
  /** Alert webhooks (by name, never their URLs) and the conditions firing now. */
  alerts: AlertsState;
  /**
   * Recent decisions that changed nothing but kept a queue below its recommendation
   * (`direction: 'hold'`), a run of identical ones folded into one record; by their last tick.
   */
  holds: DecisionRecord[];
  /** A fleet (`cluster.enabled`): this host, the leader and its term, the live members. */
  cluster?: FleetState;
}

export type TickPhase = 'read' | 'resources' | 'decide' | 'apply';

export type ReloadResult = { ok: true; changed: string[] } | { ok: false; problems: string[] };

export interface Daemon {
  /** Where the status API listens; null when `http.enabled` is false. */
  readonly url: string | null;
  /** Where KEDA's external scaler gRPC service listens (`host:port`); null when not served. */
  readonly scalerAddress: string | null;
  readonly metrics: DaemonMetrics;
  state(): DaemonState;
  /** Reads the configuration file again; an invalid one keeps the running configuration. */
  reload(): Promise<ReloadResult>;
  /** Stops the loop and every worker gracefully (in parallel, within the grace periods). */
  stop(): Promise<StopSummary | null>;
  /** Kills every worker at once, synchronously: for a last-resort exit path. */
  killAllSync(): number;
}
