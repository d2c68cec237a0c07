import { burstScenarios } from './burst-scenarios.js';
import { type Scenario, scenario } from './internal/scenario.js';

export type { Scenario } from './internal/scenario.js';

const MINUTE = 60_000;

type RatePoint = { atMs: number; perSecond: number };

/** Points every `stepMs` of `rate(tMs)`, to be joined by straight lines. */
function sampled(durationMs: number, stepMs: number, rate: (tMs: number) => number): RatePoint[] {
  const points: RatePoint[] = [];
  for (let t = 0; t <= durationMs; t += stepMs) points.push({ atMs: t, perSecond: rate(t) });
  return points;
}

/**
 * The anchor's simulation (tests/Simulation): ticks of 1 s, a multiplier of the base rate per
 * second (`multiplier(second)`, seconds 1..300), scaling every 5 s, SLA 30 s p95, workers
 * 1..max starting at 1, a 2 s spawn delay, 1 s jobs.
 */
function anchor(
  name: string,
  summary: string,
  options: {
    baseRate: number;
    max: number;
    steady?: boolean;
    tickMs?: number;
    multiplier: (second: number) => number;
  },
): Scenario {
  return scenario(
    { name, summary, origin: 'anchor', steady: options.steady ?? false, feasible: true },
    () => ({
      description: summary,
      durationMs: 300_000,
      tickMs: options.tickMs ?? 5_000,
      queues: [
        {
          name: 'default',
          arrivals: {
            kind: 'poisson',
            interpolation: 'step',
            rate: Array.from({ length: 300 }, (_, i) => ({
              atMs: i * 1_000,
              perSecond: options.baseRate * options.multiplier(i + 1),
            })),
          },
          service: { kind: 'exponential', meanMs: 1_000 },
          slo: { pickupMs: 30_000, percentile: 95 },
          workers: { min: 1, max: options.max, initial: 1 },
          spawnLatencyMs: 2_000,
        },
      ],
    }),
  );
}

