// Bursty workloads for issue 16: bursts of different periods, sizes and shapes, periodic bursts
// that a scaler must not chase tick by tick, and a queue that drains and stays quiet (how soon
// the workers go back to the minimum). Sizes and periods vary on purpose: no one of them is
// the case a strategy could be tuned to.
import { type Scenario, scenario } from './internal/scenario.js';

const MINUTE = 60_000;

interface Burst {
  /** Start, ms since the start of the trace. */
  atMs: number;
  /** How long it lasts, ms. */
  forMs: number;
  /** Jobs per second during the burst. */
  perSecond: number;
}

/** Step rate points: `baseRate` between the bursts (which must not overlap, in time order). */
function bursts(list: readonly Burst[], baseRate: number) {
  const points = [{ atMs: 0, perSecond: baseRate }];
  for (const burst of list) {
    points.push({ atMs: burst.atMs, perSecond: burst.perSecond });
    points.push({ atMs: burst.atMs + burst.forMs, perSecond: baseRate });
  }
  return points;
}

/** `count` bursts of `forMs` at `perSecond`, one every `periodMs`, the first at `firstMs`. */
function periodic(
  count: number,
  firstMs: number,
  periodMs: number,
  forMs: number,
  perSecond: number,
) {
  return Array.from({ length: count }, (_, i) => ({
    atMs: firstMs + i * periodMs,
    forMs,
    perSecond,
  }));
}

export const burstScenarios: Scenario[] = [
  scenario(
    {
      name: 'bursts-short',
      summary: '10 s bursts of 40 jobs/s every 2 min over 0.2 jobs/s, 1 s jobs, p95 <= 20 s, min 0',
      origin: 'qscale',
      steady: false,
      feasible: true,
    },
    () => ({
      durationMs: 30 * MINUTE,
      queues: [
        {
          name: 'default',
          arrivals: {
            kind: 'poisson',
            interpolation: 'step',
            rate: bursts(periodic(15, MINUTE, 2 * MINUTE, 10_000, 40), 0.2),
          },
          service: { kind: 'exponential', meanMs: 1_000 },
          slo: { pickupMs: 20_000, percentile: 95 },
          workers: { min: 0, max: 60, initial: 1 },
          spawnLatencyMs: 3_000,
        },
      ],
    }),
  ),
  scenario(
    {
      name: 'bursts-long',
      summary: '4 min at 12 jobs/s every 10 min over 1 job/s, lognormal 1.5 s jobs, p95 <= 30 s',
      origin: 'qscale',
      steady: false,
      feasible: true,
    },
    () => ({
      durationMs: 60 * MINUTE,
      queues: [
        {
          name: 'default',
          arrivals: {
            kind: 'poisson',
            interpolation: 'step',
            rate: bursts(periodic(6, 2 * MINUTE, 10 * MINUTE, 4 * MINUTE, 12), 1),
          },
          service: { kind: 'lognormal', meanMs: 1_500, sigma: 0.6 },
          workers: { min: 1, max: 40, initial: 2 },
        },
      ],
    }),
  ),
  scenario(
    {
      name: 'bursts-irregular',
      summary:
        'seven bursts of 10 s to 3 min at 15-80 jobs/s at irregular times over 1 job/s, 0.5 s jobs, p95 <= 15 s',
      origin: 'qscale',
      steady: false,
      feasible: true,
    },
    () => ({
      durationMs: 30 * MINUTE,
      queues: [
        {
          name: 'default',
          arrivals: {
            kind: 'poisson',
            interpolation: 'step',
            rate: bursts(
              [
                { atMs: 1 * MINUTE, forMs: 30_000, perSecond: 20 },
                { atMs: 4 * MINUTE, forMs: 90_000, perSecond: 50 },
                { atMs: 7 * MINUTE, forMs: 20_000, perSecond: 35 },
                { atMs: 11 * MINUTE, forMs: 3 * MINUTE, perSecond: 15 },
                { atMs: 15 * MINUTE + 30_000, forMs: 45_000, perSecond: 60 },
                { atMs: 20 * MINUTE, forMs: MINUTE, perSecond: 25 },
                { atMs: 24 * MINUTE, forMs: 10_000, perSecond: 80 },
              ],
              1,
            ),
          },
          service: { kind: 'exponential', meanMs: 500 },
          slo: { pickupMs: 15_000, percentile: 95 },
          workers: { min: 0, max: 50, initial: 1 },
        },
      ],
    }),
  ),
  scenario(
    {
      name: 'periodic-30s',
      summary:
        'periodic: 10 s at 30 jobs/s then 20 s with no arrivals, 40 times; 1 s jobs, p95 <= 30 s (must not flap)',
      origin: 'qscale',
      steady: false,
      feasible: true,
    },
    () => ({
      durationMs: 20 * MINUTE,
      queues: [
        {
          name: 'default',
          arrivals: {
            kind: 'poisson',
            interpolation: 'step',
            rate: bursts(periodic(40, 0, 30_000, 10_000, 30), 0),
          },
          service: { kind: 'exponential', meanMs: 1_000 },
          workers: { min: 0, max: 40, initial: 10 },
        },
      ],
    }),
  ),
  scenario(
    {
      name: 'periodic-2m',
      summary:
        'periodic: 30 s at 20 jobs/s then 90 s with no arrivals, 15 times; 2 s jobs, p95 <= 20 s (must not flap)',
      origin: 'qscale',
      steady: false,
      feasible: true,
    },
    () => ({
      durationMs: 30 * MINUTE,
      queues: [
        {
          name: 'default',
          arrivals: {
            kind: 'poisson',
            interpolation: 'step',
            rate: bursts(periodic(15, 0, 2 * MINUTE, 30_000, 20), 0),
          },
          service: { kind: 'exponential', meanMs: 2_000 },
          slo: { pickupMs: 20_000, percentile: 95 },
          workers: { min: 0, max: 80, initial: 0 },
        },
      ],
    }),
  ),
  scenario(
    {
      name: 'drain-quiet',
      summary:
        'drain then quiet: 3 min at 4 jobs/s of 2 s jobs (about 8 workers), 4 min with no arrivals, twice; min 1',
      origin: 'qscale',
      steady: false,
      feasible: true,
    },
    () => ({
      durationMs: 14 * MINUTE,
      queues: [
        {
          name: 'default',
          arrivals: {
            kind: 'poisson',
            interpolation: 'step',
            rate: bursts(periodic(2, 0, 7 * MINUTE, 3 * MINUTE, 4), 0),
          },
          service: { kind: 'exponential', meanMs: 2_000 },
          workers: { min: 1, max: 20, initial: 1 },
        },
      ],
    }),
  ),
  scenario(
    {
      name: 'drain-backlog',
      summary:
        'a dump of 600 jobs in 10 s (0.25 s jobs) every 6 min, nothing in between; p95 <= 30 s, min 0',
      origin: 'qscale',
      steady: false,
      feasible: true,
    },
    () => ({
      durationMs: 24 * MINUTE,
      queues: [
        {
          name: 'default',
          arrivals: {
            kind: 'poisson',
            interpolation: 'step',
            rate: bursts(periodic(4, 30_000, 6 * MINUTE, 10_000, 60), 0),
          },
          service: { kind: 'exponential', meanMs: 250 },
          workers: { min: 0, max: 30, initial: 0 },
        },
      ],
    }),
  ),
];
