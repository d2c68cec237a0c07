/**
 * The pipeline's rules at their edges: where a window, a staleness limit or a risk test starts
 * and stops, what a plugin's own edit replaces, and the order of bounds and steps. Written from
 * the mutants Stryker found surviving (bench/RESULTS.md, "Mutation testing").
 */
import type { PolicyInstance, Recommendation } from '@qscale/contracts';
import { context } from '@qscale/testkit';
import { describe, expect, it } from 'vitest';
import type { PolicyEvent } from './events.js';
import { createPolicyPipeline } from './pipeline.js';

const rec = (workers: number): Recommendation => ({ workers, reason: 'test', terms: {} });
const T = 1_000_000;
const bare = (settings: Parameters<typeof createPolicyPipeline>[0] = {}) =>
  createPolicyPipeline({ downStabilizationMs: 0, cooldownMs: 0, ...settings });

describe('bounds and steps', () => {
  it('bounds come before the step limit: 40 asked, max 10, step 20 gives one bounds edit', () => {
    const decision = bare({ maxStepUp: 20 }).apply(rec(40), context({ now: T }));
    expect(decision.to).toBe(10);
    expect(decision.edits).toEqual([
      { policy: 'bounds', from: 40, to: 10, why: "the queue's max is 10" },
    ]);
  });

  it('names the ratio when the ratio and the count allow the same step', () => {
    // 25 % of 12 = 3 = maxStepDown: the ratio is named.
    const decision = bare({ maxStepDown: 3, maxStepDownRatio: 0.25 }).apply(
      rec(0),
      context({ now: T, bounds: { min: 0, max: 20 }, workers: { running: 12 } }),
    );
    expect(decision.to).toBe(9);
    expect(decision.edits.at(-1)?.why).toBe('at most 3 workers (25% of 12) removed per decision');
  });

  it('a paused queue is still scaled down', () => {
    const decision = bare().apply(
      rec(1),
      context({ now: T, workers: { running: 4 }, queue: { paused: true } }),
    );
    expect(decision.to).toBe(1);
    expect(decision.edits).toEqual([]);
  });
});

describe('stabilisation window edges', () => {
  it('a recommendation exactly one window old still counts; a millisecond later it does not', () => {
    const pipeline = createPolicyPipeline({ downStabilizationMs: 10_000, cooldownMs: 0 });
    pipeline.apply(rec(5), context({ now: T, workers: { running: 5 } }));
    const held = pipeline.apply(rec(1), context({ now: T + 10_000, workers: { running: 5 } }));
    expect(held.to).toBe(5);
    expect(held.edits[0]?.why).toBe('the highest recommendation of the last 10s was 5: holding 5');
    const down = pipeline.apply(rec(1), context({ now: T + 10_001, workers: { running: 5 } }));
    expect(down.to).toBe(1);
  });

  it('says "scaling down to N only" when the window allows part of the way', () => {
    const pipeline = createPolicyPipeline({ downStabilizationMs: 10_000, cooldownMs: 0 });
    pipeline.apply(rec(8), context({ now: T, workers: { running: 8 } }));
    pipeline.apply(rec(3), context({ now: T + 11_000, workers: { running: 8 } }));
    const partial = pipeline.apply(rec(1), context({ now: T + 12_000, workers: { running: 8 } }));
    expect(partial.to).toBe(3);
    expect(partial.edits[0]?.why).toBe(
      'the highest recommendation of the last 10s was 3: scaling down to 3 only',
    );
  });

  it('a snapshot exactly staleAfterTicks old is still fresh enough to scale down on', () => {
    const at = (ageMs: number) =>
      bare().apply(
        rec(1),
        context({ now: T, tickMs: 2_000, workers: { running: 4 }, queue: { at: T - ageMs } }),
      );
    expect(at(6_000).to).toBe(1);
    expect(at(6_001).to).toBe(4);
    expect(at(6_001).edits[0]?.policy).toBe('no-data');
  });
});

