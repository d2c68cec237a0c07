import { QscaleError } from '@qscale/contracts';

export type SimulatorErrorCode =
  /** A workload trace file could not be read. */
  | 'TRACE_UNREADABLE'
  /** A workload trace file is not valid JSON. */
  | 'TRACE_SYNTAX'
  /** A workload trace does not match the trace schema. */
  | 'TRACE_INVALID'
  /** `simulate` was given options it cannot use (unknown scenario, bad seed, ...). */
  | 'SIMULATION_OPTIONS_INVALID';

/** One problem of a trace: the JSON path, what was found and what was expected. */
export interface TraceProblem {
  /** JSON path, e.g. `queues[0].arrivals.rate[2].perSecond`. */
  path: string;
  message: string;
}

/** Every error @qscale/simulator throws. `problems` lists what is wrong with a trace. */
export class SimulatorError extends QscaleError<SimulatorErrorCode> {
  readonly problems: readonly TraceProblem[];

  constructor(
    code: SimulatorErrorCode,
    message: string,
    options: { cause?: unknown; problems?: TraceProblem[] } = {},
  ) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.problems = options.problems ?? [];
  }
}
Object.defineProperty(SimulatorError.prototype, 'name', {
  value: 'SimulatorError',
  writable: true,
  configurable: true,
});
