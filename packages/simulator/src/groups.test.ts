import type { Decision, GroupRecommendation } from '@qscale/contracts';
import { isQscaleError } from '@qscale/contracts';
import { groupSteadyState } from '@qscale/strategies';
import { describe, expect, it } from 'vitest';
import { GROUP_SCENARIO_NAMES, groupScenarios, separatePools } from './group-scenarios.js';
import { simulate } from './simulate.js';
import type { TraceGroup, TraceInput } from './trace.js';

const MINUTE = 60_000;

describe('group scenarios: every queue meets its own SLO with fewer worker-seconds than separate pools', () => {
  for (const name of GROUP_SCENARIO_NAMES) {
    for (const strategy of ['predictive', 'erlang-drain']) {
      it(`${name} with ${strategy}`, () => {
        const trace = (groupScenarios[name] as { trace: TraceInput }).trace;
        const grouped = simulate(trace, { strategy, series: false });
        const separate = simulate(separatePools(trace as never), { strategy, series: false });
        for (const queue of grouped.queues) {
          expect(queue.group, queue.queue).not.toBeNull();
          expect(queue.jobs, queue.queue).toBeGreaterThan(100);
          expect(queue.sloAttainment, queue.queue).toBeGreaterThanOrEqual(0.99);
        }
        for (const queue of separate.queues)
          expect(queue.sloAttainment).toBeGreaterThanOrEqual(0.99);
        expect(grouped.total.jobs).toBe(separate.total.jobs);
        expect(grouped.total.workerSeconds).toBeLessThan(separate.total.workerSeconds);
        const [group] = grouped.groups;
        expect(group?.workerSeconds).toBeCloseTo(grouped.total.workerSeconds, 6);
        // The members' shares of the group's cost add up to it.
        const shares = grouped.queues.reduce((sum, q) => sum + q.workerSeconds, 0);
        expect(shares).toBeCloseTo(group?.workerSeconds ?? 0, 6);
      });
    }
  }
});

describe('the decision record of a group explains each queue’s share', () => {
  it('priority: the low queue gets what the high one leaves, and sets the pool', () => {
    const decisions: Decision[] = [];
    const trace = groupScenarios['laravel-priority-group']?.trace as TraceInput;
    const result = simulate(trace, {
      series: false,
      onDecision: (decision) => decisions.push(decision),
    });
    const busy = decisions.filter((d) => d.recommendation.workers > 0);
    expect(busy.length).toBeGreaterThan(100);
    for (const decision of busy) {
      expect(decision.queue).toBe('web');
      const rec = decision.recommendation as GroupRecommendation;
      expect(rec.members.map((m) => m.queue)).toEqual(['high', 'default']);
      expect(rec.workers).toBe(Math.max(...rec.members.map((m) => m.workers)));
      const [high, low] = rec.members;
      expect(low?.terms.availableSlots).toBeCloseTo(
        rec.workers - (high?.terms.loadErlangs ?? 0),
        9,
      );
      for (const member of rec.members) {
        expect(member.workers).toBe(
          (member.terms.strategyWorkers ?? Number.NaN) + (member.terms.sharingCost ?? Number.NaN),
        );
      }
    }
    const [web] = result.groups;
    expect(web?.members.map((m) => m.queue)).toEqual(['high', 'default']);
    // default (the larger load, behind high) sets the pool most of the time.
    expect(web?.members[1]?.decidingTicks).toBeGreaterThan(web?.members[0]?.decidingTicks ?? 0);
  });

  it('weighted: each member records its share of the pickups', () => {
    const trace = groupScenarios['sidekiq-weighted-group']?.trace as TraceInput;
    const result = simulate(trace, { strategy: 'erlang-drain', series: false });
    const shares = result.groups[0]?.members.map((m) => m.share) ?? [];
    expect(shares[0]).toBeCloseTo(3 / 6, 9);
    expect(shares[1]).toBeCloseTo(2 / 6, 9);
    expect(shares[2]).toBeCloseTo(1 / 6, 9);
  });
});

/** Two queues, equal loads, on a pool held at 2 workers that can barely keep up. */
function contended(discipline: TraceGroup['discipline']): TraceInput {
  const queue = (name: string) => ({
    name,
    arrivals: { kind: 'poisson' as const, rate: 0.9 },
    service: { kind: 'exponential' as const, meanMs: 1_000 },
    slo: { pickupMs: 10_000, percentile: 95 },
  });
  return {
    name: 'contended',
    durationMs: 30 * MINUTE,
    queues: [queue('first'), queue('second')],
    groups: [
      {
        name: 'pool',
        queues: ['first', 'second'],
        discipline,
        workers: { min: 2, max: 2, initial: 2 },
      },
    ],
  };
}

describe('the pool takes jobs as the backend does', () => {
  const run = (discipline: TraceGroup['discipline']) => {
    const result = simulate(contended(discipline), { strategy: 'fixed', series: false });
    const [first, second] = result.queues;
    return { first: first?.waitMs.p95 ?? 0, second: second?.waitMs.p95 ?? 0 };
  };

  it('priority serves the first queue first', () => {
    const waits = run({ kind: 'priority' });
    expect(waits.first * 3).toBeLessThan(waits.second);
  });

  it('weighted favours the heavier weight, less strictly than priority', () => {
    const weighted = run({ kind: 'weighted', weights: [4, 1] });
    const strict = run({ kind: 'priority' });
    expect(weighted.first).toBeLessThan(weighted.second);
    expect(weighted.first).toBeGreaterThan(strict.first);
  });

  it('round-robin serves both alike', () => {
    const waits = run({ kind: 'round-robin' });
    const ratio = waits.first / waits.second;
    expect(ratio).toBeGreaterThan(0.6);
    expect(ratio).toBeLessThan(1 / 0.6);
  });
});

