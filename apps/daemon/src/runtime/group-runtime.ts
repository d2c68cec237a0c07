import type {
  Decision,
  GroupDiscipline,
  GroupMemberRecommendation,
  GroupRecommendation,
  GroupScalingContext,
  Logger,
  QueueSnapshot,
  ScalingContext,
} from '@qscale/contracts';
import type { PolicyEvent } from '@qscale/policies';
import type { WorkerPool } from '@qscale/process-supervisor';
import { createGroupStrategy, type GroupStrategyInstance, groupSnapshot } from '@qscale/strategies';
import type { GroupSpec } from '../config/groups.js';
import type { QueueConfig } from '../config/schema.js';
import { createDecider, type Decider, QueueRuntime } from './queue-runtime.js';

// A worker group at run time: one pool whose size the group sizer (@qscale/strategies'
// createGroupStrategy) decides from every member queue's own snapshot, history and SLO; the
// policies then treat the group as one queue. The loop sees a group as one runtime fed one
// combined snapshot (groupSnapshot), so bounds, cooldown, stabilisation, steps, fair share and
// host capacity apply to it unchanged.

/** History kept per member for a sizer that does not say how much it reads. */
const MEMBER_HISTORY_MS = 300_000;
const MEMBER_HISTORY_MAX_LENGTH = 600;

/** What /api/state shows of a group: its discipline and, per member, what it needed. */
export interface GroupState {
  discipline: GroupSpec['discipline'];
  weights: GroupSpec['weights'];
  members: {
    name: string;
    driver: QueueConfig['driver'];
    backendName: string;
    slo: QueueConfig['slo'];
    snapshot: QueueSnapshot | null;
    /** This queue's term at the last tick: the workers the group needs for its SLO, and why. */
    need: GroupMemberRecommendation | null;
  }[];
}

/** The sizer's discipline, from the configuration's (weights in member order). */
export function disciplineOf(spec: GroupSpec): GroupDiscipline {
  if (spec.discipline !== 'weighted') return { kind: spec.discipline };
  return {
    kind: 'weighted',
    weights: spec.members.map((member) => spec.weights?.[member.name] ?? 1),
  };
}

export class GroupRuntime extends QueueRuntime {
  #sizer: GroupStrategyInstance;
  readonly #histories = new Map<string, QueueSnapshot[]>();
  #members: QueueSnapshot[] = [];
  /** The sizer's last answer, with each member's term. */
  lastRecommendation: GroupRecommendation | null = null;

  private constructor(
    config: QueueConfig & { workerGroup: GroupSpec },
    decider: Decider,
    pool: WorkerPool | null,
  ) {
    super(config, decider.strategy, decider.pipeline, pool);
    this.#sizer = sizerFor(config, decider);
  }

  static async createGroup(
    config: QueueConfig & { workerGroup: GroupSpec },
    options: {
      pool: WorkerPool | null;
      configDir: string;
      onPolicyEvent: (event: PolicyEvent) => void;
    },
  ): Promise<GroupRuntime> {
    const runtime = new GroupRuntime(config, await createDecider(config, options), options.pool);
    runtime.virtualWorkers = config.workers.min;
    return runtime;
  }

  get spec(): GroupSpec {
    return this.config.workerGroup as GroupSpec;
  }

  override redefineWith(config: QueueConfig, decider: Decider): void {
    super.redefineWith(config, decider);
    if (config.workerGroup)
      this.#sizer = sizerFor({ ...config, workerGroup: config.workerGroup }, decider);
  }

  /** Takes this tick's member snapshots (in member order) and returns the group's snapshot. */
  observeMembers(members: QueueSnapshot[], now: number, tickMs: number): QueueSnapshot {
    this.#members = members;
    return groupSnapshot(
      this.#groupContext(this.context(members[0] as QueueSnapshot, now, tickMs)),
    );
  }

  /** Each member's last snapshot, by name. */
  memberSnapshot(name: string): QueueSnapshot | null {
    return this.#members.find((snapshot) => snapshot.queue === name) ?? null;
  }

