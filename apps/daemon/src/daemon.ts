import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type {
  Decision,
  HostCapacity,
  Logger,
  QueueSnapshot,
  ResourceSnapshot,
} from '@qscale/contracts';
import { silentLogger } from '@qscale/contracts';
import { createMetricsReader, type MetricsReader } from '@qscale/metrics-reader';
import {
  type AllocationEntry,
  capToQueueCapacity,
  createHostAllocator,
  type PolicyEvent,
} from '@qscale/policies';
import {
  type PoolStatus,
  type StopSummary,
  type Supervisor,
  startSupervisor,
} from '@qscale/process-supervisor';
import { capacity, createResourceMonitor, createWorkerCostTracker } from '@qscale/resource-monitor';
import { type AlertsState, createAlerting } from './alerts/alerting.js';
import { alertViews } from './alerts/views.js';
import { checkConfig } from './config/check.js';
import type { Environment } from './config/env.js';
import type { ExternalScalerConfig } from './config/external-scaler.js';
import { loadConfig } from './config/load.js';
import { ConfigError, formatProblem } from './config/problems.js';
import type { QscaleConfig, QueueConfig } from './config/schema.js';
import { configWarnings } from './config/warnings.js';
import { Fleet, type FleetState } from './fleet/fleet.js';
import { fleetContext, fleetDecisions } from './fleet/reconcile.js';
import { type HttpServer, startHttpServer } from './http/server.js';
import { QueueHistory } from './loop/history.js';
import { RingBuffer } from './loop/ring-buffer.js';
import { startTicker, type Ticker } from './loop/ticker.js';
import { startWakePoller, type WakePoller } from './loop/wake-poller.js';
import { DaemonMetrics } from './observability/metrics.js';
import {
  createRuntimeFor,
  type GroupState,
  groupStateOf,
  historyNames,
  memberMetricRows,
  memberSnapshots,
  poolSnapshots,
  servingRuntime,
} from './runtime/group-runtime.js';
import { HoldLog, type QueueHold } from './runtime/holds.js';
import { createDecider, type Decider, type QueueRuntime } from './runtime/queue-runtime.js';
import { watchSupervisor } from './runtime/supervisor-events.js';
import {
  capacityWorkers,
  readerSources,
  sameDecider,
  samePool,
  sameSource,
  secretsOf,
  shareSettings,
} from './runtime/wiring.js';
import { PodWorkers, type WorkerCountView } from './scaler/pods.js';
import { type ExternalScalerServer, startExternalScalerServer } from './scaler/service.js';

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

/**
 * One decision that changed a queue's worker count, or held it below the strategy's
 * recommendation, as logs and /api/state show it.
 */
