export { DEFAULTS } from './defaults.js';
export type { MetricsReaderErrorCode } from './errors.js';
export { MetricsReaderError } from './errors.js';
export { createMetricsReader } from './internal/reader.js';
export type {
  DiscoveredQueue,
  DiscoveryTarget,
  MetricsReader,
  MetricsReaderOptions,
  ProbeStats,
  QueueSource,
  ReaderStats,
  RedisConnectionOptions,
  SnapshotCost,
} from './types.js';
