import { dirname, resolve } from 'node:path';
import { silentLogger } from '@qscale/contracts';
import { createMetricsReader, type MetricsReader } from '@qscale/metrics-reader';
import type { PolicyEvent } from '@qscale/policies';
import type { StopSummary } from '@qscale/process-supervisor';
import { createResourceMonitor } from '@qscale/resource-monitor';
import { createAlerting } from './alerts/alerting.js';
import { checkConfig } from './config/check.js';
import { configWarnings } from './config/warnings.js';
import { type DaemonContext, initialLoopState } from './daemon-context.js';
import type { Daemon, DaemonOptions } from './daemon-types.js';
import { Fleet } from './fleet/fleet.js';
import { startStatusApi } from './http/status-api.js';
import { QueueHistory } from './loop/history.js';
import { RingBuffer } from './loop/ring-buffer.js';
import { startTickLoop, startWaking } from './loop/schedule.js';
import { DaemonMetrics } from './observability/metrics.js';
import { daemonState } from './observability/state-view.js';
import { reload } from './reload/reload.js';
import { memberMetricRows } from './runtime/group-runtime.js';
import { type DecisionRecord, HoldLog } from './runtime/holds.js';
import { startRuntimes } from './runtime/start-runtimes.js';
import { readerSources, secretsOf } from './runtime/wiring.js';
import { loopVerdicts } from './scaler/loop-verdicts.js';
import { PodWorkers } from './scaler/pods.js';
import { startExternalScalerServer } from './scaler/service.js';
import { shutDown } from './shutdown.js';

// startDaemon assembles the daemon from its parts, in the order they must start: the context
// (daemon-context.ts) holds its state; the tick (loop/), the reload (reload/), the state view
// (observability/state-view.ts), the status API (http/status-api.ts) and the external scaler
// (scaler/loop-verdicts.ts) work on it.

/**
 * Starts the control loop of ARCHITECTURE.md: every tick, read the queues and the host, ask
 * each queue's strategy and policies, share the host fairly, and reconcile the pools.
 * @throws {ConfigError} `CONFIG_UNUSABLE` when {@link checkConfig} finds a problem (a program,
 * directory, account or strategy missing, root refused), and whatever else stops it from
 * starting (state file in use, HTTP port taken); nothing is left running then.
 */
