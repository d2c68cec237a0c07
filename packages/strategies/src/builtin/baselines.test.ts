import { context } from '@qscale/testkit';
import { describe, expect, it } from 'vitest';
import { createStrategy } from '../create.js';

describe('horizon', () => {
  const at = (
    strategy: ReturnType<typeof createStrategy>,
    now: number,
    pending: number,
    running: number,
    bounds = { min: 0, max: 10 },
  ) =>
    strategy.recommend(
      context({
        now,
        bounds,
        queue: { pending, serviceTimeMs: { mean: 1_000, p95: 2_000 } },
        workers: { running },
      }),
    );

  it('moves one process per step toward max while jobs wait', () => {
    const horizon = createStrategy('horizon');
    expect(at(horizon, 0, 50, 3).workers).toBe(4);
    expect(at(horizon, 4_000, 50, 4).workers).toBe(5);
  });
  it('holds between steps (balanceCooldown)', () => {
    const horizon = createStrategy('horizon');
    at(horizon, 0, 50, 3);
    const held = at(horizon, 2_000, 50, 4);
    expect(held.workers).toBe(4);
    expect(held.reason).toMatch(/cooldown/);
  });
  it('steps down toward minProcesses, never below 1, when nothing waits', () => {
    const horizon = createStrategy('horizon');
    expect(at(horizon, 0, 0, 3).workers).toBe(2);
    expect(at(horizon, 4_000, 0, 1).workers).toBe(1);
  });
  it('shifts more per step with balanceMaxShift', () => {
    const horizon = createStrategy('horizon', { balanceMaxShift: 3 });
    expect(at(horizon, 0, 50, 3).workers).toBe(6);
  });
  it('counts processes still starting as part of the pool', () => {
    const result = createStrategy('horizon').recommend(
      context({
        bounds: { min: 0, max: 10 },
        queue: { pending: 50, serviceTimeMs: { mean: 1_000, p95: 2_000 } },
        workers: { running: 3, starting: 2 },
      }),
    );
    expect(result.workers).toBe(6);
  });
});

describe('hpa (KEDA redis list + HPA defaults)', () => {
  const at = (
    strategy: ReturnType<typeof createStrategy>,
    now: number,
    pending: number,
    running: number,
    min = 0,
  ) =>
    strategy.recommend(
      context({ now, bounds: { min, max: 100 }, queue: { pending }, workers: { running } }),
    ).workers;

  it('targets 5 pending jobs per worker, limited to +100 % or +4 per period', () => {
    const hpa = createStrategy('hpa');
    expect(at(hpa, 0, 40, 2)).toBe(6); // ceil(40/5) = 8, limited to max(2 x 2, 2 + 4) = 6
    expect(at(hpa, 15_000, 40, 6)).toBe(8);
  });
  it('does nothing within the 10 % tolerance or between syncs', () => {
    const hpa = createStrategy('hpa');
    expect(at(hpa, 0, 52, 10)).toBe(10); // ratio 1.04
    expect(at(hpa, 5_000, 500, 10)).toBe(10); // before the next 15 s sync
  });
  it('scales down only to the highest recommendation of the last 300 s', () => {
    const hpa = createStrategy('hpa');
    expect(at(hpa, 0, 50, 10)).toBe(10);
    expect(at(hpa, 15_000, 5, 10)).toBe(10); // 1 recommended, 10 still in the window
    expect(at(hpa, 301_000, 5, 10)).toBe(1);
  });
  it('activates from zero when a job waits, and returns to zero after the cooldown period', () => {
    const hpa = createStrategy('hpa');
    expect(at(hpa, 0, 0, 0)).toBe(0);
    expect(at(hpa, 30_000, 3, 0)).toBe(1);
    expect(at(hpa, 45_000, 0, 1)).toBe(1);
    expect(at(hpa, 345_000, 0, 1)).toBe(0);
  });
  it('at zero, sees a job only at the next KEDA poll (30 s)', () => {
    const hpa = createStrategy('hpa');
    expect(at(hpa, 0, 0, 0)).toBe(0);
    expect(at(hpa, 10_000, 3, 0)).toBe(0);
    expect(at(hpa, 30_000, 3, 0)).toBe(1);
  });
  it('counts the cooldown to zero from the last time jobs waited, not from activation', () => {
    const hpa = createStrategy('hpa');
    expect(at(hpa, 0, 3, 0)).toBe(1);
    expect(at(hpa, 200_000, 3, 1)).toBe(1);
    expect(at(hpa, 320_000, 0, 1)).toBe(1); // idle for 120 s only
    expect(at(hpa, 500_000, 0, 1)).toBe(0);
  });
});

describe('littles-law, backlog and fixed', () => {
  it('littles-law: ceil(arrival rate x mean service time / concurrency)', () => {
    const result = createStrategy('littles-law').recommend(
      context({
        queue: { arrivalRate: 10, serviceTimeMs: { mean: 1_500, p95: 3_000 } },
        workers: { concurrency: 4 },
      }),
    );
    expect(result.workers).toBe(4); // 15 busy slots / 4 per worker
  });
  it("littles-law reproduces the anchor's SimpleRate (#35) from the completion rate", () => {
    const simple = (perMinute: number, meanMs: number | null) =>
      createStrategy('littles-law').recommend(
        context({
          bounds: { min: 0, max: 100 },
          queue: {
            arrivalRate: null,
            completionRate: perMinute / 60,
            serviceTimeMs: meanMs === null ? null : { mean: meanMs, p95: meanMs },
          },
        }),
      ).workers;
    expect(simple(60, 2_000)).toBe(2);
    expect(simple(6_000, 500)).toBe(50);
    expect(simple(60, null)).toBe(2); // the 2 s fallback
  });
  it('backlog (#37): 30 jobs with an unknown age drain within the SLO; nothing for an empty queue', () => {
    const backlog = createStrategy('backlog');
    expect(backlog.recommend(context({ queue: { pending: 30 } })).workers).toBe(2);
    expect(backlog.recommend(context({ queue: { pending: 0 } })).workers).toBe(0);
  });
  it('backlog: longer observed jobs and an older backlog need more workers', () => {
    const backlog = (meanMs: number, oldestPendingAgeMs: number, concurrency = 1) =>
      createStrategy('backlog').recommend(
        context({
          bounds: { min: 0, max: 1_000 },
          queue: { pending: 100, oldestPendingAgeMs, serviceTimeMs: { mean: meanMs, p95: meanMs } },
          workers: { concurrency },
        }),
      ).workers;
    expect(backlog(4_000, 20_000)).toBeGreaterThan(backlog(500, 20_000));
    expect(backlog(4_000, 25_000)).toBeGreaterThan(backlog(4_000, 20_000));
    // Four jobs per worker at a time: a quarter of the workers, rounded up.
    expect(backlog(4_000, 20_000, 4)).toBe(Math.ceil(backlog(4_000, 20_000) / 4));
  });
  it('fixed: the queue maximum, or the configured count', () => {
    expect(createStrategy('fixed').recommend(context({ bounds: { min: 0, max: 7 } })).workers).toBe(
      7,
    );
    expect(createStrategy('fixed', { workers: 3 }).recommend(context()).workers).toBe(3);
  });
});
