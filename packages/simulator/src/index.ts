export type { ChartOptions } from './chart.js';
export { chartHtml, chartSvg } from './chart.js';
export { DEFAULTS } from './defaults.js';
export type { SimulatorErrorCode, TraceProblem } from './errors.js';
export { SimulatorError } from './errors.js';
export { GROUP_SCENARIO_NAMES, groupScenarios, separatePools } from './group-scenarios.js';
export { policyProfile } from './profiles.js';
export type { Scenario } from './scenarios.js';
export { SCENARIO_NAMES, scenarios } from './scenarios.js';
export type {
  GroupResult,
  QueueResult,
  QueueSeries,
  SimulateOptions,
  SimulationResult,
} from './simulate.js';
export { simulate } from './simulate.js';
export type {
  Arrivals,
  Service,
  Trace,
  TraceGroup,
  TraceInput,
  TraceQueue,
} from './trace.js';
export { loadTrace, parseTrace, traceGroupSchema, traceSchema } from './trace.js';
