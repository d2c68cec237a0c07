import { type Decision, defineStrategy, type ScalingContext } from '@qscale/contracts';
import { describe, expect, it } from 'vitest';
import { SCENARIO_NAMES, scenarios } from './scenarios.js';
import { simulate } from './simulate.js';
import type { TraceInput } from './trace.js';

const anything = { safeParse: (input: unknown) => ({ success: true as const, data: input }) };

/** A strategy that asks for `plan(now)` workers and records every context it is given. */
function scripted(plan: (now: number) => number, seen: ScalingContext[] = []) {
  return defineStrategy({
    name: 'scripted',
    optionsSchema: anything,
    create: () => ({
      recommend(ctx) {
        seen.push(ctx);
        return { workers: plan(ctx.now), reason: 'scripted', terms: {} };
      },
    }),
  });
}

const noPolicies = { cooldownMs: 0, downStabilizationMs: 0 };

function trace(
  queue: Record<string, unknown>,
  overrides: Record<string, unknown> = {},
): TraceInput {
  return {
    name: 'test',
    durationMs: 20_000,
    tickMs: 1_000,
    queues: [
      {
        name: 'q',
        arrivals: { kind: 'replay', timestampsMs: [] },
        service: { kind: 'constant', ms: 1_000 },
        slo: { pickupMs: 5_000, percentile: 95 },
        workers: { min: 0, max: 10 },
        spawnLatencyMs: 0,
        spawnJitter: 0,
        ...queue,
      },
    ],
    ...overrides,
  } as TraceInput;
}

describe('the queue model', () => {
  it('serves jobs first-in first-out and measures every wait', () => {
    // Ten jobs at t=0, one warm worker, 1 s each: waits 0, 1, ..., 9 s.
    const result = simulate(
      trace({
        arrivals: { kind: 'replay', timestampsMs: Array(10).fill(0) },
        workers: { min: 1, max: 1 },
      }),
      { strategy: 'fixed' },
    );
    const q = result.queues[0];
    expect(q?.jobs).toBe(10);
    expect(q?.started).toBe(10);
    expect(q?.sloAttainment).toBe(0.6); // waits 0..5 s are within the 5 s SLO
    expect(q?.waitMs.max).toBe(9_000);
    expect(q?.waitMs.p50).toBe(4_000);
    expect(q?.busySeconds).toBe(10);
    expect(q?.workerSeconds).toBe(20);
  });

  it('runs `concurrency` jobs at once on one worker', () => {
    const result = simulate(
      trace({
        arrivals: { kind: 'replay', timestampsMs: Array(8).fill(0) },
        workers: { min: 1, max: 1, concurrency: 4 },
      }),
      { strategy: 'fixed' },
    );
    expect(result.queues[0]?.waitMs.max).toBe(1_000);
    expect(result.queues[0]?.busySeconds).toBe(2); // 8 job-seconds over 4 slots
  });

  it('makes new workers wait out the spawn latency, and counts them from the spawn', () => {
    const seen: ScalingContext[] = [];
    const result = simulate(
      trace({
        arrivals: { kind: 'replay', timestampsMs: [500] },
        spawnLatencyMs: 3_000,
      }),
      { strategy: scripted(() => 1, seen), policies: noPolicies },
    );
    // Decided at the 1 s tick, ready at 4 s: the job waits 3.5 s.
    expect(result.queues[0]?.waitMs.max).toBe(3_500);
    expect(seen[1]?.workers).toMatchObject({ running: 0, starting: 1 });
    expect(result.queues[0]?.workerSeconds).toBe(19);
  });

  it('lets a stopping worker finish its job (graceful stop)', () => {
    const result = simulate(
      trace({
        arrivals: { kind: 'replay', timestampsMs: [1_500] },
        service: { kind: 'constant', ms: 5_000 },
        workers: { min: 0, max: 1, initial: 1 },
      }),
      { strategy: scripted((now) => (now < 2_000 ? 1 : 0)), policies: noPolicies },
    );
    const q = result.queues[0];
    expect(q?.started).toBe(1);
    expect(q?.busySeconds).toBe(5);
    expect(q?.workerSeconds).toBe(6.5); // alive from 0 to the end of its job at 6.5 s
    expect(q?.scaleDowns).toBe(1);
  });
});

