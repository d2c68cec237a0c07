import {
  recommendationSchema,
  type ScalingContext,
  type Strategy,
  type StrategyInstance,
} from '@qscale/contracts';
import { erlangDrainStrategy } from './builtin/erlang-drain.js';
import { horizonStrategy } from './builtin/horizon.js';
import { hpaStrategy } from './builtin/hpa.js';
import { laravelHybridStrategy } from './builtin/laravel-hybrid.js';
import { predictiveStrategy } from './builtin/predictive.js';
import { backlogStrategy, fixedStrategy, littlesLawStrategy } from './builtin/simple.js';
import { StrategyError } from './errors.js';

/** The strategies that ship with qscale, by the name a configuration uses. */
export const BUILT_IN_STRATEGIES = {
  predictive: predictiveStrategy,
  'littles-law': littlesLawStrategy,
  backlog: backlogStrategy,
  fixed: fixedStrategy,
  'laravel-hybrid': laravelHybridStrategy,
  horizon: horizonStrategy,
  hpa: hpaStrategy,
  'erlang-drain': erlangDrainStrategy,
} as const satisfies Record<string, Strategy<unknown>>;

export type BuiltInStrategyName = keyof typeof BUILT_IN_STRATEGIES;

/** The names of the built-in strategies, `predictive` (the default) first. */
export const STRATEGY_NAMES = Object.freeze(
  Object.keys(BUILT_IN_STRATEGIES),
) as readonly BuiltInStrategyName[];

const builtIns = new Set<unknown>(Object.values(BUILT_IN_STRATEGIES));

/**
 * One strategy instance for one queue: a built-in by name, or a strategy plugin (for example
 * one returned by `loadStrategy`). `options` are checked by the strategy's own schema. A
 * plugin's recommendations are checked too, so a faulty plugin fails loudly, naming itself.
 *
 * @throws StrategyError `STRATEGY_UNKNOWN` for a name that is not built in,
 *   `STRATEGY_OPTIONS_INVALID` for options its schema rejects.
 */
export function createStrategy(
  strategy: string | Strategy<unknown>,
  options: unknown = {},
): StrategyInstance {
  const plugin = typeof strategy === 'string' ? builtIn(strategy) : strategy;
  const parsed = plugin.optionsSchema.safeParse(options ?? {});
  if (!parsed.success) {
    throw new StrategyError(
      'STRATEGY_OPTIONS_INVALID',
      plugin.name,
      `strategy "${plugin.name}": invalid options ${JSON.stringify(options)}: ${describeIssues(parsed.error)}`,
    );
  }
  const instance = plugin.create(parsed.data);
  if (builtIns.has(plugin)) return instance;
  return checkedInstance(plugin.name, instance);
}

function builtIn(name: string): Strategy<unknown> {
  if (Object.hasOwn(BUILT_IN_STRATEGIES, name)) {
    return BUILT_IN_STRATEGIES[name as BuiltInStrategyName] as Strategy<unknown>;
  }
  throw new StrategyError(
    'STRATEGY_UNKNOWN',
    name,
    `unknown strategy "${name}": expected one of ${STRATEGY_NAMES.join(', ')}, or a strategy package loaded with loadStrategy()`,
  );
}

function checkedInstance(name: string, instance: StrategyInstance): StrategyInstance {
  if (typeof instance?.recommend !== 'function') {
    throw new StrategyError(
      'STRATEGY_SHAPE_INVALID',
      name,
      `strategy "${name}": create() must return an object with recommend(ctx), got ${typeof instance}`,
    );
  }
  const { historyMs } = instance;
  if (historyMs !== undefined && !(typeof historyMs === 'number' && historyMs >= 0)) {
    throw new StrategyError(
      'STRATEGY_SHAPE_INVALID',
      name,
      `strategy "${name}": historyMs must be a number of milliseconds >= 0, got ${JSON.stringify(historyMs)}`,
    );
  }
  return {
    ...(historyMs === undefined ? {} : { historyMs }),
    recommend(ctx: ScalingContext) {
      const recommendation = instance.recommend(ctx);
      const checked = recommendationSchema.safeParse(recommendation);
      if (!checked.success) {
        throw new StrategyError(
          'STRATEGY_BAD_RECOMMENDATION',
          name,
          `strategy "${name}" returned ${JSON.stringify(recommendation)} for queue "${ctx.queue.queue}", expected { workers: whole number >= 0, reason: text, terms: { name: number } }: ${describeIssues(checked.error)}`,
        );
      }
      return checked.data;
    },
  };
}

/** zod issues as `path: message; ...`, or the error's message for other validators. */
export function describeIssues(error: { message: string }): string {
  const issues = (error as { issues?: { path: PropertyKey[]; message: string }[] }).issues;
  if (!Array.isArray(issues) || issues.length === 0) return error.message;
  return issues
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}
