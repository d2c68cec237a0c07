import type { QueueSnapshot } from '@qscale/contracts';
import { snapshot } from '@qscale/testkit';
import { describe, expect, it } from 'vitest';
import { type DrainInput, fifoDrainSlots } from './drain.js';

const NOW = 1_000_000;

/** 10 s pickup SLO, 1 s jobs, no slot running, instant spawns, 1 s ticks. */
function drain(snapshots: readonly QueueSnapshot[], overrides: Partial<DrainInput> = {}) {
  return fifoDrainSlots({
    snapshots,
    now: NOW,
    pickupMs: 10_000,
    serviceMs: 1_000,
    runningSlots: 0,
    spawnLatencyMs: 0,
    floorMs: 100,
    tickMs: 1_000,
    ...overrides,
  });
}

describe('fifoDrainSlots', () => {
  it('needs nothing without history, and gives the whole SLO as budget', () => {
    expect(drain([])).toEqual({ slots: 0, budgetMs: 10_000 });
  });

  it("with pending unknown, budgets from the oldest job's age", () => {
    const current = snapshot({ at: NOW, pending: null, oldestPendingAgeMs: 3_000 });
    expect(drain([current])).toEqual({ slots: 0, budgetMs: 7_000 });
  });

  it('a lone waiting job with nothing ahead of it needs the slot that runs it, and no more', () => {
    const current = snapshot({ at: NOW, pending: 1, oldestPendingAgeMs: 4_000, arrivalRate: null });
    // Nothing running (a queue at zero workers): one slot, or the job never starts.
    expect(drain([current])).toEqual({ slots: 1, budgetMs: 6_000 });
    // A slot running already takes it: no new one.
    expect(drain([current], { runningSlots: 1 })).toEqual({ slots: 0, budgetMs: 6_000 });
  });

  it("ages the last tick's arrivals from that tick, the rest as old as the oldest", () => {
    // 8 waiting, 4 of them arrived in the last tick (taken 2 s old), the other 4 are 5 s old:
    // the youngest of those has 3 jobs ahead and 5 s left, 3 s of work -> 0.6 slots. Read all
    // as 5 s old, the last would have 7 ahead (1.4 slots).
    const history = [
      snapshot({ at: NOW - 1_000 }),
      snapshot({ at: NOW, pending: 8, oldestPendingAgeMs: 5_000, arrivalRate: 4 }),
    ];
    const result = drain(history);
    expect(result.slots).toBeCloseTo(0.6, 9);
    expect(result.budgetMs).toBe(5_000);
  });

  it('stops at a tick whose arrivals are unknown: what it cannot age is as old as the oldest', () => {
    // The last tick's arrivals are unknown, so the 8 counted a tick before cannot be placed:
    // all 10 are taken 5 s old, the last with 9 ahead -> 1.8 slots.
    const history = [
      snapshot({ at: NOW - 2_000 }),
      snapshot({ at: NOW - 1_000, arrivalRate: 8 }),
      snapshot({ at: NOW, pending: 10, oldestPendingAgeMs: 5_000, arrivalRate: null }),
    ];
    expect(drain(history).slots).toBeCloseTo(1.8, 9);
  });

  it('still sizes for the oldest job when recent arrivals account for every waiting one', () => {
    // 4 arrivals cover the 4 waiting, but the oldest is reported 9.5 s old: with 4 jobs in
    // service (2 s of work ahead of it on average) it needs 2 s / 0.5 s = 4 slots.
    const history = [
      snapshot({ at: NOW - 1_000 }),
      snapshot({ at: NOW, pending: 4, active: 4, oldestPendingAgeMs: 9_500, arrivalRate: 4 }),
    ];
    expect(drain(history)).toEqual({ slots: 4, budgetMs: 500 });
  });
});
