export type { ChartOptions } from './chart.js';
export { chartHtml, chartSvg } from './chart.js';
export { DEFAULTS } from './defaults.js';
export type { SimulatorErrorCode, TraceProblem } from './errors.js';
export { SimulatorError } from './errors.js';
export { policyProfile } from './profiles.js';
export type { Scenario } from './scenarios.js';
export { SCENARIO_NAMES, scenarios } from './scenarios.js';
export type {
  QueueResult,
  QueueSeries,
  SimulateOptions,
  SimulationResult,
} from './simulate.js';
export { simulate } from './simulate.js';
export type { Arrivals, Service, Trace, TraceInput, TraceQueue } from './trace.js';
export { loadTrace, parseTrace, traceSchema } from './trace.js';
