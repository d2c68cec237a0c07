export { DEFAULTS } from './defaults.js';
export type { MetricsReaderErrorCode } from './errors.js';
export { MetricsReaderError } from './errors.js';
export { clusterProblem } from './internal/cluster-layout.js';
export { createMetricsReader } from './internal/reader.js';
export type {
  CelerySourceOptions,
  DiscoveredQueue,
  DiscoveryTarget,
  LaravelSourceOptions,
  MetricsReader,
  MetricsReaderOptions,
  ProbeStats,
  QueueSource,
  ReaderStats,
  RedisConnectionOptions,
  SentinelAddress,
  SnapshotCost,
  WorkerCount,
  WorkerRegistry,
} from './types.js';