describe('what the strategy sees', () => {
  it('builds each snapshot from what the metrics would show at that tick', () => {
    const seen: ScalingContext[] = [];
    simulate(
      trace({
        arrivals: { kind: 'replay', timestampsMs: [100, 200, 300, 1_100, 1_200] },
        workers: { min: 0, max: 1 },
      }),
      {
        strategy: scripted((now) => (now >= 2_000 ? 1 : 0), seen),
        policies: noPolicies,
        historyMs: 3_000,
      },
    );
    const [first, second, third] = seen;
    expect(first?.queue).toMatchObject({
      at: 1_000,
      pending: 3,
      active: 0,
      oldestPendingAgeMs: 900,
      arrivalRate: 3,
      completionRate: 0,
      serviceTimeMs: null,
      pickupLatencyMs: null,
    });
    expect(second?.queue).toMatchObject({ pending: 5, arrivalRate: 2, oldestPendingAgeMs: 1_900 });
    expect(second?.history.map((s) => s.at)).toEqual([1_000]);
    // At 2 s one worker was spawned (no latency) and took the oldest job at once; at 3 s it
    // finished it (before the tick) and took the next.
    expect(third?.queue).toMatchObject({ pending: 3, active: 1, completionRate: 1 });
    expect(third?.queue.pickupLatencyMs).toMatchObject({ p50: 1_900, p99: 2_800, samples: 2 });
    expect(third?.queue.serviceTimeMs).toEqual({ mean: 1_000, p95: 1_000 });
    expect(seen.at(-1)?.history.length).toBe(3);
    expect(seen.at(-1)?.slo).toEqual({ pickupMs: 5_000, percentile: 95 });
  });
});

describe('reproducibility', () => {
  const run = (seed: number, strategy = 'predictive') =>
    simulate(scenarios['anchor-wave']?.trace as TraceInput, { strategy, seed, series: false });

  it('gives the same result for the same seed, and another for another seed', () => {
    expect(run(3)).toEqual(run(3));
    expect(run(4).total.jobs).not.toBe(run(3).total.jobs);
  });

  it('gives every strategy the same jobs', () => {
    const jobs = ['predictive', 'hpa', 'horizon', 'fixed'].map((s) => run(7, s).total.jobs);
    expect(new Set(jobs).size).toBe(1);
  });
});

describe('workloads', () => {
  it('draws Poisson arrivals that follow a piecewise-linear rate', () => {
    const result = simulate(
      trace(
        {
          arrivals: {
            kind: 'poisson',
            rate: [
              { atMs: 0, perSecond: 0 },
              { atMs: 1_000_000, perSecond: 20 },
            ],
          },
          workers: { min: 0, max: 1 },
        },
        { durationMs: 1_000_000, tickMs: 100_000 },
      ),
      { strategy: 'fixed', strategyOptions: { workers: 0 }, series: false },
    );
    // Expected 10 000 arrivals, Poisson standard deviation 100.
    expect(Math.abs((result.queues[0]?.jobs ?? 0) - 10_000)).toBeLessThan(500);
  });

  it('draws lognormal service times with the configured mean', () => {
    const result = simulate(
      trace(
        {
          arrivals: { kind: 'poisson', rate: 20 },
          service: { kind: 'lognormal', meanMs: 400, sigma: 1 },
          workers: { min: 40, max: 40 },
        },
        { durationMs: 600_000, tickMs: 60_000 },
      ),
      { strategy: 'fixed', series: false },
    );
    const q = result.queues[0];
    const meanMs = ((q?.busySeconds ?? 0) / (q?.started ?? 1)) * 1_000;
    expect(meanMs).toBeGreaterThan(370);
    expect(meanMs).toBeLessThan(430);
  });
});

describe('several queues on one host', () => {
  it('never runs more workers than the host holds, and records the fair-share edits', () => {
    const contention = scenarios.contention?.trace as TraceInput;
    const result = simulate(contention, { strategy: 'predictive', seed: 2 });
    const ticks = result.queues[0]?.series?.tMs.length ?? 0;
    expect(ticks).toBeGreaterThan(0);
    for (let i = 0; i < ticks; i++) {
      const total = result.queues.reduce((sum, q) => sum + (q.series?.workers[i] ?? 0), 0);
      expect(total).toBeLessThanOrEqual(24);
    }
    expect(result.queues.some((q) => (q.editsByPolicy['fair-share'] ?? 0) > 0)).toBe(true);
  });
});

