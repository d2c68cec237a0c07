import type { QueueSnapshot } from '@qscale/contracts';
import { context, history, snapshot } from '@qscale/testkit';
import { describe, expect, it } from 'vitest';
import { createStrategy } from '../create.js';

const NOW = 1_000_000;
const exponential1s = { mean: 1_000, p95: 3_000 };

/** Two minutes of snapshots every 2 s at `rate(offsetMs)` jobs/s, jobs of 1 s. */
function steadyHistory(rate: (offsetMs: number) => number): QueueSnapshot[] {
  return history(60, 2_000, NOW, (offset) => ({
    arrivalRate: rate(offset),
    completionRate: rate(offset),
    serviceTimeMs: exponential1s,
  }));
}

function recommend(overrides: Parameters<typeof context>[0], options: object = {}) {
  return createStrategy('predictive', options).recommend(context({ now: NOW, ...overrides }));
}

describe('predictive: steady state', () => {
  const steady = (slo: { pickupMs: number; percentile: number }, options: object = {}) =>
    recommend(
      {
        slo,
        bounds: { min: 0, max: 100 },
        history: steadyHistory(() => 20),
        queue: { arrivalRate: 20, completionRate: 20, serviceTimeMs: exponential1s },
        workers: { running: 25 },
      },
      options,
    );

  it("never sizes below Little's Law (20 jobs/s x 1 s = 20 busy workers)", () => {
    const result = steady({ pickupMs: 60_000, percentile: 95 }, { backlogBudget: 0 });
    expect(result.workers).toBeGreaterThan(20);
    expect(result.terms.littlesLaw).toBeCloseTo(20, 6);
    expect(result.reason).toMatch(/Erlang C/);
  });

  it('needs more workers for a tighter SLO and a higher percentile', () => {
    const loose = steady({ pickupMs: 5_000, percentile: 90 }).workers;
    const tight = steady({ pickupMs: 200, percentile: 90 }).workers;
    const strict = steady({ pickupMs: 200, percentile: 99.9 }).workers;
    expect(tight).toBeGreaterThan(loose);
    expect(strict).toBeGreaterThan(tight);
  });

  it('plans a small standing backlog when the SLO leaves room, instead of idle capacity', () => {
    const planned = steady({ pickupMs: 30_000, percentile: 95 });
    const unplanned = steady({ pickupMs: 30_000, percentile: 95 }, { backlogBudget: 0 });
    expect(planned.workers).toBeLessThan(unplanned.workers);
    expect(planned.workers).toBeGreaterThanOrEqual(20);
    expect(planned.reason).toMatch(/planned backlog/);
    expect(planned.terms.plannedBacklog).toBe(planned.workers);
  });

  it('does not plan a backlog when the loop could not react within the budget', () => {
    // Budget 0.5 x 4 s = 2 s < tick 2 s + spawn 2 s.
    const result = createStrategy('predictive').recommend(
      context({
        now: NOW,
        spawnLatencyMs: 2_000,
        slo: { pickupMs: 4_000, percentile: 95 },
        bounds: { min: 0, max: 100 },
        history: steadyHistory(() => 20),
        queue: { arrivalRate: 20, completionRate: 20, serviceTimeMs: exponential1s },
      }),
    );
    expect(result.terms.plannedBacklog).toBeUndefined();
    expect(result.workers).toBeGreaterThan(20);
  });

  it('needs more workers for heavier-tailed service times of the same mean', () => {
    const sized = (p95: number) =>
      recommend(
        {
          slo: { pickupMs: 2_000, percentile: 99 },
          bounds: { min: 0, max: 1_000 },
          history: history(60, 2_000, NOW, () => ({
            arrivalRate: 20,
            completionRate: 20,
            serviceTimeMs: { mean: 1_000, p95 },
          })),
          queue: { arrivalRate: 20, completionRate: 20, serviceTimeMs: { mean: 1_000, p95 } },
        },
        { backlogBudget: 0 },
      ).workers;
    const steady = sized(1_200);
    const exponential = sized(3_000);
    const heavy = sized(6_000);
    expect(steady).toBeLessThan(exponential);
    expect(exponential).toBeLessThan(heavy);
  });

  it('asks for one worker above its maximum when even that many would miss the SLO', () => {
    const result = recommend(
      {
        bounds: { min: 0, max: 10 },
        history: steadyHistory(() => 100),
        queue: { arrivalRate: 100, completionRate: 100, serviceTimeMs: exponential1s },
      },
      { backlogBudget: 0 },
    );
    expect(result.workers).toBe(11);
  });

  it('is deterministic: the same context gives the same recommendation', () => {
    const a = steady({ pickupMs: 10_000, percentile: 95 });
    const b = steady({ pickupMs: 10_000, percentile: 95 });
    expect(a).toEqual(b);
  });
});