export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const logger = options.logger ?? silentLogger;
  const dryRun = options.dryRun ?? false;
  const configDir = options.configPath ? dirname(resolve(options.configPath)) : process.cwd();
  // What `qscale validate` checks too: every problem at once, before anything starts.
  await checkConfig(options.config, { configDir, pools: !dryRun && !options.workersElsewhere });
  // Read at scrape time, from the state the loop keeps anyway.
  const metrics = new DaemonMetrics({
    queues: () =>
      [...ctx.runtimes.values()].map((runtime) => ({
        name: runtime.config.name,
        snapshot: runtime.lastSnapshot,
        workers: runtime.workers(),
        desired: runtime.lastDecision?.to ?? null,
        decision: runtime.lastDecision,
        slo: runtime.config.slo,
      })),
    groupMembers: () => memberMetricRows(ctx.runtimes),
    roundTrips: () => ctx.reader.stats().last?.roundTrips ?? null,
    host: () => ({
      resources: ctx.resources,
      capacity: ctx.hostCapacity,
      maxWorkers: ctx.config.limits.maxWorkers,
    }),
    alertQueues: () => alerts.queues(),
  });
  // Alerts leave the tick at once: each webhook sends from its own queue.
  const alerts = createAlerting({
    config: options.config.alerts,
    logger,
    counters: metrics.alerts,
  });
  const decisions = new RingBuffer<DecisionRecord>(options.decisionHistory ?? 200);
  // Holds that changed nothing are kept apart: `decisions` stays a log of changes.
  const holdLog = new RingBuffer<DecisionRecord>(options.decisionHistory ?? 200);
  const holds = new HoldLog(holdLog);
  const history = new QueueHistory(options.history);
  const startedAt = Date.now();
  const config = options.config;
  options.logger?.setSecrets?.(secretsOf(config));
  for (const warning of configWarnings(config)) logger.warn(warning);

  const onPolicyEvent = (event: PolicyEvent) => {
    if (event.type === 'slo-breach') {
      logger.warn('SLO breached', { ...event });
    } else {
      logger.info('SLO met again', { ...event });
    }
  };

  const { supervisor, runtimes } = await startRuntimes({
    config,
    dryRun,
    workersElsewhere: options.workersElsewhere ?? false,
    configDir,
    logger,
    metrics,
    onPolicyEvent,
  });

  const reader: MetricsReader = createMetricsReader({
    sources: config.queues.flatMap(readerSources),
    logger,
  });
  // Pods elsewhere: counted from each queue's backend over the reader's connections.
  const pods = options.workersElsewhere ? new PodWorkers(logger, reader) : null;
  // A fleet shares the queues through the top-level Redis (src/fleet/); its settings apply
  // at the next start, so its alerts name the key prefix it started with, not a reloaded one.
  const fleetKeyPrefix = config.cluster.keyPrefix;
  const fleet = config.cluster.enabled
    ? new Fleet({
        cluster: config.cluster,
        redis: config.redis,
        logger,
        onLeaderChange: ({ from, to, term }) =>
          alerts.leaderChanged({
            fleet: fleetKeyPrefix,
            previous: { host: from, id: from },
            leader: { host: to, id: to },
            fencingToken: term,
            at: Date.now(),
          }),
      })
    : null;
  const monitor = createResourceMonitor({
    logger,
    ...(options.procRoot ? { procRoot: options.procRoot } : {}),
    ...(options.sysRoot ? { sysRoot: options.sysRoot } : {}),
  });
  // The first snapshot only primes the CPU counters: usage needs two readings.
  await monitor.snapshot([]).catch(() => null);

  const ctx: DaemonContext = {
    options,
    logger,
    dryRun,
    configDir,
    refuseRoot: options.config.supervision.refuseRoot,
    config,
    startedAt,
    metrics,
    alerts,
    decisions,
    holdLog,
    holds,
    history,
    onPolicyEvent,
    supervisor,
    runtimes,
    reader,
    pods,
    fleet,
    monitor,
    ...initialLoopState(),
    scalerSettings: options.externalScaler ?? config.externalScaler,
  };
  ctx.ticker = startTickLoop(ctx);
  ctx.wakePoller = startWaking(ctx);
  try {
    ctx.http = await startStatusApi(ctx);
    // KEDA's external scaler, over the decisions of this loop (src/scaler/service.ts).
    ctx.scaler = ctx.scalerSettings
      ? await startExternalScalerServer({
          settings: ctx.scalerSettings,
          logger,
          source: loopVerdicts(ctx),
        })
      : null;
  } catch (error) {
    // Nothing of a failed start outlives it: the same teardown as `stop()` (the wake poller, a
    // tick in flight that may be spawning, alert channels, every listener and connection).
    await shutDown(ctx);
    throw error;
  }

  logger.info('qscale daemon started', {
    queues: config.queues.map((queue) => queue.name),
    tickMs: config.tickMs,
    http: ctx.http?.url ?? null,
    ...(ctx.scaler ? { externalScaler: ctx.scaler.address } : {}),
    ...(pods ? { workers: 'elsewhere (counted from the backends)' } : {}),
    dryRun,
    adopted: supervisor?.previousRun.unclaimed ?? 0,
  });

  let stopped: Promise<StopSummary | null> | null = null;
  return {
    get url() {
      return ctx.http?.url ?? null;
    },
    get scalerAddress() {
      return ctx.scaler?.address ?? null;
    },
    metrics,
    state: () => daemonState(ctx),
    reload: () => reload(ctx),
    stop: () => {
      stopped ??= shutDown(ctx);
      return stopped;
    },
    killAllSync: () => supervisor?.killAllSync() ?? 0,
  };
}
