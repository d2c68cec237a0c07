import type { PolicyInstance, Recommendation } from '@qscale/contracts';
import { isQscaleError } from '@qscale/contracts';
import { context } from '@qscale/testkit';
import { describe, expect, it } from 'vitest';
import type { PolicyEvent } from './events.js';
import { createPolicyPipeline } from './pipeline.js';

const rec = (workers: number): Recommendation => ({
  workers,
  reason: 'test',
  terms: { x: workers },
});
const T = 1_000_000;

/** A pipeline without stabilisation or cooldown, to look at one policy at a time. */
const bare = (settings: Parameters<typeof createPolicyPipeline>[0] = {}) =>
  createPolicyPipeline({ downStabilizationMs: 0, cooldownMs: 0, ...settings });

describe('decision basics', () => {
  it('keeps the recommendation, the queue and the current count', () => {
    const decision = bare().apply(rec(4), context({ workers: { running: 2, starting: 1 } }));
    expect(decision).toEqual({
      queue: 'emails',
      from: 3,
      to: 4,
      recommendation: rec(4),
      edits: [],
    });
  });
  it('bounds: clamps to [min, max] and says which', () => {
    const high = bare().apply(rec(40), context({ bounds: { min: 1, max: 10 } }));
    expect(high.to).toBe(10);
    expect(high.edits).toEqual([
      { policy: 'bounds', from: 40, to: 10, why: "the queue's max is 10" },
    ]);
    const low = bare().apply(
      rec(0),
      context({ bounds: { min: 2, max: 10 }, workers: { running: 2 } }),
    );
    expect(low.to).toBe(2);
    expect(low.edits[0]?.why).toBe("the queue's min is 2");
  });
  it('rejects settings out of range', () => {
    let error: unknown;
    try {
      createPolicyPipeline({ maxStepDownRatio: 1.5 });
    } catch (caught) {
      error = caught;
    }
    expect(isQscaleError(error, 'POLICY_CONFIG_INVALID')).toBe(true);
    expect((error as Error).message).toContain('maxStepDownRatio');
  });
});

describe('no scale-down on missing or stale metrics', () => {
  const running = { running: 6 };
  it('keeps the current count when the queue could not be read', () => {
    const decision = bare().apply(
      rec(0),
      context({
        workers: running,
        queue: {
          pending: null,
          error: { code: 'REDIS_UNREACHABLE', message: 'connection refused' },
        },
      }),
    );
    expect(decision.to).toBe(6);
    expect(decision.edits[0]?.policy).toBe('no-data');
    expect(decision.edits[0]?.why).toContain('REDIS_UNREACHABLE');
  });
  it('keeps the current count when pending is unknown or the snapshot is stale', () => {
    const unknown = bare().apply(rec(1), context({ workers: running, queue: { pending: null } }));
    expect(unknown.to).toBe(6);
    expect(unknown.edits[0]?.why).toContain('pending jobs unknown');
    const stale = bare().apply(
      rec(1),
      context({ now: T, workers: running, queue: { at: T - 7_000 } }),
    );
    expect(stale.to).toBe(6);
    expect(stale.edits[0]?.why).toContain('stale metrics (snapshot 7s old, more than 6s)');
  });
  it('still scales up, and a fresh snapshot scales down again', () => {
    const pipeline = bare();
    expect(pipeline.apply(rec(9), context({ workers: running, queue: { pending: null } })).to).toBe(
      9,
    );
    expect(pipeline.apply(rec(2), context({ workers: running })).to).toBe(2);
  });
});

describe('paused queues', () => {
  it('are never scaled up', () => {
    const decision = bare().apply(
      rec(5),
      context({ workers: { running: 1 }, queue: { paused: true } }),
    );
    expect(decision.to).toBe(1);
    expect(decision.edits[0]?.policy).toBe('paused');
  });
});

