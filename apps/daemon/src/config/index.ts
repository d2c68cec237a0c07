// The configuration alone (its schema, loading, defaults and warnings): what `qscale init`,
// `audit` and `queues` need, without the runtime (Redis clients, gRPC, the supervisor) that
// importing the whole daemon loads, about 2 s of a CLI's start on a loaded machine.
// `checkConfig` is not here: it checks against that runtime (workers, readers, strategies).
export type { AlertEventType, AlertsConfig, AlertWebhookConfig } from './alerts.js';
export { ALERT_EVENTS } from './alerts.js';
export type { ClusterConfig } from './cluster.js';
export { DEFAULTS } from './defaults.js';
export type { Environment } from './env.js';
export { exampleConfig } from './example.js';
export type { ExternalScalerConfig } from './external-scaler.js';
export { EXTERNAL_SCALER_DEFAULTS } from './external-scaler.js';
export { COMMAND_PLACEHOLDER } from './fields.js';
export { configJsonSchema } from './json-schema.js';
export type { ParseConfigOptions } from './load.js';
export { loadConfig, parseConfig } from './load.js';
export type { ConfigErrorCode, ConfigProblem } from './problems.js';
export { ConfigError, formatProblem } from './problems.js';
export type {
  ConfigInput,
  QscaleConfig,
  QueueConfig,
  RedisConnection,
  StrategyChoice,
} from './schema.js';
export { configSchema } from './schema.js';
export { configWarnings } from './warnings.js';
