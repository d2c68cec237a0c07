export type { CheckConfigOptions } from './config/check.js';
export { checkConfig } from './config/check.js';
export { DEFAULTS } from './config/defaults.js';
export type { Environment } from './config/env.js';
export { exampleConfig } from './config/example.js';
export { configJsonSchema } from './config/json-schema.js';
export type { ParseConfigOptions } from './config/load.js';
export { loadConfig, parseConfig } from './config/load.js';
export type { ConfigErrorCode, ConfigProblem } from './config/problems.js';
export { ConfigError, formatProblem } from './config/problems.js';
export type {
  ConfigInput,
  QscaleConfig,
  QueueConfig,
  RedisConnection,
  StrategyChoice,
} from './config/schema.js';
export { configSchema } from './config/schema.js';
export { configWarnings } from './config/warnings.js';
export type {
  Daemon,
  DaemonOptions,
  DaemonState,
  DecisionRecord,
  QueueState,
  ReloadResult,
  TickPhase,
} from './daemon.js';
export { startDaemon } from './daemon.js';
export type { HistorySample, HistoryView } from './loop/history.js';
export { HISTORY_DEFAULTS, QueueHistory } from './loop/history.js';
export type { DaemonLogger, DaemonLoggerOptions } from './observability/logging.js';
export { createDaemonLogger } from './observability/logging.js';
export type { RunIo } from './run.js';
export { DAEMON_USAGE, runDaemon } from './run.js';