describe('predictive: backlog', () => {
  it('drains an old backlog in time, with no worker more than needed', () => {
    const spawnLatencyMs = 3_000;
    const pending = 600;
    const oldest = 20_000;
    const running = 10;
    const result = recommend({
      spawnLatencyMs,
      bounds: { min: 0, max: 500 },
      history: steadyHistory(() => 5),
      queue: {
        pending,
        oldestPendingAgeMs: oldest,
        arrivalRate: 5,
        completionRate: 5,
        serviceTimeMs: exponential1s,
      },
      workers: { running },
    });
    expect(result.reason).toMatch(/backlog drain/);
    // The history explains 100 of the 600 jobs (5 jobs/s over the last 20 s); the other 500
    // are taken as old as the oldest. Each tick's arrivals count a tick older (the next look
    // comes a tick later), at most as old as the oldest: the 10 that arrived 16-18 s ago have
    // 510 jobs ahead and 10 s left. Slot-seconds available before that deadline: running
    // workers from now, new ones after the spawn latency. That work must fit, and one worker
    // fewer would not do.
    const budget = 30_000 - oldest;
    const ahead = (pending - 90) * 1_000;
    const capacity = (workers: number) =>
      running * budget + (workers - running) * (budget - spawnLatencyMs);
    expect(capacity(result.workers)).toBeGreaterThanOrEqual(ahead);
    expect(capacity(result.workers - 1)).toBeLessThan(ahead);
  });

  it('counts the jobs in service as work still ahead of the backlog', () => {
    // 50 queued jobs of 1 s and 10 s of SLO left: 5 workers clear them in time. 40 jobs in
    // service hold their slots for about half a job more each (20 slot-seconds): 7 workers.
    const drain = (active: number) =>
      recommend({
        bounds: { min: 0, max: 100 },
        queue: {
          pending: 50,
          active,
          oldestPendingAgeMs: 20_000,
          serviceTimeMs: exponential1s,
        },
      });
    expect(drain(0).workers).toBe(5);
    const busy = drain(40);
    expect(busy.reason).toMatch(/backlog drain/);
    expect(busy.workers).toBe(7);
  });

  it('needs no new worker for a backlog the running ones clear within the SLO', () => {
    // 50 jobs of 1 s, 10 s of SLO left, 10 workers running: the last one starts after 49 jobs,
    // 4.9 slots' worth of work. New workers would only start after the 3 s spawn latency; none
    // is needed.
    const result = recommend({
      spawnLatencyMs: 3_000,
      bounds: { min: 0, max: 100 },
      queue: { pending: 50, oldestPendingAgeMs: 20_000, serviceTimeMs: exponential1s },
      workers: { running: 10 },
    });
    expect(result.terms.backlogDrain).toBeCloseTo(4.9, 6);
    expect(result.workers).toBe(5);
  });

  it('gives each queued job its own deadline: a queue built up over time needs fewer than a dump', () => {
    // 300 jobs of 1 s, the oldest 20 s old. Built up at 15 jobs/s over those 20 s, the young
    // jobs have most of their SLO left; dumped all at once (no arrivals since), every job is
    // 20 s old and the last must start within 10 s.
    const backlog = (rate: (offsetMs: number) => number, latest: number) =>
      recommend({
        bounds: { min: 0, max: 200 },
        history: history(60, 2_000, NOW, (offset) => ({
          arrivalRate: rate(offset),
          serviceTimeMs: exponential1s,
        })),
        queue: {
          pending: 300,
          oldestPendingAgeMs: 20_000,
          arrivalRate: latest,
          serviceTimeMs: exponential1s,
        },
        workers: { running: 0 },
      }).terms;
    const builtUp = backlog((offset) => (offset >= -18_000 ? 15 : 0), 15);
    const dumped = backlog((offset) => (offset === -20_000 ? 150 : 0), 0);
    expect(dumped.backlogDrain).toBeCloseTo(299 / 10, 6);
    expect(builtUp.backlogDrain).toBeLessThan((dumped.backlogDrain ?? 0) * 0.7);
    // Built up: the oldest of the latest tick's 30 jobs (2 s old, counted 4 s: a tick more)
    // has 270 ahead and 26 s left; every older part has fewer ahead for less time, and binds less.
    expect(builtUp.backlogDrain).toBeCloseTo(270 / 26, 6);
  });

  it('keeps no worker for jobs already running when nothing waits and nothing arrives', () => {
    const result = recommend({
      bounds: { min: 0, max: 100 },
      queue: { pending: 0, active: 40, serviceTimeMs: exponential1s },
      workers: { running: 40 },
    });
    expect(result.workers).toBe(0);
    expect(result.terms.backlogDrain).toBe(0);
  });

  it('treats a breached SLO with the shortest budget (one tick)', () => {
    const result = recommend({
      bounds: { min: 0, max: 1_000 },
      queue: { pending: 100, oldestPendingAgeMs: 45_000, serviceTimeMs: exponential1s },
      workers: { running: 0 },
    });
    expect(result.terms.budgetMs).toBe(2_000);
    expect(result.workers).toBeGreaterThanOrEqual(50);
  });
});