describe('scale-down stabilisation', () => {
  it('scales up at once and down only to the highest recommendation of the window', () => {
    const pipeline = createPolicyPipeline({ downStabilizationMs: 60_000, cooldownMs: 0 });
    const at = (now: number, workers: number, running: number) =>
      pipeline.apply(rec(workers), context({ now, workers: { running } }));
    expect(at(T, 10, 2).to).toBe(10);
    expect(at(T + 20_000, 6, 10).to).toBe(10);
    const held = at(T + 40_000, 3, 10);
    expect(held.to).toBe(10);
    expect(held.edits[0]).toMatchObject({ policy: 'stabilization', from: 3, to: 10 });
    expect(at(T + 70_000, 3, 10).to).toBe(6); // the 10 left the window, the 6 has not
    expect(at(T + 110_000, 3, 6).to).toBe(3);
  });
  it('a new pipeline does not scale down before watching a whole window', () => {
    const pipeline = createPolicyPipeline({ downStabilizationMs: 30_000, cooldownMs: 0 });
    expect(pipeline.apply(rec(2), context({ now: T, workers: { running: 8 } })).to).toBe(8);
    expect(pipeline.apply(rec(2), context({ now: T + 31_000, workers: { running: 8 } })).to).toBe(
      2,
    );
  });
});

describe('reversal cooldown', () => {
  it('blocks a scale-down soon after a scale-up', () => {
    const pipeline = bare({ cooldownMs: 30_000 });
    expect(pipeline.apply(rec(8), context({ now: T, workers: { running: 4 } })).to).toBe(8);
    const blocked = pipeline.apply(rec(5), context({ now: T + 10_000, workers: { running: 8 } }));
    expect(blocked.to).toBe(8);
    expect(blocked.edits[0]?.why).toBe('no reversal within 30s of the last scale-up (10s ago)');
    expect(pipeline.apply(rec(5), context({ now: T + 31_000, workers: { running: 8 } })).to).toBe(
      5,
    );
  });
  it('never blocks more of the same direction', () => {
    const pipeline = bare({ cooldownMs: 30_000 });
    pipeline.apply(rec(8), context({ now: T, workers: { running: 4 } }));
    expect(
      pipeline.apply(
        rec(12),
        context({ now: T + 2_000, bounds: { min: 0, max: 20 }, workers: { running: 8 } }),
      ).to,
    ).toBe(12);
  });
  it('blocks a scale-up soon after a scale-down, unless the SLO is breached or about to be', () => {
    const pipeline = () => {
      const p = bare({ cooldownMs: 30_000 });
      p.apply(rec(4), context({ now: T, workers: { running: 8 } }));
      return p;
    };
    const calm = pipeline().apply(
      rec(6),
      context({
        now: T + 5_000,
        workers: { running: 4 },
        queue: { pending: 3, oldestPendingAgeMs: 1_000 },
      }),
    );
    expect(calm.to).toBe(4);
    expect(calm.edits[0]?.policy).toBe('cooldown');
    const breached = pipeline().apply(
      rec(6),
      context({
        now: T + 5_000,
        workers: { running: 4 },
        queue: { pending: 3, oldestPendingAgeMs: 31_000 },
      }),
    );
    expect(breached.to).toBe(6);
    // 26 s old + 2 s spawn + 2 s tick reaches the 30 s SLO before a new worker could start.
    const dueSoon = pipeline().apply(
      rec(6),
      context({
        now: T + 5_000,
        spawnLatencyMs: 2_000,
        workers: { running: 4 },
        queue: { pending: 3, oldestPendingAgeMs: 26_000 },
      }),
    );
    expect(dueSoon.to).toBe(6);
    // 400 jobs of 1 s on 4 workers: the last one would start 100 s from now.
    const overloaded = pipeline().apply(
      rec(6),
      context({
        now: T + 5_000,
        workers: { running: 4 },
        queue: {
          pending: 400,
          oldestPendingAgeMs: 1_000,
          serviceTimeMs: { mean: 1_000, p95: 3_000 },
        },
      }),
    );
    expect(overloaded.to).toBe(6);
  });
});

