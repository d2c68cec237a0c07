import { type Scenario, scenario } from './internal/scenario.js';
import type { Trace, TraceQueue } from './trace.js';

const MINUTE = 60_000;

/**
 * The built-in worker-group scenarios: one pool serving several queues, each with its own SLO.
 * Run them as they are (one pool per group), and through `separatePools` for the same queues
 * each on a pool of its own, to compare.
 */
const list: Scenario[] = [
  scenario(
    {
      name: 'laravel-priority-group',
      summary:
        'Laravel queue:work --queue=high,default: high 1.5 jobs/s (0.5 s, p95 <= 5 s) before default 3-4.5 jobs/s (1.5 s, p95 <= 30 s)',
      origin: 'qscale',
      steady: false,
      feasible: true,
    },
    () => ({
      description:
        'one pool, strict priority: a worker always takes from high first; default rises by half at 5 min and falls back at 10 min',
      durationMs: 15 * MINUTE,
      tickMs: 2_000,
      queues: [
        {
          name: 'high',
          arrivals: { kind: 'poisson', rate: 1.5 },
          service: { kind: 'exponential', meanMs: 500 },
          slo: { pickupMs: 5_000, percentile: 95 },
        },
        {
          name: 'default',
          arrivals: {
            kind: 'poisson',
            interpolation: 'step',
            rate: [
              { atMs: 0, perSecond: 3 },
              { atMs: 5 * MINUTE, perSecond: 4.5 },
              { atMs: 10 * MINUTE, perSecond: 3 },
            ],
          },
          service: { kind: 'exponential', meanMs: 1_500 },
          slo: { pickupMs: 30_000, percentile: 95 },
        },
      ],
      groups: [
        {
          name: 'web',
          queues: ['high', 'default'],
          discipline: { kind: 'priority' },
          workers: { min: 1, max: 30, initial: 6 },
          spawnLatencyMs: 2_000,
        },
      ],
    }),
  ),
  scenario(
    {
      name: 'sidekiq-weighted-group',
      summary:
        'Sidekiq -q critical,3 -q default,2 -q low,1: 1 + 2 + 0.3 jobs/s, p95 <= 5 s / 30 s / 2 min',
      origin: 'qscale',
      steady: false,
      feasible: true,
    },
    () => ({
      description:
        "one pool, Sidekiq's weighted-random fetch; critical doubles for two minutes at 6 min",
      durationMs: 15 * MINUTE,
      tickMs: 2_000,
      queues: [
        {
          name: 'critical',
          arrivals: {
            kind: 'poisson',
            interpolation: 'step',
            rate: [
              { atMs: 0, perSecond: 1 },
              { atMs: 6 * MINUTE, perSecond: 2 },
              { atMs: 8 * MINUTE, perSecond: 1 },
            ],
          },
          service: { kind: 'lognormal', meanMs: 800, sigma: 0.5 },
          slo: { pickupMs: 5_000, percentile: 95 },
        },
        {
          name: 'default',
          arrivals: { kind: 'poisson', rate: 2 },
          service: { kind: 'exponential', meanMs: 1_000 },
          slo: { pickupMs: 30_000, percentile: 95 },
        },
        {
          name: 'low',
          arrivals: { kind: 'poisson', rate: 0.3 },
          service: { kind: 'lognormal', meanMs: 3_000, sigma: 0.8 },
          slo: { pickupMs: 120_000, percentile: 95 },
        },
      ],
      groups: [
        {
          name: 'sidekiq',
          queues: ['critical', 'default', 'low'],
          discipline: { kind: 'weighted', weights: [3, 2, 1] },
          workers: { min: 1, max: 40, initial: 6 },
          spawnLatencyMs: 3_000,
        },
      ],
    }),
  ),
];

/** The worker-group scenarios by name. */
export const groupScenarios: Readonly<Record<string, Scenario>> = Object.freeze(
  Object.fromEntries(list.map((s) => [s.name, s])),
);

/** The worker-group scenario names, in the order of `groupScenarios`. */
export const GROUP_SCENARIO_NAMES: readonly string[] = Object.freeze(list.map((s) => s.name));

/**
 * The same trace without its groups: every member queue on a pool of its own with its group's
 * worker settings (bounds, concurrency, spawn latency and jitter, fair-share priority; initial
 * workers = the group's minimum). The baseline a group is compared with.
 */
export function separatePools(trace: Trace): Trace {
  const { groups, ...rest } = trace;
  if (!groups || groups.length === 0) return trace;
  const byQueue = new Map(groups.flatMap((g) => g.queues.map((name) => [name, g] as const)));
  const queues = trace.queues.map((queue): TraceQueue => {
    const group = byQueue.get(queue.name);
    if (!group) return queue;
    const { initial: _initial, ...workers } = group.workers ?? {};
    return {
      ...queue,
      ...(group.workers ? { workers } : {}),
      ...(group.spawnLatencyMs === undefined ? {} : { spawnLatencyMs: group.spawnLatencyMs }),
      ...(group.spawnJitter === undefined ? {} : { spawnJitter: group.spawnJitter }),
      ...(group.priority === undefined ? {} : { priority: group.priority }),
    };
  });
  return { ...rest, name: `${trace.name} (separate pools)`, queues };
}