  /**
   * Asks the group sizer (every member's context), then the policies with the group's own
   * context. A sizer that throws keeps the current workers, as a queue's strategy would.
   */
  override decide(ctx: ScalingContext, logger: Logger): Decision {
    const groupCtx = this.#groupContext(ctx);
    for (const snapshot of this.#members) this.#rememberMember(snapshot);
    let recommendation: GroupRecommendation;
    try {
      recommendation = this.#sizer.recommend(groupCtx);
    } catch (error) {
      logger.error('group sizer failed; keeping the current workers', {
        queue: this.config.name,
        error,
      });
      recommendation = {
        workers: ctx.workers.running + ctx.workers.starting,
        reason: `group sizer failed: ${(error as Error).message}`,
        terms: {},
        members: [],
      };
    }
    this.lastRecommendation = recommendation;
    return this.pipeline.apply(recommendation, ctx);
  }

  state(): GroupState {
    const spec = this.spec;
    return {
      discipline: spec.discipline,
      weights: spec.weights,
      members: spec.members.map((member) => ({
        name: member.name,
        driver: member.driver,
        backendName: member.backendName,
        slo: member.slo,
        snapshot: this.memberSnapshot(member.name),
        need: this.lastRecommendation?.members.find((need) => need.queue === member.name) ?? null,
      })),
    };
  }

  #groupContext(ctx: ScalingContext): GroupScalingContext {
    const spec = this.spec;
    return {
      now: ctx.now,
      group: this.config.name,
      discipline: disciplineOf(spec),
      members: spec.members.map((member, index) => ({
        ...ctx,
        queue: this.#members[index] as QueueSnapshot,
        history: (this.#histories.get(member.name) ?? []).slice(),
        slo: member.slo,
      })),
      workers: ctx.workers,
      bounds: ctx.bounds,
      spawnLatencyMs: ctx.spawnLatencyMs,
    };
  }

  #rememberMember(snapshot: QueueSnapshot): void {
    if (snapshot.error) return;
    const keepMs = this.#sizer.historyMs ?? MEMBER_HISTORY_MS;
    if (keepMs === 0) return;
    const history = this.#histories.get(snapshot.queue) ?? [];
    this.#histories.set(snapshot.queue, history);
    history.push(snapshot);
    const oldest = snapshot.at - keepMs;
    while (
      history.length > MEMBER_HISTORY_MAX_LENGTH ||
      (history[0] !== undefined && history[0].at < oldest)
    ) {
      history.shift();
    }
  }
}

function sizerFor(
  config: QueueConfig & { workerGroup: GroupSpec },
  decider: Decider,
): GroupStrategyInstance {
  return createGroupStrategy(
    decider.plugin,
    config.strategy.options,
    disciplineOf(config.workerGroup),
    config.workerGroup.members.map((member) => member.name),
  );
}

/** The runtime of a pool entry: a group's or a queue's. */
export function createRuntimeFor(
  config: QueueConfig,
  options: {
    pool: WorkerPool | null;
    configDir: string;
    onPolicyEvent: (event: PolicyEvent) => void;
  },
): Promise<QueueRuntime> {
  const { workerGroup } = config;
  return workerGroup
    ? GroupRuntime.createGroup({ ...config, workerGroup }, options)
    : QueueRuntime.create(config, options);
}

/**
 * One snapshot per runtime, in the runtimes' order: a queue's own, or a group's combined from
 * its members' (a group missing a member's snapshot this tick is left out: it keeps its workers).
 */
export function poolSnapshots(
  snapshots: readonly QueueSnapshot[],
  runtimes: ReadonlyMap<string, QueueRuntime>,
  now: number,
  tickMs: number,
): QueueSnapshot[] {
  const byName = new Map(snapshots.map((snapshot) => [snapshot.queue, snapshot]));
  return [...runtimes.values()].flatMap((runtime) => {
    if (!(runtime instanceof GroupRuntime)) {
      const own = byName.get(runtime.config.name);
      return own ? [own] : [];
    }
    const members = runtime.spec.members.map((member) => byName.get(member.name));
    if (members.some((snapshot) => snapshot === undefined)) return [];
    return [runtime.observeMembers(members as QueueSnapshot[], now, tickMs)];
  });
}

/** The runtime that serves a queue: its own, or its group's. */
export function servingRuntime(
  runtimes: ReadonlyMap<string, QueueRuntime>,
  queue: string,
): QueueRuntime | undefined {
  const own = runtimes.get(queue);
  if (own) return own;
  for (const runtime of runtimes.values()) {
    if (runtime.config.workerGroup?.members.some((member) => member.name === queue)) return runtime;
  }
  return undefined;
}

/** The group view of a runtime for /api/state; absent for a queue. */
export function groupStateOf(runtime: QueueRuntime): { group?: GroupState } {
  return runtime instanceof GroupRuntime ? { group: runtime.state() } : {};
}

/** The member queues of every group, for /metrics. */
export function memberMetricRows(runtimes: ReadonlyMap<string, QueueRuntime>): {
  group: string;
  queue: string;
  snapshot: QueueSnapshot | null;
  slo: QueueConfig['slo'];
  workersNeeded: number | null;
}[] {
  return [...runtimes.values()].flatMap((runtime) =>
    runtime instanceof GroupRuntime
      ? runtime.state().members.map((member) => ({
          group: runtime.config.name,
          queue: member.name,
          snapshot: member.snapshot,
          slo: member.slo,
          workersNeeded: member.need?.workers ?? null,
        }))
      : [],
  );
}

/** This tick's member snapshots of a group (none for a queue), for the dashboard's history. */
export function memberSnapshots(runtime: QueueRuntime): QueueSnapshot[] {
  if (!(runtime instanceof GroupRuntime)) return [];
  return runtime.spec.members.flatMap((member) => {
    const own = runtime.memberSnapshot(member.name);
    return own ? [own] : [];
  });
}

/** Every name the dashboard's history keeps: each pool entry and each group's member queues. */
export function historyNames(config: { queues: readonly QueueConfig[] }): string[] {
  return config.queues.flatMap((queue) => [
    queue.name,
    ...(queue.workerGroup?.members.map((member) => member.name) ?? []),
  ]);
}
