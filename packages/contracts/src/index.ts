export { isQscaleError, QscaleError } from './errors.js';
export type {
  GroupDiscipline,
  GroupMemberRecommendation,
  GroupRecommendation,
  GroupScalingContext,
} from './groups.js';
export {
  groupDisciplineSchema,
  groupMemberRecommendationSchema,
  groupRecommendationSchema,
  groupScalingContextSchema,
} from './groups.js';
export type { LogFields, Logger } from './logger.js';
export { silentLogger } from './logger.js';
export type {
  FigureSource,
  PickupLatency,
  QueueBackend,
  QueueFigure,
  QueueSnapshot,
  ServiceTime,
  SnapshotError,
} from './queue-snapshot.js';
export {
  figureSourceSchema,
  pickupLatencySchema,
  QUEUE_BACKENDS,
  QUEUE_FIGURES,
  queueBackendSchema,
  queueFigureSchema,
  queueSnapshotSchema,
  serviceTimeSchema,
  snapshotErrorSchema,
} from './queue-snapshot.js';
export type {
  CapacityLimiter,
  HostCapacity,
  Pressure,
  QueueCapacity,
  ResourceSnapshot,
  ResourceSource,
  WorkerCostSource,
  WorkerResources,
} from './resources.js';
export {
  capacityLimiterSchema,
  hostCapacitySchema,
  pressureSchema,
  queueCapacitySchema,
  resourceSnapshotSchema,
  resourceSourceSchema,
  workerCostSourceSchema,
  workerResourcesSchema,
} from './resources.js';
export type {
  Decision,
  DecisionEdit,
  OptionsSchema,
  Policy,
  PolicyInstance,
  Recommendation,
  ScalingContext,
  Slo,
  Strategy,
  StrategyInstance,
  WorkerBounds,
} from './scaling.js';
export {
  decisionEditSchema,
  decisionSchema,
  definePolicy,
  defineStrategy,
  pluginShapeProblems,
  recommendationSchema,
  scalingContextSchema,
  sloSchema,
  workerBoundsSchema,
} from './scaling.js';
export {
  isSecretName,
  isSecretValue,
  REDACTED,
  redactSecretShapes,
  urlPasswords,
} from './secrets.js';
export {
  bytesSchema,
  coresSchema,
  countSchema,
  durationMsSchema,
  epochMsSchema,
  ratePerSecondSchema,
} from './units.js';
export type { WorkerCounts } from './workers.js';
export { workerCountsSchema } from './workers.js';
