import type { HostCapacity, Logger, ResourceSnapshot } from '@qscale/contracts';
import type { MetricsReader } from '@qscale/metrics-reader';
import { createHostAllocator, type HostAllocator, type PolicyEvent } from '@qscale/policies';
import type { Supervisor } from '@qscale/process-supervisor';
import {
  createWorkerCostTracker,
  type ResourceMonitor,
  type WorkerCostTracker,
} from '@qscale/resource-monitor';
import type { Alerting } from './alerts/alerting.js';
import type { ExternalScalerConfig } from './config/external-scaler.js';
import type { QscaleConfig } from './config/schema.js';
import type { DaemonOptions, DaemonState } from './daemon-types.js';
import type { Fleet } from './fleet/fleet.js';
import type { HttpServer } from './http/server.js';
import type { QueueHistory } from './loop/history.js';
import type { RingBuffer } from './loop/ring-buffer.js';
import { createSerialChain, type SerialChain } from './loop/serial-chain.js';
import type { Ticker } from './loop/ticker.js';
import type { WakePoller } from './loop/wake-poller.js';
import type { DaemonMetrics } from './observability/metrics.js';
import type { DecisionRecord, HoldLog } from './runtime/holds.js';
import type { QueueRuntime } from './runtime/queue-runtime.js';
import type { PodWorkers } from './scaler/pods.js';
import type { ExternalScalerServer } from './scaler/service.js';

// The running daemon's state in one explicit object: startDaemon (daemon.ts) assembles it and
// hands it to the parts it is made of (the tick's phases, the reload, the state view, the
// status API, the external scaler). Each part reads and changes the fields it needs by name,
// so what a part touches shows at its call site instead of hiding in one large closure.

export interface DaemonContext {
  readonly options: DaemonOptions;
  readonly logger: Logger;
  readonly dryRun: boolean;
  /** Where the configuration's relative paths resolve: its file's directory, else the cwd. */
  readonly configDir: string;
  /** Fixed for the supervisor's life; a reload may only make it stricter. */
  readonly refuseRoot: boolean;
  /** The configuration in force; a reload replaces it, all or nothing. */
  config: QscaleConfig;
  readonly startedAt: number;
  readonly metrics: DaemonMetrics;
  readonly alerts: Alerting;
  /** Changes of worker counts, for /api/state. */
  readonly decisions: RingBuffer<DecisionRecord>;
  /** Decisions that changed nothing but held a queue below its recommendation. */
  readonly holdLog: RingBuffer<DecisionRecord>;
  readonly holds: HoldLog;
  /** The dashboard's charts. */
  readonly history: QueueHistory;
  readonly onPolicyEvent: (event: PolicyEvent) => void;
  /** Called after every tick (the external scaler's streams). */
  readonly tickListeners: Set<() => void>;
  /** Null in a dry run and when the workers run elsewhere. */
  readonly supervisor: Supervisor | null;
  /** One per configured queue (or worker group), by name. */
  readonly runtimes: Map<string, QueueRuntime>;
  readonly reader: MetricsReader;
  /** The workers run elsewhere: counted from each queue's backend; else null. */
  readonly pods: PodWorkers | null;
  readonly fleet: Fleet | null;
  readonly monitor: ResourceMonitor;
  /** Who got which slot when, across ticks and reloads: a slot is held for the queue's cooldown. */
  readonly allocator: HostAllocator;
  /** What a worker of each queue costs, smoothed over ticks (it prices capacity per queue). */
  readonly workerCosts: WorkerCostTracker;
  /** The host as the last tick read it. */
  resources: ResourceSnapshot | null;
  hostCapacity: HostCapacity | null;
  ticks: number;
  lastTick: DaemonState['lastTick'];
  /** Queues the last read could not read: queue -> since when (epoch ms). */
  readonly unreadable: Map<string, number>;
  /** Pools stopping in the background (removed queues, replaced listeners); stop() awaits them. */
  readonly stopping: Set<Promise<unknown>>;
  /** A tick and a reload never interleave: both go through this chain. */
  readonly serial: SerialChain;
  /** Null only while startDaemon assembles the context, before the loop starts. */
  ticker: Ticker | null;
  wakePoller: WakePoller | null;
  /** The status API; null when `http.enabled` is false. */
  http: HttpServer | null;
  /** KEDA's external scaler; null when not served. */
  scaler: ExternalScalerServer | null;
  /** The external scaler's settings at start (they apply at the next start only). */
  readonly scalerSettings: ExternalScalerConfig | null;
}

/** Lets `work` finish in the background; stop() waits for it, and a failure is logged. */
export function trackInBackground(ctx: DaemonContext, work: Promise<unknown>): void {
  const tracked = work.catch((error: unknown) =>
    ctx.logger.error('background stop failed', { error }),
  );
  ctx.stopping.add(tracked);
  void tracked.then(() => ctx.stopping.delete(tracked));
}

/** The fields that start empty: nothing read, nothing ticked, nothing listening yet. */
export function initialLoopState(): Pick<
  DaemonContext,
  | 'tickListeners'
  | 'allocator'
  | 'workerCosts'
  | 'resources'
  | 'hostCapacity'
  | 'ticks'
  | 'lastTick'
  | 'unreadable'
  | 'stopping'
  | 'serial'
  | 'ticker'
  | 'wakePoller'
  | 'http'
  | 'scaler'
> {
  return {
    tickListeners: new Set(),
    allocator: createHostAllocator(),
    workerCosts: createWorkerCostTracker(),
    resources: null,
    hostCapacity: null,
    ticks: 0,
    lastTick: null,
    unreadable: new Map(),
    stopping: new Set(),
    serial: createSerialChain(),
    ticker: null,
    wakePoller: null,
    http: null,
    scaler: null,
  };
}