const list: Scenario[] = [
  scenario(
    {
      name: 'steady',
      summary: '20 jobs/s of 1 s jobs (exponential) for 30 min, p95 pickup <= 10 s',
      origin: 'qscale',
      steady: true,
      feasible: true,
    },
    () => ({
      durationMs: 30 * MINUTE,
      queues: [
        {
          name: 'default',
          arrivals: { kind: 'poisson', rate: 20 },
          service: { kind: 'exponential', meanMs: 1_000 },
          slo: { pickupMs: 10_000, percentile: 95 },
          workers: { min: 0, max: 40, initial: 22 },
        },
      ],
    }),
  ),
  scenario(
    {
      name: 'spike',
      summary: '8 jobs/s of 0.5 s jobs, a 5x spike (40 jobs/s) from 10 to 13 min, p95 <= 10 s',
      origin: 'qscale',
      steady: false,
      feasible: true,
    },
    () => ({
      durationMs: 25 * MINUTE,
      queues: [
        {
          name: 'default',
          arrivals: {
            kind: 'poisson',
            interpolation: 'step',
            rate: [
              { atMs: 0, perSecond: 8 },
              { atMs: 10 * MINUTE, perSecond: 40 },
              { atMs: 13 * MINUTE, perSecond: 8 },
            ],
          },
          service: { kind: 'exponential', meanMs: 500 },
          slo: { pickupMs: 10_000, percentile: 95 },
          workers: { min: 0, max: 40, initial: 5 },
        },
      ],
    }),
  ),
  scenario(
    {
      name: 'ramp',
      summary: '2 -> 40 jobs/s over 20 min, 5 min plateau, down to 5 in 5 min; lognormal 1 s jobs',
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
            rate: [
              { atMs: 0, perSecond: 2 },
              { atMs: 20 * MINUTE, perSecond: 40 },
              { atMs: 25 * MINUTE, perSecond: 40 },
              { atMs: 30 * MINUTE, perSecond: 5 },
            ],
          },
          service: { kind: 'lognormal', meanMs: 1_000, sigma: 0.5 },
          slo: { pickupMs: 15_000, percentile: 95 },
          workers: { min: 0, max: 60, initial: 3 },
        },
      ],
    }),
  ),
  scenario(
    {
      name: 'diurnal',
      summary: 'a day in an hour: 2 -> 22 -> 2 jobs/s (sine), 0.8 s jobs, p95 <= 30 s',
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
            rate: sampled(
              60 * MINUTE,
              MINUTE,
              (t) => 12 - 10 * Math.cos((2 * Math.PI * t) / (60 * MINUTE)),
            ),
          },
          service: { kind: 'exponential', meanMs: 800 },
          workers: { min: 0, max: 30, initial: 2 },
        },
      ],
    }),
  ),
  scenario(
    {
      name: 'bursty',
      summary: 'on/off: 1 min at 30 jobs/s, 2 min at 0.5 jobs/s, ten times; p95 <= 20 s, min 0',
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
            rate: Array.from({ length: 20 }, (_, i) => ({
              atMs: Math.floor(i / 2) * 3 * MINUTE + (i % 2) * MINUTE,
              perSecond: i % 2 === 0 ? 30 : 0.5,
            })),
          },
          service: { kind: 'exponential', meanMs: 1_000 },
          slo: { pickupMs: 20_000, percentile: 95 },
          workers: { min: 0, max: 50, initial: 1 },
          spawnLatencyMs: 3_000,
        },
      ],
    }),
  ),
  scenario(
    {
      name: 'heavy-tailed',
      summary: '8 jobs/s, lognormal service (mean 2 s, sigma 1.2: p99 ~16 s), p95 <= 30 s',
      origin: 'qscale',
      steady: true,
      feasible: true,
    },
    () => ({
      durationMs: 30 * MINUTE,
      queues: [
        {
          name: 'default',
          arrivals: { kind: 'poisson', rate: 8 },
          service: { kind: 'lognormal', meanMs: 2_000, sigma: 1.2 },
          workers: { min: 0, max: 40, initial: 18 },
        },
      ],
    }),
  ),
  scenario(
    {
      name: 'cold-start',
      summary:
        'from zero workers: idle 2 min, 4 jobs/s of 2 s jobs for 10 min, idle 5 min, again 5 min',
      origin: 'qscale',
      steady: false,
      feasible: true,
    },
    () => ({
      durationMs: 22 * MINUTE,
      queues: [
        {
          name: 'default',
          arrivals: {
            kind: 'poisson',
            interpolation: 'step',
            rate: [
              { atMs: 0, perSecond: 0 },
              { atMs: 2 * MINUTE, perSecond: 4 },
              { atMs: 12 * MINUTE, perSecond: 0 },
              { atMs: 17 * MINUTE, perSecond: 4 },
            ],
          },
          service: { kind: 'exponential', meanMs: 2_000 },
          workers: { min: 0, max: 20, initial: 0 },
          spawnLatencyMs: 3_000,
        },
      ],
    }),
  ),
  scenario(
    {
      name: 'contention',
      summary:
        'three queues on a 24-worker host: critical (p99 <= 5 s, priority 4), default (spikes 10 -> 20 jobs/s), bulk (SLO 5 min)',
      origin: 'qscale',
      steady: false,
      // During the spike the three queues need about 35 busy workers; the host holds 24.
      feasible: false,
    },
    () => ({
      durationMs: 25 * MINUTE,
      host: { maxWorkers: 24 },
      queues: [
        {
          name: 'critical',
          arrivals: { kind: 'poisson', rate: 6 },
          service: { kind: 'exponential', meanMs: 500 },
          slo: { pickupMs: 5_000, percentile: 99 },
          workers: { min: 1, max: 10, initial: 4 },
          priority: 4,
        },
        {
          name: 'default',
          arrivals: {
            kind: 'poisson',
            interpolation: 'step',
            rate: [
              { atMs: 0, perSecond: 10 },
              { atMs: 10 * MINUTE, perSecond: 20 },
              { atMs: 15 * MINUTE, perSecond: 10 },
            ],
          },
          service: { kind: 'exponential', meanMs: 1_000 },
          slo: { pickupMs: 30_000, percentile: 95 },
          workers: { min: 0, max: 20, initial: 11 },
        },
        {
          name: 'bulk',
          arrivals: { kind: 'poisson', rate: 3 },
          service: { kind: 'lognormal', meanMs: 3_000, sigma: 0.8 },
          slo: { pickupMs: 300_000, percentile: 95 },
          workers: { min: 0, max: 20, initial: 9 },
        },
      ],
    }),
  ),
  scenario(
    {
      name: 'many-queues',
      summary:
        '50 queues on a 24-worker host: 10 at 0.25 and 40 at 0.08 two-second jobs/s for 10 min, then 2 min to drain, p95 pickup <= 15 s',
      origin: 'qscale',
      steady: false,
      // About 11 busy workers on 24 slots, but every queue wants a worker of its own: slots
      // must move from idle queues to queues with waiting jobs (issue 17's starvation soak).
      feasible: true,
    },
    () => ({
      durationMs: 12 * MINUTE,
      host: { maxWorkers: 24 },
      queues: Array.from({ length: 50 }, (_, i) => ({
        name: `q${String(i).padStart(2, '0')}`,
        arrivals: {
          kind: 'poisson' as const,
          interpolation: 'step' as const,
          rate: [
            { atMs: 0, perSecond: i % 5 === 0 ? 0.25 : 0.08 },
            { atMs: 10 * MINUTE, perSecond: 0 },
          ],
        },
        service: { kind: 'exponential' as const, meanMs: 2_000 },
        slo: { pickupMs: 15_000, percentile: 95 },
        workers: { min: 0, max: 2, initial: 0 },
        spawnLatencyMs: 1_000,
      })),
    }),
  ),
  scenario(
    {
      name: 'rotation',
      summary:
        '12 queues on a 6-worker host, each 0.3 one-second jobs/s (3.6 busy workers) for 5 min, p95 pickup <= 15 s',
      origin: 'qscale',
      steady: false,
      // Twelve queues want a worker each and six slots exist: they must take turns without
      // thrashing (issue 17's 12-queues-on-6-slots case).
      feasible: true,
    },
    () => ({
      durationMs: 5 * MINUTE,
      host: { maxWorkers: 6 },
      queues: Array.from({ length: 12 }, (_, i) => ({
        name: `q${String(i).padStart(2, '0')}`,
        arrivals: { kind: 'poisson' as const, rate: 0.3 },
        service: { kind: 'exponential' as const, meanMs: 1_000 },
        slo: { pickupMs: 15_000, percentile: 95 },
        workers: { min: 0, max: 1, initial: 0 },
        spawnLatencyMs: 1_000,
      })),
    }),
  ),
  scenario(
    {
      name: 'tight-slo',
      summary: '40 jobs/s of 100 ms jobs (constant), p99 pickup <= 500 ms',
      origin: 'qscale',
      steady: true,
      feasible: true,
    },
    () => ({
      durationMs: 20 * MINUTE,
      queues: [
        {
          name: 'default',
          arrivals: { kind: 'poisson', rate: 40 },
          service: { kind: 'constant', ms: 100 },
          slo: { pickupMs: 500, percentile: 99 },
          workers: { min: 0, max: 20, initial: 5 },
        },
      ],
    }),
  ),
  anchor('anchor-steady-state', 'anchor: constant 5 jobs/s', {
    baseRate: 5,
    max: 20,
    steady: true,
    multiplier: () => 1,
  }),
  anchor('anchor-sudden-spike', 'anchor: 5 jobs/s, 5x from 60 to 120 s', {
    baseRate: 5,
    max: 30,
    multiplier: (s) => (s > 60 && s <= 120 ? 5 : 1),
  }),
  anchor('anchor-gradual-growth', 'anchor: 3 jobs/s growing 10 % every 30 s', {
    baseRate: 3,
    max: 30,
    multiplier: (s) => 1.1 ** Math.floor(s / 30),
  }),
  anchor('anchor-traffic-decline', 'anchor: 15 -> 2.5 jobs/s, linear', {
    baseRate: 5,
    max: 30,
    multiplier: (s) => 3 - 2.5 * (s / 300),
  }),
  anchor('anchor-bursty', 'anchor: 30 s at 15 jobs/s, 30 s at 1 job/s', {
    baseRate: 5,
    max: 20,
    multiplier: (s) => ((s - 1) % 60 < 30 ? 3 : 0.2),
  }),
  anchor('anchor-cold-start', 'anchor: nothing for 30 s, then 15 jobs/s', {
    baseRate: 5,
    max: 20,
    multiplier: (s) => (s <= 30 ? 0 : 3),
  }),
  anchor('anchor-sla-pressure', 'anchor: constant 6.5 jobs/s from one worker', {
    baseRate: 5,
    max: 20,
    steady: true,
    multiplier: () => 1.3,
  }),
  anchor('anchor-wave', 'anchor: 2.5-12.5 jobs/s sine, 60 s period', {
    baseRate: 5,
    max: 20,
    multiplier: (s) => 1.5 + Math.sin((2 * Math.PI * s) / 60),
  }),
  anchor('anchor-morning-rush', 'anchor: 1.5 -> 12 jobs/s (quadratic) in 60 s, then plateau', {
    baseRate: 3,
    max: 30,
    multiplier: (s) => (s <= 60 ? 0.5 + 3.5 * (s / 60) ** 2 : 4),
  }),
  anchor('anchor-end-of-day', 'anchor: 10 -> 0.5 jobs/s, exponential decay', {
    baseRate: 5,
    max: 20,
    multiplier: (s) => 0.1 + 1.9 * Math.exp((-3 * s) / 300),
  }),
  anchor('anchor-extreme-spike', 'anchor: 5 jobs/s, 10x from 30 to 60 s', {
    baseRate: 5,
    max: 50,
    multiplier: (s) => (s > 30 && s <= 60 ? 10 : 1),
  }),
  anchor('anchor-flapping', 'anchor: 10 and 2.5 jobs/s alternating every 5 s, 10 s tick', {
    baseRate: 5,
    max: 20,
    tickMs: 10_000,
    multiplier: (s) => ((s - 1) % 10 < 5 ? 2 : 0.5),
  }),
  ...burstScenarios,
];

/** The built-in scenarios by name: qscale's own, the anchor's twelve, then the burst set. */
export const scenarios: Readonly<Record<string, Scenario>> = Object.freeze(
  Object.fromEntries(list.map((s) => [s.name, s])),
);

/** The scenario names, in the order of `scenarios`. */
export const SCENARIO_NAMES: readonly string[] = Object.freeze(list.map((s) => s.name));
