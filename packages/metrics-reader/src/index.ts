export { DEFAULTS } from './defaults.js';
export type { MetricsReaderErrorCode } from './errors.js';
export { MetricsReaderError } from './errors.js';
export { createMetricsReader } from './internal/reader.js';
export type {
  CelerySourceOptions,
  DiscoveredQueue,
  DiscoveryTarget,
  MetricsReader,
  MetricsReaderOptions,
  QueueSource,
  ReaderStats,
  RedisConnectionOptions,
  SnapshotCost,
} from './types.js';
