// @qscale/resource-monitor: container-correct CPU and memory figures from cgroup v1/v2 and
// /proc, and how many workers the host can hold.
export type { CapacityInput, CapacityLimits, QueueWorkers } from './internal/capacity.js';
export { capacity } from './internal/capacity.js';
export { DEFAULTS } from './internal/defaults.js';
export type { ResourceMonitorErrorCode } from './internal/errors.js';
export { ResourceMonitorError } from './internal/errors.js';
export type { FileProblem } from './internal/files.js';
export type {
  ResourceLimits,
  ResourceMonitor,
  ResourceMonitorOptions,
} from './internal/monitor.js';
export { createResourceMonitor } from './internal/monitor.js';
export type {
  MeasuredCost,
  WorkerCostTracker,
  WorkerCostTrackerOptions,
} from './internal/worker-costs.js';
export { createWorkerCostTracker } from './internal/worker-costs.js';