describe('the sizing model, checked by simulation', () => {
  const mix = [
    { name: 'a', rate: 6, serviceMs: 500, pickupMs: 1_000 },
    { name: 'b', rate: 3, serviceMs: 1_000, pickupMs: 5_000 },
    { name: 'c', rate: 0.5, serviceMs: 4_000, pickupMs: 60_000 },
  ];
  const disciplines: TraceGroup['discipline'][] = [
    { kind: 'priority' },
    { kind: 'weighted', weights: [3, 2, 1] },
    { kind: 'round-robin' },
  ];
  for (const discipline of disciplines) {
    it(`a fixed pool of the model's size keeps every member within its p95 (${discipline.kind})`, () => {
      const model = groupSteadyState(
        discipline,
        mix.map((m) => ({
          arrivalRate: m.rate,
          serviceTimeMs: m.serviceMs,
          pickupMs: m.pickupMs,
          percentile: 95,
        })),
      );
      const n = model.workers;
      expect(n).toBeGreaterThan(Math.ceil(3 + 3 + 2)); // more than the load (8 busy slots)
      const result = simulate(
        {
          name: 'model-check',
          durationMs: 60 * MINUTE,
          queues: mix.map((m) => ({
            name: m.name,
            arrivals: { kind: 'poisson' as const, rate: m.rate },
            service: { kind: 'exponential' as const, meanMs: m.serviceMs },
            slo: { pickupMs: m.pickupMs, percentile: 95 },
          })),
          groups: [
            {
              name: 'pool',
              queues: mix.map((m) => m.name),
              discipline,
              workers: { min: n, max: n, initial: n },
            },
          ],
        },
        { strategy: 'fixed', strategyOptions: { workers: n }, series: false },
      );
      for (const queue of result.queues) {
        expect(queue.sloAttainment, queue.queue).toBeGreaterThanOrEqual(0.95);
      }
    });
  }
});

describe('group traces', () => {
  it('a group of one queue runs exactly like the queue on its own pool', () => {
    const queue = {
      name: 'only',
      arrivals: { kind: 'poisson' as const, rate: 3 },
      service: { kind: 'exponential' as const, meanMs: 1_000 },
    };
    const pool = { workers: { min: 0, max: 20 }, spawnJitter: 0 };
    const alone = simulate(
      { name: 't', durationMs: 10 * MINUTE, queues: [{ ...queue, ...pool }] },
      { series: false },
    );
    const grouped = simulate(
      {
        name: 't',
        durationMs: 10 * MINUTE,
        queues: [queue],
        groups: [{ name: 'g', queues: ['only'], discipline: { kind: 'priority' }, ...pool }],
      },
      { series: false },
    );
    expect(grouped.queues[0]?.waitMs).toEqual(alone.queues[0]?.waitMs);
    expect(grouped.total.workerSeconds).toBeCloseTo(alone.total.workerSeconds, 9);
  });

  it('rejects groups that do not fit the queues, naming each problem', () => {
    const queue = (name: string, extra: Record<string, unknown> = {}) => ({
      name,
      arrivals: { kind: 'poisson' as const, rate: 1 },
      service: { kind: 'constant' as const, ms: 100 },
      ...extra,
    });
    try {
      simulate({
        name: 'bad',
        durationMs: MINUTE,
        queues: [queue('a', { workers: { max: 3 } }), queue('b')],
        groups: [
          { name: 'a', queues: ['a', 'nope'], discipline: { kind: 'weighted', weights: [1] } },
          { name: 'g2', queues: ['b', 'a'], discipline: { kind: 'priority' } },
        ],
      });
      expect.unreachable('should have thrown');
    } catch (error) {
      expect(isQscaleError(error, 'TRACE_INVALID')).toBe(true);
      const message = (error as Error).message;
      expect(message).toMatch(/groups\[0\]\.name: .*"a" is taken/);
      expect(message).toMatch(
        /groups\[0\]\.queues\[1\]: expected one of the trace's queues \(a, b\), got "nope"/,
      );
      expect(message).toMatch(/sets workers, but its workers are the group's/);
      expect(message).toMatch(
        /groups\[0\]\.discipline\.weights: expected one weight per queue \(2\), got 1/,
      );
      expect(message).toMatch(/groups\[1\]\.queues\[1\]: queue "a" is already in group "a"/);
    }
  });

  it('separatePools gives every member its group’s worker settings', () => {
    const trace = groupScenarios['laravel-priority-group']?.trace;
    const separate = separatePools(trace as never);
    expect(separate.groups).toBeUndefined();
    for (const queue of separate.queues) {
      expect(queue.workers).toEqual({ min: 1, max: 30 });
      expect(queue.spawnLatencyMs).toBe(2_000);
    }
  });
});
