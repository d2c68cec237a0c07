import type { Trace } from '../trace.js';

/** A built-in workload, with what it is for. */
export interface Scenario {
  readonly name: string;
  /** One line: the workload and what it tests. */
  readonly summary: string;
  /** Where it comes from: qscale's own set, or the anchor's twelve simulation scenarios. */
  readonly origin: 'qscale' | 'anchor';
  /** A constant arrival rate: the benchmark's worker-seconds goal (<= 1.35 x busy) applies. */
  readonly steady: boolean;
  /**
   * Whether every queue can meet its SLO for >= 99 % of jobs within its max workers (and the
   * host's), for a scaler that reacts within a tick and a spawn latency.
   */
  readonly feasible: boolean;
  /** The workload trace (built on first access). */
  readonly trace: Trace;
}

/** A scenario whose trace is built on first access. */
export function scenario(
  meta: Omit<Scenario, 'trace'>,
  build: () => Omit<Trace, 'name'>,
): Scenario {
  let trace: Trace | null = null;
  return Object.freeze({
    ...meta,
    get trace(): Trace {
      trace ??= { name: meta.name, ...build() };
      return trace;
    },
  });
}