describe('many queues sharing a host (issue 17)', () => {
  /** Every decision of a run with what the queue showed, and the run's figures. */
  function contended(name: string, seed = 1) {
    const decisions: { at: number; decision: Decision; idle: boolean; pending: number }[] = [];
    const result = simulate(scenarios[name]?.trace as TraceInput, {
      strategy: 'predictive',
      seed,
      series: false,
      onDecision: (decision, ctx) => {
        const { pending, active, arrivalRate } = ctx.queue;
        const idle = pending === 0 && active === 0 && arrivalRate === 0;
        decisions.push({ at: ctx.now, decision, idle, pending: pending ?? 0 });
      },
    });
    // A slot given to a queue within the 30 s cooldown taken back while the queue had work.
    const grants = new Map<string, number[]>();
    let reversalsWithWork = 0;
    // Longest time a queue had waiting jobs and no worker while an idle queue kept one.
    const starvedSince = new Map<string, number>();
    let starvedMs = 0;
    const byTick = new Map<number, typeof decisions>();
    for (const d of decisions) byTick.set(d.at, [...(byTick.get(d.at) ?? []), d]);
    for (const [at, tick] of byTick) {
      const idleHolds = tick.some((d) => d.idle && d.decision.to > 0);
      for (const { decision, idle, pending } of tick) {
        const fresh = (grants.get(decision.queue) ?? []).filter((t) => at - t < 30_000);
        for (let slot = decision.from; slot < decision.to; slot++) fresh.push(at);
        if (decision.to < fresh.length && !idle) reversalsWithWork++;
        grants.set(decision.queue, fresh.slice(Math.max(0, fresh.length - decision.to)));
        if (pending > 0 && decision.to === 0 && idleHolds) {
          const since = starvedSince.get(decision.queue) ?? at;
          starvedSince.set(decision.queue, since);
          starvedMs = Math.max(starvedMs, at - since);
        } else starvedSince.delete(decision.queue);
      }
    }
    return { result, reversalsWithWork, starvedMs };
  }

  it('many-queues (50 on 24 slots): every queue served, nothing left behind, p95 within the SLO', () => {
    const { result, reversalsWithWork, starvedMs } = contended('many-queues');
    expect(result.queues).toHaveLength(50);
    for (const q of result.queues) {
      expect({ queue: q.queue, leftBehind: q.jobs - q.started }).toEqual({
        queue: q.queue,
        leftBehind: 0,
      });
      expect(q.waitMs.p95).toBeLessThanOrEqual(15_000);
    }
    expect(result.total.sloAttainment).toBeGreaterThanOrEqual(0.99);
    expect(starvedMs).toBe(0);
    expect(reversalsWithWork).toBe(0);
  });

  it('rotation (12 on 6 slots): queues take turns, no reversal with work within the cooldown', () => {
    const { result, reversalsWithWork, starvedMs } = contended('rotation');
    for (const q of result.queues) {
      expect(q.started).toBeGreaterThan(0);
      expect(q.waitMs.p95).toBeLessThanOrEqual(15_000);
    }
    expect(result.total.sloAttainment).toBeGreaterThanOrEqual(0.99);
    expect(starvedMs).toBe(0);
    expect(reversalsWithWork).toBe(0);
  });
});

describe('built-in scenarios', () => {
  it("are valid traces, qscale's own and the anchor's twelve", () => {
    expect(SCENARIO_NAMES.filter((name) => name.startsWith('anchor-'))).toHaveLength(12);
    for (const name of SCENARIO_NAMES) {
      const scenario = scenarios[name];
      expect(scenario?.trace.name).toBe(name);
      expect(() =>
        simulate(scenario?.trace as TraceInput, { strategy: 'fixed', series: false }),
      ).not.toThrow();
    }
  });

  it('predictive meets the SLO of the anchor steady state from one worker', () => {
    const result = simulate(scenarios['anchor-steady-state']?.trace as TraceInput, { seed: 1 });
    expect(result.total.sloAttainment).toBeGreaterThanOrEqual(0.99);
    expect(result.total.workerSeconds / result.total.busySeconds).toBeLessThan(1.35);
  });
});

describe('options', () => {
  it('rejects a bad seed, and reports progress', () => {
    expect(() => simulate(trace({}), { seed: -1 })).toThrow(
      /seed must be a whole number >= 0, got -1/,
    );
    const progress: number[] = [];
    simulate(trace({}), { strategy: 'fixed', onProgress: (done) => progress.push(done) });
    expect(progress.length).toBeGreaterThan(5);
    expect(progress.at(-1)).toBe(1);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
  });
});
