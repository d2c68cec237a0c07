// @qscale/process-supervisor: worker pools that spawn, stop, restart and reap queue workers
// without a shell and without orphans.
export { DEFAULTS } from './defaults.js';
export type { SupervisorErrorCode } from './errors.js';
export { SupervisorError } from './errors.js';
export type { WorkerPool } from './pool.js';
export type { PreviousRun, Supervisor } from './supervisor.js';
export { checkPoolOptions, startSupervisor } from './supervisor.js';
export type {
  ExitOutcome,
  ExitRecord,
  OutputOptions,
  PoolEvents,
  PoolHealth,
  PoolOptions,
  PoolStatus,
  RecycleReason,
  RestartOptions,
  SkipReason,
  SpawnLatency,
  SpawnReason,
  StopReason,
  StopSummary,
  SupervisorEvents,
  SupervisorOptions,
  WorkerInfo,
  WorkerRef,
  WorkerState,
} from './types.js';