describe('predictive: arrivals', () => {
  it('follows a spike in the latest tick at once when the SLO leaves no room to queue it', () => {
    const result = recommend({
      // Planned backlog budget 0.5 x 3 s = 1.5 s < one tick: sized for the peak.
      slo: { pickupMs: 3_000, percentile: 95 },
      bounds: { min: 0, max: 200 },
      history: steadyHistory(() => 5),
      queue: { arrivalRate: 60, completionRate: 5, serviceTimeMs: exponential1s, pending: 100 },
      workers: { running: 6 },
    });
    expect(result.terms.arrivalRate).toBe(60);
    expect(result.workers).toBeGreaterThanOrEqual(50);
  });

  it('forecasts a ramp over the spawn latency and the next tick', () => {
    const ramp = (offset: number) => 30 + (0.2 * offset) / 1_000;
    const result = recommend({
      spawnLatencyMs: 10_000,
      slo: { pickupMs: 2_000, percentile: 95 },
      bounds: { min: 0, max: 200 },
      history: steadyHistory(ramp),
      queue: { arrivalRate: 30, completionRate: 30, serviceTimeMs: exponential1s },
    });
    expect(result.terms.arrivalTrendPerS).toBeCloseTo(0.2, 1);
    expect(result.terms.forecastArrivalRate).toBeGreaterThan(result.terms.arrivalRate ?? 0);
    expect(result.terms.forecast).toBeGreaterThan(result.terms.steadyState ?? 0);
    expect(result.workers).toBe(result.terms.forecast);
    expect(result.reason).toMatch(/^forecast: arrivals trending to/);
  });

  it('asks for nothing when nothing arrives and nothing waits', () => {
    const result = recommend({ history: steadyHistory(() => 0) });
    expect(result.workers).toBe(0);
    expect(result.reason).toMatch(/no workers needed/);
  });

  it('sizes with the fallback service time until jobs have been observed', () => {
    const unknown = recommend(
      { bounds: { min: 0, max: 100 }, queue: { arrivalRate: 10, completionRate: 0 } },
      { fallbackServiceTimeMs: 3_000, backlogBudget: 0 },
    );
    expect(unknown.terms.serviceTimeMs).toBe(3_000);
    expect(unknown.workers).toBeGreaterThan(30);
  });

  it('derives the service time from busy slots when no job finished in the window', () => {
    // 12 jobs in service, 4 finishing per second: 3 s each (not the 2 s fallback).
    const snapshots = history(10, 2_000, NOW, () => ({ active: 12, completionRate: 4 }));
    const result = recommend({ history: snapshots, queue: { active: 12, completionRate: 4 } });
    expect(result.terms.serviceTimeMs).toBeCloseTo(3_000, 6);
  });

  it('weighs observed service times by the jobs behind them', () => {
    // One busy snapshot of 4 s jobs (10 jobs/s) and a quiet one of 1 s jobs (0.1 jobs/s).
    const snapshots = [
      snapshot({ at: NOW - 6_000 }),
      snapshot({
        at: NOW - 4_000,
        completionRate: 10,
        serviceTimeMs: { mean: 4_000, p95: 12_000 },
      }),
      snapshot({
        at: NOW - 2_000,
        completionRate: 0.1,
        serviceTimeMs: { mean: 1_000, p95: 3_000 },
      }),
    ];
    const result = recommend({ history: snapshots, queue: { completionRate: 0 } });
    expect(result.terms.serviceTimeMs).toBeGreaterThan(3_900);
    expect(result.terms.serviceTimeMs).toBeLessThan(4_000);
  });

  it('ignores history older than its rate window', () => {
    // Jobs took 10 s three minutes ago, outside the 2-minute window; 1 s since.
    const slow = { mean: 10_000, p95: 30_000 };
    const old = history(10, 2_000, NOW - 180_000, () => ({
      completionRate: 5,
      serviceTimeMs: slow,
    }));
    const recent = history(30, 2_000, NOW, () => ({
      completionRate: 5,
      serviceTimeMs: exponential1s,
    }));
    const result = recommend({ history: [...old, ...recent] });
    expect(result.terms.serviceTimeMs).toBe(1_000);
  });

  it('rejects options outside its schema, naming them', () => {
    expect(() => createStrategy('predictive', { backlogBudget: 2 })).toThrow(/backlogBudget/);
    expect(() => createStrategy('predictive', { unknownOption: 1 })).toThrow(/unknownOption/);
  });
});

