export type {
  AllocateOptions,
  AllocationEntry,
  HostAllocator,
  HostAllocatorConfig,
  QueueAllocationSettings,
} from './allocator.js';
export { createHostAllocator } from './allocator.js';
export { DEFAULTS } from './defaults.js';
export type { PolicyErrorCode } from './errors.js';
export { PolicyError } from './errors.js';
export type { BreachSignal, PolicyEvent, SloBreachEvent, SloRecoveredEvent } from './events.js';
export { observedBreach } from './events.js';
export type { FairShareDemand } from './fair-share.js';
export { allocateFairShare } from './fair-share.js';
export type { HostShareOptions, QueueCapacityLimit, QueueShareSettings } from './host.js';
export { capToQueueCapacity, shareHostCapacity } from './host.js';
export type {
  PolicyPipeline,
  PolicyPipelineConfig,
  PolicyPlugin,
  PolicySettings,
} from './pipeline.js';
export { createPolicyPipeline } from './pipeline.js';
