import type {
  Decision,
  Logger,
  QueueSnapshot,
  ScalingContext,
  Strategy,
  StrategyInstance,
  WorkerCounts,
} from '@qscale/contracts';
import { createPolicyPipeline, type PolicyEvent, type PolicyPipeline } from '@qscale/policies';
import type { WorkerPool } from '@qscale/process-supervisor';
import { createStrategy, loadStrategy, STRATEGY_NAMES } from '@qscale/strategies';
import type { QueueConfig } from '../config/schema.js';
import { pipelineSettings, strategyOptions } from './wiring.js';

/** History kept for a strategy that does not say how much it reads. */
const DEFAULT_HISTORY_MS = 300_000;
/** A bound on the count too, so a very fast tick cannot grow it without limit. */
const HISTORY_MAX_LENGTH = 600;

/**
 * Everything the loop keeps for one queue: its strategy and policies (with their own state,
 * never shared with another queue), its recent snapshots and its pool of workers.
 */
export class QueueRuntime {
  readonly history: QueueSnapshot[] = [];
  lastSnapshot: QueueSnapshot | null = null;
  lastDecision: Decision | null = null;
  /** Workers the dry run pretends to have (it spawns nothing). */
  virtualWorkers = 0;
  /** Workers run elsewhere (pods, scaler mode): as counted from the backend at this tick. */
  observedWorkers: WorkerCounts | null = null;

  protected constructor(
    public config: QueueConfig,
    public strategy: StrategyInstance,
    public pipeline: PolicyPipeline,
    public pool: WorkerPool | null,
  ) {}

  static async create(
    config: QueueConfig,
    options: {
      pool: WorkerPool | null;
      configDir: string;
      onPolicyEvent: (event: PolicyEvent) => void;
    },
  ): Promise<QueueRuntime> {
    const { strategy, pipeline } = await createDecider(config, options);
    const runtime = new QueueRuntime(config, strategy, pipeline, options.pool);
    runtime.virtualWorkers = config.workers.min;
    return runtime;
  }

  /** Replaces the strategy and policies (after a reload changed them); their state restarts. */
  async redefine(
    config: QueueConfig,
    options: { configDir: string; onPolicyEvent: (event: PolicyEvent) => void },
  ): Promise<void> {
    this.redefineWith(config, await createDecider(config, options));
  }

  /** The same with a strategy and policies created beforehand (a reload prepares them first). */
  redefineWith(config: QueueConfig, decider: Decider): void {
    this.config = config;
    this.strategy = decider.strategy;
    this.pipeline = decider.pipeline;
  }

  /** The workers as the strategy sees them: the pool's, the pods counted, or the dry run's. */
  workers(): WorkerCounts {
    if (this.pool) return this.pool.counts();
    if (this.observedWorkers) return this.observedWorkers;
    return {
      running: this.virtualWorkers,
      starting: 0,
      stopping: 0,
      concurrency: this.config.workers.concurrency,
    };
  }

  /** Keeps a snapshot that could be read; one with an error is not history, only news. */
  remember(snapshot: QueueSnapshot): void {
    this.lastSnapshot = snapshot;
    if (snapshot.error) return;
    // Exactly what the strategy reads: its own window, or 5 minutes when it does not say.
    const keepMs = this.strategy.historyMs ?? DEFAULT_HISTORY_MS;
    if (keepMs === 0) return;
    this.history.push(snapshot);
    const oldest = snapshot.at - keepMs;
    while (
      this.history.length > HISTORY_MAX_LENGTH ||
      (this.history[0] !== undefined && this.history[0].at < oldest)
    ) {
      this.history.shift();
    }
  }

  /** The context the strategy and policies decide from, for this tick. */
  context(snapshot: QueueSnapshot, now: number, tickMs: number): ScalingContext {
    const measured = this.pool?.spawnLatency();
    return {
      now,
      queue: snapshot,
      // Earlier snapshots only (the latest is `queue`): call before remember(snapshot).
      history: this.history.slice(),
      workers: this.workers(),
      slo: this.config.slo,
      spawnLatencyMs:
        measured && measured.samples > 0 ? measured.meanMs : this.config.spawn.latencyMs,
      tickMs,
      bounds: { min: this.config.workers.min, max: this.config.workers.max },
    };
  }

  /**
   * Asks the strategy, then the policies. A strategy that throws costs this queue its
   * decision for the tick (it keeps its workers), never the other queues theirs.
   */
  decide(ctx: ScalingContext, logger: Logger): Decision {
    let recommendation: Decision['recommendation'];
    try {
      recommendation = this.strategy.recommend(ctx);
    } catch (error) {
      const current = ctx.workers.running + ctx.workers.starting;
      logger.error('strategy failed; keeping the current workers', {
        queue: this.config.name,
        strategy: this.config.strategy.name,
        error,
      });
      recommendation = {
        workers: current,
        reason: `strategy ${this.config.strategy.name} failed: ${(error as Error).message}`,
        terms: {},
      };
    }
    return this.pipeline.apply(recommendation, ctx);
  }
}

export interface Decider {
  strategy: StrategyInstance;
  pipeline: PolicyPipeline;
  /** The strategy as loaded (a built-in's name or a plugin), for a group's sizer to reuse. */
  plugin: string | Strategy<unknown>;
}

/** A queue's strategy (a plugin is loaded from `configDir`) and policy pipeline. */
export async function createDecider(
  config: QueueConfig,
  options: { configDir: string; onPolicyEvent: (event: PolicyEvent) => void },
): Promise<Decider> {
  const { name } = config.strategy;
  const plugin = (STRATEGY_NAMES as readonly string[]).includes(name)
    ? name
    : await loadStrategy(name, { fromDir: options.configDir });
  return {
    plugin,
    strategy: createStrategy(plugin, strategyOptions(config)),
    pipeline: createPolicyPipeline({ ...pipelineSettings(config), onEvent: options.onPolicyEvent }),
  };
}