describe('predictive: bursts shorter than the SLO', () => {
  it('sizes a one-tick burst by the work it brings over the SLO period, not by its peak', () => {
    const input = {
      bounds: { min: 0, max: 200 },
      history: steadyHistory(() => 5),
      queue: { arrivalRate: 60, completionRate: 5, serviceTimeMs: exponential1s, pending: 100 },
      workers: { running: 6 },
    };
    const smoothed = recommend(input);
    const peak = recommend({ ...input, slo: { pickupMs: 3_000, percentile: 95 } });
    // Mean of the last 30 s: (2 s x 60 + 28 s x 5) / 30 s = 8.7 jobs/s; 100 pending.
    expect(smoothed.workers).toBeGreaterThan(6);
    expect(smoothed.workers).toBeLessThan(peak.workers / 2);
    expect(smoothed.terms.arrivalRate).toBe(60);
  });
});

describe('predictive: a drained, quiet queue', () => {
  const TICK = 2_000;
  /** `busyTicks` ticks at `rate(offset)` then `quietTicks` with nothing pending or arriving. */
  function afterDrain(rate: (offsetMs: number) => number, quietTicks: number) {
    // 150 snapshots, the last one at NOW; `offset` relative to NOW.
    const snapshots = history(150, TICK, NOW + TICK, (shifted) => {
      const offset = shifted + TICK;
      const quiet = offset > -quietTicks * TICK || rate(offset) === 0;
      return quiet
        ? { arrivalRate: 0, completionRate: 0, pending: 0, serviceTimeMs: exponential1s }
        : {
            arrivalRate: rate(offset),
            completionRate: rate(offset),
            pending: 3,
            active: 4,
            serviceTimeMs: exponential1s,
          };
    });
    return recommend({
      bounds: { min: 0, max: 40 },
      history: snapshots.slice(0, -1),
      queue: { ...snapshots.at(-1), active: 1 },
      workers: { running: 8 },
    });
  }

  it('keeps only the busy workers two ticks after the queue drained with no arrivals', () => {
    const released = afterDrain(() => 4, 2);
    expect(released.workers).toBe(1); // the one job still running
    expect(released.reason).toMatch(/^drained and quiet: nothing pending and no arrivals for 4s/);
    expect(released.terms.quietForMs).toBe(4_000);
    const early = afterDrain(() => 4, 1);
    expect(early.reason).not.toMatch(/drained and quiet/);
  });

  it('does not release inside a gap no longer than the gaps its periodic bursts showed', () => {
    // 10 s at 30 jobs/s, then 20 s with nothing, every 30 s; the last burst ends as the quiet starts.
    const periodic = (quietTicks: number) => (offsetMs: number) => {
      const sinceEndMs = -offsetMs - quietTicks * TICK;
      return sinceEndMs >= 0 && sinceEndMs % 30_000 < 10_000 ? 30 : 0;
    };
    for (const quietTicks of [2, 5, 10]) {
      const inGap = afterDrain(periodic(quietTicks), quietTicks);
      expect(inGap.reason).not.toMatch(/drained and quiet/);
    }
    // Quiet for longer than any gap of the last 5 minutes (20 s): the bursts have stopped.
    const stopped = afterDrain(periodic(11), 11);
    expect(stopped.terms.quietForMs).toBe(22_000);
    expect(stopped.reason).toMatch(/drained and quiet/);
    expect(stopped.terms.longestQuietGapMs).toBe(20_000);
  });

  it('can be switched off', () => {
    const result = createStrategy('predictive', { quietAfterTicks: null }).recommend(
      context({ now: NOW, queue: { pending: 0, arrivalRate: 0 } }),
    );
    expect(result.reason).not.toMatch(/drained and quiet/);
  });
});