describe('cooldown and the SLO risk that lets a scale-up through', () => {
  /** A pipeline that scaled 8 -> 4 at T: a scale-up within 30 s is a reversal. */
  const afterScaleDown = () => {
    const pipeline = bare({ cooldownMs: 30_000 });
    pipeline.apply(rec(4), context({ now: T, workers: { running: 8 } }));
    return pipeline;
  };

  it('a breach never lets a scale-down through the cooldown', () => {
    const pipeline = bare({ cooldownMs: 30_000 });
    pipeline.apply(rec(8), context({ now: T, workers: { running: 4 } }));
    const decision = pipeline.apply(
      rec(5),
      context({
        now: T + 1_000,
        workers: { running: 8 },
        queue: { pending: 3, oldestPendingAgeMs: 60_000 },
      }),
    );
    expect(decision.to).toBe(8);
    expect(decision.edits[0]?.policy).toBe('cooldown');
  });

  it('nothing waiting is no risk, however slow a spawn is', () => {
    const decision = afterScaleDown().apply(
      rec(6),
      context({
        now: T + 5_000,
        spawnLatencyMs: 40_000,
        workers: { running: 4 },
        queue: { pending: 0, oldestPendingAgeMs: 0, serviceTimeMs: { mean: 1_000, p95: 2_000 } },
      }),
    );
    expect(decision.to).toBe(4);
  });

  it('counts every slot of a concurrent worker when it asks whether the last job starts in time', () => {
    // 10 jobs of 1 s on 2 workers x 4 slots: the last starts in 1.25 s; 0.1 s old, SLO 30 s.
    const decision = afterScaleDown().apply(
      rec(6),
      context({
        now: T + 5_000,
        workers: { running: 2, concurrency: 4 },
        queue: { pending: 10, oldestPendingAgeMs: 100, serviceTimeMs: { mean: 1_000, p95: 2_000 } },
      }),
    );
    expect(decision.to).toBe(2);
    expect(decision.edits[0]?.policy).toBe('cooldown');
  });

  it('jobs waiting with no worker to run them are a risk', () => {
    const decision = afterScaleDown().apply(
      rec(2),
      context({
        now: T + 5_000,
        workers: { running: 0 },
        queue: { pending: 1, oldestPendingAgeMs: 100, serviceTimeMs: { mean: 100, p95: 200 } },
      }),
    );
    expect(decision.to).toBe(2);
  });

  it('the last job starting exactly at the SLO is a risk', () => {
    // 28 s old + 2 jobs x 1 s / 1 worker = 30 s, the SLO.
    const decision = afterScaleDown().apply(
      rec(6),
      context({
        now: T + 5_000,
        workers: { running: 1 },
        queue: {
          pending: 2,
          oldestPendingAgeMs: 28_000,
          serviceTimeMs: { mean: 1_000, p95: 1_000 },
        },
        tickMs: 0,
      }),
    );
    expect(decision.to).toBe(6);
  });
});

describe('plugins', () => {
  const plugin = (apply: PolicyInstance['apply']) => ({ name: 'mine', instance: { apply } });

  it('a plugin that records its own edit gets no second one', () => {
    const decision = bare({
      plugins: [
        plugin((d) => ({
          ...d,
          to: d.to + 1,
          edits: [...d.edits, { policy: 'mine', from: d.to, to: d.to + 1, why: 'one more' }],
        })),
      ],
    }).apply(rec(2), context({ now: T }));
    expect(decision.to).toBe(3);
    expect(decision.edits).toEqual([{ policy: 'mine', from: 2, to: 3, why: 'one more' }]);
  });

  it('a plugin that changes nothing leaves no edit', () => {
    const decision = bare({ plugins: [plugin((d) => d)] }).apply(rec(2), context({ now: T }));
    expect(decision.edits).toEqual([]);
  });
});

describe('breach events', () => {
  const breach = { pending: 1, oldestPendingAgeMs: 31_000 };
  const calm = { pending: 0, oldestPendingAgeMs: 0 };
  const run = (alertCooldownMs: number, ticks: [number, object][]) => {
    const events: PolicyEvent[] = [];
    const pipeline = bare({ alertCooldownMs, onEvent: (event) => events.push(event) });
    for (const [now, queue] of ticks) pipeline.apply(rec(1), context({ now, queue }));
    return events;
  };

  it('uses the configured alert cooldown', () => {
    const events = run(1_000, [
      [T, breach],
      [T + 1_000, calm],
      [T + 2_000, breach],
    ]);
    expect(events.map((e) => e.type)).toEqual(['slo-breach', 'slo-recovered', 'slo-breach']);
  });

  it('a breach exactly one cooldown after the last report is reported', () => {
    const events = run(10_000, [
      [T, breach],
      [T + 5_000, calm],
      [T + 10_000, breach],
    ]);
    expect(events.map((e) => e.type)).toEqual(['slo-breach', 'slo-recovered', 'slo-breach']);
  });

  it('a breach that began within the cooldown is reported once the cooldown is over', () => {
    const events = run(10_000, [
      [T, breach],
      [T + 2_000, calm],
      [T + 4_000, breach],
      [T + 8_000, breach],
      [T + 12_000, breach],
    ]);
    expect(events.map((e) => [e.type, e.at])).toEqual([
      ['slo-breach', T],
      ['slo-recovered', T + 2_000],
      ['slo-breach', T + 12_000],
    ]);
    expect(events[2]).toMatchObject({ suppressed: 1 });
  });

  it('reads the pickup percentile the SLO names, and a value equal to the SLO is a breach', () => {
    const pickup = { p50: 30_000, p95: 10_000, p99: 10_000, samples: 20 };
    const at = (percentile: number, figures: object) => {
      const events: PolicyEvent[] = [];
      bare({ onEvent: (event) => events.push(event) }).apply(
        rec(1),
        context({ now: T, slo: { pickupMs: 30_000, percentile }, queue: figures }),
      );
      return events.map((e) => e.type);
    };
    expect(at(50, { pickupLatencyMs: pickup })).toEqual(['slo-breach']);
    expect(at(90, { pickupLatencyMs: pickup })).toEqual([]);
    expect(at(90, { pickupLatencyMs: { ...pickup, p95: 30_000 } })).toEqual(['slo-breach']);
    expect(at(99, { pickupLatencyMs: { ...pickup, p95: 30_000 } })).toEqual([]);
    expect(at(95, { pickupLatencyMs: { ...pickup, p95: 30_000, samples: 0 } })).toEqual([]);
    expect(at(95, { oldestPendingAgeMs: 30_000, pending: 1 })).toEqual(['slo-breach']);
  });
});
