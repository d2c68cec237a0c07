import { z } from 'zod';
import { queueSnapshotSchema } from './queue-snapshot.js';
import { countSchema, durationMsSchema, epochMsSchema } from './units.js';
import { workerCountsSchema } from './workers.js';

export const sloSchema = z.strictObject({
  /** Target wait from "ready" to "picked up", in milliseconds. */
  pickupMs: z.number().positive(),
  /** Share of jobs (0-100, exclusive) that must be picked up within `pickupMs`, e.g. 95. */
  percentile: z.number().gt(0).lt(100),
});
export type Slo = z.infer<typeof sloSchema>;

export const workerBoundsSchema = z
  .strictObject({
    /** Never fewer workers than this. */
    min: countSchema,
    /** Never more workers than this. */
    max: countSchema,
  })
  .refine((bounds) => bounds.min <= bounds.max, {
    message: 'min must not be greater than max',
  });
export type WorkerBounds = z.infer<typeof workerBoundsSchema>;

/**
 * Everything a strategy may look at to size one queue. Strategies are pure: all time comes in
 * through `now`, so the same context always gives the same answer.
 */
export const scalingContextSchema = z.strictObject({
  /** The current time, epoch milliseconds. */
  now: epochMsSchema,
  /** The latest snapshot of the queue. */
  queue: queueSnapshotSchema,
  /** Earlier snapshots of the same queue, oldest first, not including `queue`. */
  history: z.array(queueSnapshotSchema),
  /** The queue's workers right now. */
  workers: workerCountsSchema,
  /** The service-level objective of the queue. */
  slo: sloSchema,
  /** Time from spawning a worker to its first pickup, measured or configured, in ms. */
  spawnLatencyMs: durationMsSchema,
  /** The control loop's period, in milliseconds. */
  tickMs: z.number().positive(),
  /** The configured worker bounds of the queue. */
  bounds: workerBoundsSchema,
});
export type ScalingContext = z.infer<typeof scalingContextSchema>;

/** A strategy's answer: how many workers, why, and the number behind every term it weighed. */
export const recommendationSchema = z.strictObject({
  /** Desired workers for the queue. */
  workers: countSchema,
  /** One human-readable sentence: which term won and why. */
  reason: z.string().min(1),
  /** Every candidate the strategy computed (e.g. steadyState, backlogDrain, forecast), in workers. */
  terms: z.record(z.string(), z.number()),
});
export type Recommendation = z.infer<typeof recommendationSchema>;

/** One change a policy made to a decision, kept so every decision can be explained. */
export const decisionEditSchema = z.strictObject({
  /** The policy that made the edit, e.g. `bounds`, `cooldown`, `capacity`. */
  policy: z.string().min(1),
  /** Target workers before the edit. */
  from: countSchema,
  /** Target workers after the edit. */
  to: countSchema,
  /** Why, in one sentence with the numbers that mattered. */
  why: z.string().min(1),
});
export type DecisionEdit = z.infer<typeof decisionEditSchema>;

/** What the loop decided for one queue: from how many workers to how many, and every edit. */
export const decisionSchema = z.strictObject({
  /** The queue's name in qscale's configuration. */
  queue: z.string().min(1),
  /** Workers before the decision (running + starting). */
  from: countSchema,
  /** Workers decided. */
  to: countSchema,
  /** The strategy's recommendation the policies started from. */
  recommendation: recommendationSchema,
  /** Policy edits, in the order they were applied. */
  edits: z.array(decisionEditSchema),
});
export type Decision = z.infer<typeof decisionSchema>;

/**
 * Anything that validates plugin options: a zod schema, or any object with zod's `safeParse`
 * shape (so a plugin built against another zod copy still plugs in).
 */
export interface OptionsSchema<Options> {
  safeParse(
    input: unknown,
  ): { success: true; data: Options } | { success: false; error: { message: string } };
}

/** One strategy instance sizes one queue; it may keep state, but only its own. */
export interface StrategyInstance {
  recommend(ctx: ScalingContext): Recommendation;
  /**
   * How far back `recommend` reads `ctx.history`, in milliseconds (0: not at all). The daemon
   * keeps no older snapshots of the queue, so memory follows what the strategy uses. Unset:
   * the daemon keeps 5 minutes.
   */
  readonly historyMs?: number;
}

/** A scaling strategy plugin. `create` is called once per queue, so no state leaks between queues. */
export interface Strategy<Options = unknown> {
  /** The name the configuration refers to, e.g. `predictive`. */
  readonly name: string;
  /** Validates the options a queue passes in its configuration. */
  readonly optionsSchema: OptionsSchema<Options>;
  create(options: Options): StrategyInstance;
}

/** One policy instance edits the decisions of one queue. */
export interface PolicyInstance {
  apply(decision: Decision, ctx: ScalingContext): Decision;
}

/** A policy plugin, same shape as a strategy. */
export interface Policy<Options = unknown> {
  readonly name: string;
  readonly optionsSchema: OptionsSchema<Options>;
  create(options: Options): PolicyInstance;
}

/** Identity helper that gives a strategy plugin its types. */
export function defineStrategy<Options>(strategy: Strategy<Options>): Strategy<Options> {
  return strategy;
}

/** Identity helper that gives a policy plugin its types. */
export function definePolicy<Options>(policy: Policy<Options>): Policy<Options> {
  return policy;
}

/**
 * Lists what is wrong with a value that claims to be a Strategy or Policy (empty when the
 * shape is right). Used when loading third-party plugins to name the missing piece.
 */
export function pluginShapeProblems(value: unknown, method: 'recommend' | 'apply'): string[] {
  if (typeof value !== 'object' || value === null) {
    return [`expected an object with name, optionsSchema and create(), got ${describe(value)}`];
  }
  const candidate = value as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof candidate.name !== 'string' || candidate.name.length === 0) {
    problems.push(`"name" must be a non-empty string, got ${describe(candidate.name)}`);
  }
  const schema = candidate.optionsSchema as Record<string, unknown> | undefined;
  if (typeof schema !== 'object' || schema === null || typeof schema.safeParse !== 'function') {
    problems.push(`"optionsSchema" must have a safeParse() method, got ${describe(schema)}`);
  }
  if (typeof candidate.create !== 'function') {
    problems.push(
      `"create" must be a function returning { ${method}() }, got ${describe(candidate.create)}`,
    );
  }
  return problems;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? `"${value}"` : typeof value;
}