describe('step limits', () => {
  it('limits workers added and removed per decision', () => {
    const up = bare({ maxStepUp: 3 }).apply(
      rec(20),
      context({ workers: { running: 2 }, bounds: { min: 0, max: 30 } }),
    );
    expect(up.to).toBe(5);
    expect(up.edits[0]).toMatchObject({
      policy: 'step-up',
      why: 'at most 3 workers added per decision',
    });
    const down = bare({ maxStepDown: 2 }).apply(rec(1), context({ workers: { running: 9 } }));
    expect(down.to).toBe(7);
  });
  it("the anchor's conservative scale-down (#33): at most 25 %, at least 1", () => {
    const conservative = () => bare({ maxStepDownRatio: 0.25 });
    expect(conservative().apply(rec(5), context({ workers: { running: 10 } })).to).toBe(7);
    expect(conservative().apply(rec(2), context({ workers: { running: 10 } })).to).toBe(7);
    const small = conservative().apply(rec(4), context({ workers: { running: 5 } }));
    expect(small.to).toBe(4);
    expect(small.edits).toEqual([]);
  });
});

describe('policy plugins', () => {
  const plugin = (apply: PolicyInstance['apply']) => ({
    name: 'office-hours',
    instance: { apply },
  });
  it('run after the built-in policies; an unrecorded change gets an edit; bounds still win', () => {
    const pipeline = bare({
      plugins: [plugin((decision) => ({ ...decision, to: decision.to + 20 }))],
    });
    const decision = pipeline.apply(rec(4), context({ bounds: { min: 0, max: 10 } }));
    expect(decision.to).toBe(10);
    expect(decision.edits.map((edit) => edit.policy)).toEqual(['office-hours', 'bounds']);
  });
  it('fail loudly, naming the plugin, when they return something else than a Decision', () => {
    const pipeline = bare({
      plugins: [plugin((decision) => ({ ...decision, to: -1 }))],
    });
    expect(() => pipeline.apply(rec(4), context())).toThrow(/policy "office-hours" returned/);
  });
});

describe('breach and recovery events', () => {
  it('reports a breach, its recovery, and rate-limits the next breach', () => {
    const events: PolicyEvent[] = [];
    const pipeline = bare({ alertCooldownMs: 300_000, onEvent: (event) => events.push(event) });
    const tick = (now: number, oldest: number) =>
      pipeline.apply(
        rec(1),
        context({ now, queue: { pending: oldest > 0 ? 5 : 0, oldestPendingAgeMs: oldest } }),
      );
    tick(T, 1_000);
    tick(T + 2_000, 35_000);
    tick(T + 4_000, 40_000);
    tick(T + 6_000, 0);
    tick(T + 8_000, 31_000); // a new breach within 5 min of the last report: counted, not reported
    tick(T + 10_000, 0);
    tick(T + 400_000, 32_000);
    expect(events.map((e) => e.type)).toEqual(['slo-breach', 'slo-recovered', 'slo-breach']);
    expect(events[0]).toMatchObject({
      signal: 'oldest-pending-age',
      observedMs: 35_000,
      sloMs: 30_000,
    });
    expect(events[1]).toMatchObject({ breachDurationMs: 4_000 });
    expect(events[2]).toMatchObject({ suppressed: 1 });
  });
  it('uses the observed pickup percentile too', () => {
    const events: PolicyEvent[] = [];
    bare({ onEvent: (event) => events.push(event) }).apply(
      rec(1),
      context({
        queue: { pickupLatencyMs: { p50: 1_000, p95: 31_000, p99: 40_000, samples: 50 } },
      }),
    );
    expect(events[0]).toMatchObject({
      type: 'slo-breach',
      signal: 'pickup-percentile',
      observedMs: 31_000,
    });
  });
});
