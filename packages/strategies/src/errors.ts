import { QscaleError } from '@qscale/contracts';

export type StrategyErrorCode =
  /** `createStrategy` was given a name that is neither built in nor a loaded plugin. */
  | 'STRATEGY_UNKNOWN'
  /** The options did not pass the strategy's own schema. */
  | 'STRATEGY_OPTIONS_INVALID'
  /** A third-party strategy package could not be resolved from the given folder. */
  | 'STRATEGY_NOT_FOUND'
  /** Importing a third-party strategy package threw. */
  | 'STRATEGY_IMPORT_FAILED'
  /** A third-party strategy package does not export a strategy of the right shape. */
  | 'STRATEGY_SHAPE_INVALID'
  /** A third-party strategy returned something that is not a Recommendation. */
  | 'STRATEGY_BAD_RECOMMENDATION'
  /** A worker group's members, weights or context do not fit together. */
  | 'GROUP_INVALID';

/** Every error @qscale/strategies throws; `strategy` names the strategy or package concerned. */
export class StrategyError extends QscaleError<StrategyErrorCode> {
  readonly strategy: string;

  constructor(
    code: StrategyErrorCode,
    strategy: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.strategy = strategy;
  }
}
Object.defineProperty(StrategyError.prototype, 'name', {
  value: 'StrategyError',
  writable: true,
  configurable: true,
});