export interface DecisionRecord extends Decision {
  /** Epoch ms of the tick (of the first tick, for a run of holds). */
  at: number;
  /** Index of the tick that decided it (0 for the first). */
  tick: number;
  /** `up` or `down`; `hold` (only in `holds`): the count stayed, below the recommendation. */
  direction: 'up' | 'down' | 'hold';
  /** Set when the decision is below the recommendation: by how much, which policies, why. */
  held?: QueueHold;
  /** A run of identical holds is one record: epoch ms of its last tick, and how many ticks. */
  until?: number;
  heldTicks?: number;
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
  // Fixed for the supervisor's life; a reload may only make it stricter.
  const refuseRoot = options.config.supervision.refuseRoot;
  // Read at scrape time, from the state the loop keeps anyway.
  const metrics = new DaemonMetrics({
    queues: () =>
      [...runtimes.values()].map((runtime) => ({
        name: runtime.config.name,
        snapshot: runtime.lastSnapshot,
        workers: runtime.workers(),
        desired: runtime.lastDecision?.to ?? null,
        decision: runtime.lastDecision,
        slo: runtime.config.slo,
      })),
    groupMembers: () => memberMetricRows(runtimes),
    roundTrips: () => reader.stats().last?.roundTrips ?? null,
    host: () => ({ resources, capacity: hostCapacity, maxWorkers: config.limits.maxWorkers }),
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
  let config = options.config;
  options.logger?.setSecrets?.(secretsOf(config));
  for (const warning of configWarnings(config)) logger.warn(warning);

  const onPolicyEvent = (event: PolicyEvent) => {
    if (event.type === 'slo-breach') {
      logger.warn('SLO breached', { ...event });
    } else {
      logger.info('SLO met again', { ...event });
    }
  };

  const tickListeners = new Set<() => void>();
  const supervisor: Supervisor | null =
    // Pods elsewhere: nothing to supervise here, only to count.
    dryRun || options.workersElsewhere
      ? null
      : await startSupervisor({
          stateFile: config.supervision.stateFile,
          previousWorkers: config.supervision.previousWorkers,
          refuseRoot: config.supervision.refuseRoot,
          logger,
        });
  if (supervisor) watchSupervisor(supervisor, logger, metrics);

  const runtimes = new Map<string, QueueRuntime>();
  const createRuntime = async (queue: QueueConfig) => {
    const runtime = await createRuntimeFor(queue, {
      pool: null,
      configDir,
      onPolicyEvent,
    });
    runtime.pool = supervisor ? await supervisor.createPool(queue) : null;
    return runtime;
  };
  try {
    for (const queue of config.queues) runtimes.set(queue.name, await createRuntime(queue));
    // Workers of a previous run whose queue is no longer configured.
    await supervisor?.stopUnclaimed();
  } catch (error) {
    await supervisor?.stop();
    throw error;
  }

  const reader: MetricsReader = createMetricsReader({
    sources: config.queues.flatMap(readerSources),
    logger,
  });
  // Pods elsewhere: counted from each queue's backend over the reader's connections.
  const pods = options.workersElsewhere ? new PodWorkers(logger, reader) : null;
  // A fleet shares the queues through the top-level Redis (src/fleet/); its settings apply
  // at the next start.
  const fleet = config.cluster.enabled
    ? new Fleet({
        cluster: config.cluster,
        redis: config.redis,
        logger,
        onLeaderChange: ({ from, to, term }) =>
          alerts.leaderChanged({
            fleet: config.cluster.keyPrefix,
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

  // Who got which slot when, across ticks and reloads: a slot is held for the queue's cooldown.
  const allocator = createHostAllocator();
  // What a worker of each queue costs, smoothed over ticks (it prices capacity per queue).
  const workerCosts = createWorkerCostTracker();
  let resources: ResourceSnapshot | null = null;
  let hostCapacity: HostCapacity | null = null;
  let ticks = 0;
  let lastTick: DaemonState['lastTick'] = null;
  const unreadable = new Map<string, number>(); // queue -> since when (epoch ms)
  const stopping = new Set<Promise<unknown>>();

  // A tick and a reload never interleave: both go through this chain.
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const run = chain.then(work, work);
    chain = run.catch(() => {});
    return run;
  };

  const tick = async () => {
    const started = performance.now();
    const now = Date.now();
    // read: the Redis snapshot; resources: what /proc and capacity add after it (the two
    // reads overlap); decide and apply follow.
    const phasesMs = { read: 0, resources: 0, decide: 0, apply: 0 };
    let mark = started;
    const lap = (phase: TickPhase) => {
      const at = performance.now();
      phasesMs[phase] = at - mark;
      mark = at;
    };
    const live = config.queues.flatMap((queue) => {
      const runtime = runtimes.get(queue.name);
      return runtime ? [runtime] : [];
    });
    const pids = live.map((runtime) => runtime.pool?.pids() ?? []);
    // Redis and /proc are independent: read both at once (and count the pods, if elsewhere).
    const [snapshots, host, podCounts] = await Promise.all([
      reader.snapshot().finally(() => lap('read')),
      monitor.snapshot(pids.flat()).catch((error: unknown) => {
        logger.error('cannot read host resources', { error });
        return null;
      }),
      pods?.count(live.map((runtime) => runtime.config)),
    ]);
    resources = host;
    if (resources) supervisor?.observeResources(resources.perWorker);
    // Pods elsewhere do not use this host's CPU and memory: only limits.maxWorkers bounds them.
    hostCapacity = resources && !pods ? hostCapacityOf(resources, live, pids) : null;
    lap('resources');
    // A fleet: heartbeat, lease and the assignment in force, in one round trip. Without
    // Redis the host decides and changes nothing until it can read again.
    const fleetReady = fleet
      ? await fleet.sync(
          Math.min(config.limits.maxWorkers, hostCapacity?.maxWorkers ?? Infinity),
          Object.fromEntries(live.map((runtime) => [runtime.config.name, runtime.workers()])),
        )
      : true;

    const decided: AllocationEntry[] = [];
    // A group decides from its members' snapshots as one pool (runtime/group-runtime.ts).
    const pooled = poolSnapshots(snapshots, runtimes, now, config.tickMs);
    for (const snapshot of pooled) {
      const runtime = runtimes.get(snapshot.queue);
      if (!runtime) continue;
      try {
        metrics.observeSnapshot(snapshot);
        reportReadability(snapshot, runtime, now);
        pods?.observe(runtime, podCounts?.get(snapshot.queue), snapshot, now);
        const ctx = runtime.context(snapshot, now, config.tickMs);
        runtime.remember(snapshot);
        // In a fleet only the leader decides, for every host's workers together.
        if (fleet && !(fleetReady && fleet.isLeader)) continue;
        const fleetCtx = fleet ? fleetContext(fleet, ctx, snapshot.queue) : ctx;
        decided.push({ decision: runtime.decide(fleetCtx, logger), ctx: fleetCtx });
      } catch (error) {
        // One queue failing never stops the others.
        logger.error('cannot decide for queue; keeping its workers', {
          queue: snapshot.queue,
          error,
        });
      }
    }

    lap('decide');
    // Each queue first to what the host's CPU and memory hold of its own workers (priced at
    // their cost); limits.maxWorkers is the allocator's to share across queues...
    const capped = capToQueueCapacity(
      decided.map((entry) => entry.decision),
      Object.fromEntries(
        Object.entries(hostCapacity?.perQueue ?? {}).filter(([, own]) => own.limiter !== 'config'),
      ),
      Object.fromEntries(config.queues.map((queue) => [queue.name, queue.workers.min])),
    );
    // ...then all of them into what the host holds together.
    const limit = Math.min(config.limits.maxWorkers, hostCapacity?.maxWorkers ?? Infinity);
    const shared = allocator.allocate(
      decided.map((entry, index) => ({ ...entry, decision: capped[index] ?? entry.decision })),
      {
        now,
        maxWorkers: limit,
        limiter:
          hostCapacity && hostCapacity.maxWorkers < config.limits.maxWorkers
            ? (hostCapacity.why ?? hostCapacity.limiter)
            : 'config',
        queues: shareSettings(config),
      },
    );
    // A fleet splits the leader's totals across the hosts instead (src/fleet/split.ts).
    const applied = fleet
      ? await fleetDecisions(
          fleet,
          fleetReady,
          decided.map((entry) => entry.decision),
          live,
          now,
        )
      : shared;
    for (const decision of applied) {
      const runtime = runtimes.get(decision.queue);
      if (!runtime) continue;
      apply(runtime, decision, now);
    }
    holds.keep(new Set(runtimes.keys()));

    lap('apply');
    alerts.observe(
      now,
      live.filter((runtime) => runtimes.has(runtime.config.name)).flatMap(alertViews),
    );
    // The dashboard's charts: one fixed-size slot per queue and time bucket, no allocation.
    for (const snapshot of pooled) {
      const runtime = runtimes.get(snapshot.queue);
      if (!runtime) continue;
      const running = runtime.workers().running;
      const desired = runtime.lastDecision?.to ?? null;
      history.recordSnapshot(snapshot, running, desired);
      // A group's members too, each under its own name with the pool's workers: the
      // dashboard charts each member against its own SLO, under its group.
      for (const member of memberSnapshots(runtime))
        history.recordSnapshot(member, running, desired);
    }
    history.prune(now);
    wakePoller?.watch(asleep(snapshots));
    ticks++;
    const durationMs = performance.now() - started;
    lastTick = { at: now, durationMs, phasesMs };
    metrics.observeTick(durationMs, durationMs > config.tickMs);
    pods?.keep(new Set(runtimes.keys()));
    for (const listener of tickListeners) {
      try {
        listener();
      } catch (error) {
        logger.error('a tick listener failed', { error });
      }
    }
  };

  /** Queues with no worker whose last read found no job: a first job wakes the loop. */
  const asleep = (snapshots: readonly QueueSnapshot[]): string[] =>
    snapshots.flatMap((snapshot) => {
      const runtime = servingRuntime(runtimes, snapshot.queue);
      if (!runtime || snapshot.error || snapshot.pending !== 0) return [];
      const counts = runtime.workers();
      return counts.running + counts.starting === 0 ? [snapshot.queue] : [];
    });

  const hostCapacityOf = (
    snapshot: ResourceSnapshot,
    live: QueueRuntime[],
    pids: number[][],
  ): HostCapacity | null => {
    try {
      const running = live.map((runtime, index) => ({
        queue: runtime.config.name,
        runningPids: runtime.pool ? (pids[index] ?? []) : [],
      }));
      const measured = workerCosts.observe(snapshot, running);
      return capacity({
        resources: snapshot,
        perWorker: live.map((runtime, index) => {
          const counts = runtime.workers();
          const liveWorkers = counts.running + counts.starting + counts.stopping;
          return capacityWorkers(
            runtime.config,
            running[index]?.runningPids ?? [],
            liveWorkers,
            measured[runtime.config.name],
          );
        }),
        limits: config.limits,
      });
    } catch (error) {
      logger.error('cannot compute host capacity; using limits.maxWorkers', { error });
      return null;
    }
  };

  const reportReadability = (snapshot: QueueSnapshot, runtime: QueueRuntime, now: number) => {
    const since = unreadable.get(snapshot.queue);
    if (snapshot.error && since === undefined) {
      unreadable.set(snapshot.queue, now);
      const counts = runtime.workers();
      logger.warn('cannot read queue; keeping its workers until it can be read', {
        queue: snapshot.queue,
        code: snapshot.error.code,
        reason: snapshot.error.message,
        workers: counts.running + counts.starting,
      });
    } else if (!snapshot.error && since !== undefined) {
      unreadable.delete(snapshot.queue);
      logger.info('queue readable again', { queue: snapshot.queue, outageMs: now - since });
    }
  };

  const apply = (runtime: QueueRuntime, decision: Decision, now: number) => {
    runtime.lastDecision = decision;
    metrics.observeDecision(decision);
    if (runtime.pool) runtime.pool.scaleTo(decision.to);
    else runtime.virtualWorkers = decision.to;
    const held = holds.hold(
      decision,
      { resources, capacity: hostCapacity, limits: config.limits },
      now,
    );
    if (decision.to === decision.from) {
      if (held) holds.recordHold(decision, held, now, ticks);
      logger.debug(`hold ${decision.queue} at ${decision.to}`, {
        queue: decision.queue,
        workers: decision.to,
        reason: decision.recommendation.reason,
        recommended: decision.recommendation.workers,
        edits: decision.edits,
      });
      return;
    }
    const record: DecisionRecord = {
      ...decision,
      at: now,
      tick: ticks,
      direction: decision.to > decision.from ? 'up' : 'down',
      ...(held ? { held } : {}),
    };
    decisions.push(record);
    holds.changed(decision.queue);
    logger.info(`scale ${record.direction} ${decision.queue}: ${decision.from} -> ${decision.to}`, {
      queue: decision.queue,
      from: decision.from,
      to: decision.to,
      reason: decision.recommendation.reason,
      recommended: decision.recommendation.workers,
      terms: decision.recommendation.terms,
      edits: decision.edits,
      ...(held ? { heldBy: held.by } : {}),
      dryRun,
    });
  };

  const startWaking = (): WakePoller | null =>
    config.wakePollMs === 0
      ? null
      : startWakePoller({
          periodMs: config.wakePollMs,
          probe: (queues) => reader.readyQueues(queues),
          wake: (queues) => {
            logger.debug('a first job for a queue without workers: ticking now', { queues });
            ticker.wake();
          },
        });
  let ticker: Ticker = startLoop();
  let wakePoller = startWaking();
  function startLoop(): Ticker {
    return startTicker(() => serial(tick), {
      periodMs: config.tickMs,
      onOverrun: (overrun) => {
        logger.warn('tick took longer than the tick period', { ...overrun });
      },
      onError: (error) => {
        logger.error('tick failed; workers are kept as they are', { error });
      },
    });
  }

  let http: HttpServer | null = null;
  const startHttp = async (settings: QscaleConfig['http'] = config.http) => {
    if (!settings.enabled) return null;
    return startHttpServer({
      host: settings.host,
      port: settings.port,
      token: settings.token,
      logger,
      routes: {
        // Cheap: no queue figures, so liveness probes and monitors can poll it often.
        health: () => ({
          status: unreadable.size === 0 && !anyPoolDegraded() ? 'ok' : 'degraded',
          ticks,
          lastTickMs: lastTick?.durationMs ?? null,
          dryRun,
        }),
        metrics: () => metrics.render(),
        state: () => state(),
        history: (query) =>
          history.view(Date.now(), {
            ...query,
            queues: query.queues ?? historyNames(config),
          }),
      },
    });
  };
  // KEDA's external scaler, over the decisions of this loop (src/scaler/service.ts).
  const scalerSettings = options.externalScaler ?? config.externalScaler;
  let scaler: ExternalScalerServer | null = null;
  try {
    http = await startHttp();
    scaler = scalerSettings
      ? await startExternalScalerServer({
          settings: scalerSettings,
          logger,
          source: {
            queues: () => config.queues.map((queue) => queue.name),
            groupOf: (queue) => {
              const serving = servingRuntime(runtimes, queue);
              return serving?.config.workerGroup ? serving.config.name : undefined;
            },
            verdict: (queue) => {
              const runtime = runtimes.get(queue);
              if (!runtime) return undefined;
              return runtime.lastDecision ? { desired: runtime.lastDecision.to } : null;
            },
            onTick: (listener) => {
              tickListeners.add(listener);
              return () => tickListeners.delete(listener);
            },
          },
        })
      : null;
  } catch (error) {
    await ticker.stop();
    await Promise.allSettled([
      supervisor?.stop(),
      reader.close(),
      monitor.close(),
      http?.close(),
      fleet?.close(),
    ]);
    throw error;
  }

  const anyPoolDegraded = () =>
    [...runtimes.values()].some((runtime) => runtime.pool?.status().health === 'degraded');

  const state = (): DaemonState => {
    const queues = config.queues.flatMap((queue): QueueState[] => {
      const runtime = runtimes.get(queue.name);
      if (!runtime) return [];
      return [
        {
          name: queue.name,
          driver: queue.driver,
          slo: queue.slo,
          bounds: { min: queue.workers.min, max: queue.workers.max },
          snapshot: runtime.lastSnapshot,
          workers: runtime.workers(),
          pool: runtime.pool?.status() ?? null,
          lastDecision: runtime.lastDecision,
          held: holds.current(queue.name),
          ...(pods ? { workerCount: pods.view(queue.name) } : {}),
          ...groupStateOf(runtime),
        },
      ];
    });
    const reasons = [
      ...[...unreadable.keys()].map((queue) => `queue ${queue} cannot be read`),
      ...queues
        .filter((queue) => queue.pool?.health === 'degraded')
        .map((queue) => `workers of ${queue.name} keep failing to start`),
    ];
    return {
      version: 1,
      startedAt,
      now: Date.now(),
      dryRun,
      tickMs: config.tickMs,
      ticks,
      lastTick,
      health: { status: reasons.length === 0 ? 'ok' : 'degraded', reasons },
      resources,
      capacity: hostCapacity,
      queues,
      decisions: decisions.toArray(),
      alerts: alerts.state(),
      holds: holdLog.toArray(),
      ...(fleet ? { cluster: fleet.state() } : {}),
    };
  };

  const reload = async (): Promise<ReloadResult> => {
    if (!options.configPath) {
      return { ok: false, problems: ['the daemon was started without a configuration file'] };
    }
    const path = options.configPath;
    let outcome: ReloadResult & { restart?: string[] };
    try {
      outcome = await serial(() => reloadFrom(path));
    } catch (error) {
      // reloadFrom reports its own failures; whatever else goes wrong, the daemon outlives it.
      outcome = { ok: false, problems: [messageOf(error)] };
    }
    if (!outcome.ok) {
      logger.error('configuration not reloaded; the running one stays', {
        file: path,
        problems: outcome.problems,
      });
      for (const problem of outcome.problems) logger.error(problem, { file: path });
      return outcome;
    }
    // Outside the serial chain: stopping the ticker waits for a tick, which waits for the chain.
    if (outcome.restart?.includes('wake')) {
      wakePoller?.stop();
      wakePoller = startWaking();
    }
    if (outcome.restart?.includes('tick')) {
      await ticker.stop();
      ticker = startLoop();
    }
    logger.info('configuration reloaded', {
      file: path,
      changed: outcome.changed,
      // Where the status API listens now (a new port, or port 0 picked another).
      ...(outcome.restart?.includes('http') ? { http: http?.url ?? null } : {}),
    });
    return { ok: true, changed: outcome.changed };
  };

  /**
   * Reads and applies the file, all or nothing. First everything that can fail is checked or
   * prepared while the running state stays untouched: the schema, each queue's program,
   * directory, account and root policy, its strategy, the Redis sources, the new HTTP
   * listener. Then the steps that were checked but act: new pools and sources (both undone if
   * either fails), pool updates; only then is anything removed or replaced.
   */
  const reloadFrom = async (path: string): Promise<ReloadResult & { restart?: string[] }> => {
    let next: QscaleConfig;
    try {
      next = await loadConfig(path, { env: options.env ?? process.env });
      await checkConfig(next, {
        configDir,
        // Pods elsewhere (scaler mode): no program of this host's is ever run.
        pools: !dryRun && !pods,
        // The running supervisor keeps refusing root until a restart: check what it will do.
        refuseRoot: refuseRoot || next.supervision.refuseRoot,
      });
    } catch (error) {
      const problems =
        error instanceof ConfigError ? error.problems.map(formatProblem) : [messageOf(error)];
      return { ok: false, problems };
    }
    const previous = new Map(config.queues.map((queue) => [queue.name, queue]));
    const added = next.queues.filter((queue) => !previous.has(queue.name));
    const kept = next.queues.flatMap((queue) => {
      const before = previous.get(queue.name);
      return before ? [{ before, queue }] : [];
    });
    // A queue that became a worker group of the same name (or the reverse) needs a new runtime.
    const regrouped = kept.filter(
      ({ before, queue }) => !before.workerGroup !== !queue.workerGroup,
    );
    if (regrouped.length > 0) {
      return {
        ok: false,
        problems: regrouped.map(
          ({ queue }) =>
            `${queue.name}: a queue cannot become a worker group (or the reverse) on reload; rename it or restart qscaled`,
        ),
      };
    }
    const redefined = kept.filter(({ before, queue }) => !sameDecider(before, queue));
    const replaced = kept.filter(({ before, queue }) => !samePool(before, queue));
    const removed = config.queues.filter(
      (queue) => !next.queues.some((other) => other.name === queue.name),
    );
    const sourcesChanged =
      next.queues.length !== config.queues.length ||
      next.queues.some((queue) => {
        const before = previous.get(queue.name);
        return !before || !sameSource(before, queue);
      });
    const httpChanged = JSON.stringify(next.http) !== JSON.stringify(config.http);

    // 1. Prepare: nothing running changes.
    const deciders = new Map<string, Decider>();
    const fresh = new Map<string, QueueRuntime>();
    let listener: { server: HttpServer | null; restoreOld: boolean } | null = null;
    try {
      for (const queue of added) {
        fresh.set(
          queue.name,
          await createRuntimeFor(queue, { pool: null, configDir, onPolicyEvent }),
        );
      }
      for (const { queue } of redefined) {
        deciders.set(queue.name, await createDecider(queue, { configDir, onPolicyEvent }));
      }
      if (httpChanged) listener = await prepareHttp(next.http);
    } catch (error) {
      return { ok: false, problems: [messageOf(error)] };
    }

    // 2. Act on what was checked, undoing it all if one step fails.
    let sourcesSet = false;
    try {
      for (const runtime of fresh.values()) {
        runtime.pool = supervisor ? await supervisor.createPool(runtime.config) : null;
      }
      if (sourcesChanged) {
        // Queues whose source stays the same keep their measured history.
        await reader.setSources(next.queues.flatMap(readerSources));
        sourcesSet = true;
      }
    } catch (error) {
      await Promise.allSettled([...fresh.values()].map((runtime) => runtime.pool?.stop()));
      if (sourcesSet) await reader.setSources(config.queues.flatMap(readerSources)).catch(() => {});
      if (listener) await restoreHttp(listener);
      return { ok: false, problems: [messageOf(error)] };
    }
    const changed: string[] = [];
    for (const { queue } of replaced) {
      const pool = runtimes.get(queue.name)?.pool;
      if (!pool) continue;
      try {
        const { replacing } = await pool.update(queue);
        changed.push(`queue ${queue.name}: workers replaced (${replacing})`);
      } catch (error) {
        // Checked a moment ago: only a file removed since can get here. The pool keeps its
        // workers and the queue keeps its settings; the rest of the reload applies.
        logger.error('cannot update the workers of a queue; they keep their settings', {
          queue: queue.name,
          error,
        });
      }
    }

    // 3. Commit: nothing below can fail.
    for (const queue of removed) {
      const runtime = runtimes.get(queue.name);
      runtimes.delete(queue.name);
      unreadable.delete(queue.name);
      changed.push(`queue ${queue.name} removed`);
      if (runtime?.pool) track(runtime.pool.stop());
    }
    for (const { queue } of kept) {
      const runtime = runtimes.get(queue.name);
      if (!runtime) continue;
      const decider = deciders.get(queue.name);
      if (decider) {
        runtime.redefineWith(queue, decider);
        changed.push(`queue ${queue.name}: strategy or scaling`);
      } else {
        runtime.config = queue;
      }
    }
    for (const [name, runtime] of fresh) {
      runtimes.set(name, runtime);
      changed.push(`queue ${name} added`);
    }
    if (sourcesChanged) changed.push('queue sources');
    if (listener) {
      const old = http;
      http = listener.server;
      if (old && !listener.restoreOld) track(old.close());
    }
    const restart: string[] = [];
    if (next.tickMs !== config.tickMs) restart.push('tick');
    if (httpChanged) restart.push('http');
    if (next.wakePollMs !== config.wakePollMs) restart.push('wake');
    if (
      !options.externalScaler &&
      JSON.stringify(next.externalScaler) !== JSON.stringify(config.externalScaler)
    ) {
      logger.warn('externalScaler settings apply at the next start', {
        running: scalerSettings ? `${scalerSettings.host}:${scalerSettings.port}` : null,
      });
    }
    if (JSON.stringify(next.cluster) !== JSON.stringify(config.cluster)) {
      logger.warn('cluster settings apply at the next start', { running: config.cluster.id });
    }
    if (JSON.stringify(next.supervision) !== JSON.stringify(config.supervision)) {
      logger.warn('supervision settings apply at the next start', {
        running: config.supervision,
        file: next.supervision,
      });
    }
    config = next;
    alerts.configure(next.alerts);
    options.logger?.setSecrets?.(secretsOf(config));
    for (const warning of configWarnings(config)) logger.warn(warning);
    return { ok: true as const, changed: [...changed, ...restart], restart };
  };

  /**
   * Listens with the new HTTP settings while the old listener keeps serving. Only the same
   * fixed host and port cannot be taken twice: that listener is closed first, and opened again
   * with the old settings if the new ones fail (restoreOld says it was closed).
   */
  const prepareHttp = async (
    settings: QscaleConfig['http'],
  ): Promise<{ server: HttpServer | null; restoreOld: boolean }> => {
    const sameAddress =
      http !== null &&
      settings.enabled &&
      settings.port !== 0 &&
      settings.port === config.http.port &&
      settings.host === config.http.host;
    const listen = () =>
      startHttp(settings).catch((error: unknown) => {
        throw new Error(
          `http: cannot listen on ${settings.host}:${settings.port} (${messageOf(error)})`,
          { cause: error },
        );
      });
    if (!sameAddress) return { server: await listen(), restoreOld: false };
    await http?.close();
    http = null;
    try {
      return { server: await listen(), restoreOld: true };
    } catch (error) {
      await restoreHttp({ server: null, restoreOld: true });
      throw error;
    }
  };

  /** Undoes prepareHttp: closes the new listener, reopens the old one if it was closed. */
  const restoreHttp = async (listener: { server: HttpServer | null; restoreOld: boolean }) => {
    await listener.server?.close();
    if (!listener.restoreOld) return;
    try {
      http = await startHttp(config.http);
    } catch (error) {
      logger.error('the status API cannot listen again; it stays off until a reload', { error });
    }
  };

  const track = (work: Promise<unknown>) => {
    const tracked = work.catch((error: unknown) =>
      logger.error('background stop failed', { error }),
    );
    stopping.add(tracked);
    void tracked.then(() => stopping.delete(tracked));
  };

  let stopped: Promise<StopSummary | null> | null = null;
  const stop = () => {
    stopped ??= (async () => {
      wakePoller?.stop();
      await ticker.stop();
      await chain;
      alerts.close();
      const summary = (await supervisor?.stop()) ?? null;
      await Promise.allSettled([
        ...stopping,
        reader.close(),
        monitor.close(),
        http?.close(),
        scaler?.close(),
        fleet?.close(),
      ]);
      logger.info('qscale daemon stopped', { ...summary });
      return summary;
    })();
    return stopped;
  };

  logger.info('qscale daemon started', {
    queues: config.queues.map((queue) => queue.name),
    tickMs: config.tickMs,
    http: http?.url ?? null,
    ...(scaler ? { externalScaler: scaler.address } : {}),
    ...(pods ? { workers: 'elsewhere (counted from the backends)' } : {}),
    dryRun,
    adopted: supervisor?.previousRun.unclaimed ?? 0,
  });

  return {
    get url() {
      return http?.url ?? null;
    },
    get scalerAddress() {
      return scaler?.address ?? null;
    },
    metrics,
    state,
    reload,
    stop,
    killAllSync: () => supervisor?.killAllSync() ?? 0,
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
