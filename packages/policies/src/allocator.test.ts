import { isQscaleError } from '@qscale/contracts';
import { describe, expect, it } from 'vitest';
import { busy, byQueue, entry, idle, T, waiting } from '../test/allocation.js';
import { type ModelQueue, poisson, random, runContention } from '../test/contention.js';
import { createHostAllocator } from './allocator.js';

describe('host allocator: one tick', () => {
  it('passes the decisions through unchanged when they fit', () => {
    const entries = [busy('a', 1, 3), idle('b', 2)];
    const decisions = createHostAllocator().allocate(entries, { now: T, maxWorkers: 5 });
    expect(decisions).toEqual(entries.map((e) => e.decision));
  });

  it('an idle queue gives its slot to a queue with waiting jobs, and the edit says who and why', () => {
    const decisions = createHostAllocator().allocate(
      [idle('a-idle', 1), waiting('z-waiting', 0, 1, 3, 4_000)],
      { now: T, maxWorkers: 1, limiter: 'config' },
    );
    expect(byQueue(decisions)).toEqual({ 'a-idle': 0, 'z-waiting': 1 });
    const cut = decisions.find((d) => d.queue === 'a-idle');
    expect(cut?.edits).toHaveLength(1);
    expect(cut?.edits[0]).toMatchObject({ policy: 'fair-share', from: 1, to: 0 });
    expect(cut?.edits[0]?.why).toContain('the host holds 1 workers (limited by config)');
    expect(cut?.edits[0]?.why).toContain('a-idle is idle');
    expect(cut?.edits[0]?.why).toContain('z-waiting (+1: 3 waiting, oldest 4s of its 15s SLO');
  });

  it('serves waiting queues by urgency (oldest pending age / SLO), not by name', () => {
    const decisions = createHostAllocator().allocate(
      [
        waiting('a-fresh', 0, 1, 5, 1_000),
        waiting('m-late', 0, 1, 1, 9_000),
        entry(
          'z-breached',
          0,
          1,
          { pending: 1, oldestPendingAgeMs: 20_000 },
          { slo: { pickupMs: 60_000, percentile: 95 } },
        ),
      ],
      { now: T, maxWorkers: 2 },
    );
    // m-late: 9 of 15 s (0.6) beats z-breached's 20 of 60 s (0.33) and a-fresh's 1 of 15 s.
    expect(byQueue(decisions)).toEqual({ 'a-fresh': 0, 'm-late': 1, 'z-breached': 1 });
    expect(decisions[0]?.edits[0]?.why).toContain('its oldest job has waited 1s of its 15s SLO');
  });

  it('a queue at or past its SLO comes before a higher-priority queue that is not', () => {
    const decisions = createHostAllocator().allocate(
      [waiting('vip', 0, 1, 1, 7_000), waiting('late', 0, 1, 1, 15_000)],
      { now: T, maxWorkers: 1, queues: { vip: { priority: 4 } } },
    );
    expect(byQueue(decisions)).toEqual({ vip: 0, late: 1 });
  });

  it('holds a granted slot for the cooldown against a more urgent queue, then rotates', () => {
    const allocator = createHostAllocator({ cooldownMs: 30_000 });
    const options = (now: number) => ({ now, maxWorkers: 1 });
    // a gets the slot at T.
    const first = allocator.allocate([waiting('a', 0, 1, 4, 2_000), idle('b', 0)], options(T));
    expect(byQueue(first)).toEqual({ a: 1, b: 0 });
    // 10 s later b breaches; a still works through its backlog: a keeps its slot.
    const at = T + 10_000;
    const held = allocator.allocate(
      [
        { ...waiting('a', 1, 1, 2, 3_000), ctx: { ...waiting('a', 1, 1, 2, 3_000).ctx, now: at } },
        waiting('b', 0, 1, 1, 16_000),
      ],
      options(at),
    );
    expect(byQueue(held)).toEqual({ a: 1, b: 0 });
    expect(held[1]?.edits[0]?.why).toContain(
      'queues given a slot within their cooldown keep theirs',
    );
    // Past the cooldown, the more urgent queue takes it.
    const later = T + 30_000;
    const rotated = allocator.allocate(
      [waiting('a', 1, 1, 2, 3_000), waiting('b', 0, 1, 1, 36_000)],
      options(later),
    );
    expect(byQueue(rotated)).toEqual({ a: 0, b: 1 });
    expect(rotated[0]?.edits[0]?.why).toContain('b (+1: 1 waiting, oldest 36s of its 15s SLO');
  });

  it('holds the slot it gave within the cooldown; an older slot goes back into the share', () => {
    const allocator = createHostAllocator({ cooldownMs: 30_000 });
    allocator.allocate([busy('a', 0, 1)], { now: T, maxWorkers: 2 });
    allocator.allocate([busy('a', 1, 2)], { now: T + 40_000, maxWorkers: 2 });
    // 10 s after a's second slot, b waits: a keeps the new slot, its first goes to b.
    const decisions = allocator.allocate([busy('a', 2), waiting('b', 0, 1, 3, 14_000)], {
      now: T + 50_000,
      maxWorkers: 2,
    });
    expect(byQueue(decisions)).toEqual({ a: 1, b: 1 });
    expect(decisions[0]?.edits[0]?.why).toContain(
      'it keeps the 1 slot given within its 30s cooldown',
    );
  });

  it('an idle queue loses its hold at once; the one idle longest gives up its slot first', () => {
    const allocator = createHostAllocator({ cooldownMs: 30_000 });
    allocator.allocate([busy('a', 0, 1), busy('b', 0, 1)], { now: T, maxWorkers: 2 });
    allocator.allocate([idle('a', 1), busy('b', 1)], { now: T + 2_000, maxWorkers: 2 });
    const decisions = allocator.allocate([idle('a', 1), idle('b', 1), waiting('c', 0, 1, 1, 500)], {
      now: T + 4_000,
      maxWorkers: 2,
    });
    expect(byQueue(decisions)).toEqual({ a: 0, b: 1, c: 1 });
    expect(decisions[0]?.edits[0]?.why).toContain('a is idle for 4s');
  });

  it('never takes the workers of a queue whose metrics are missing', () => {
    const decisions = createHostAllocator().allocate(
      [
        entry('unread', 2, 2, {
          pending: null,
          error: { code: 'REDIS_UNREACHABLE', message: 'down' },
        }),
        waiting('w', 0, 2, 9, 14_000),
      ],
      { now: T, maxWorkers: 3 },
    );
    expect(byQueue(decisions)).toEqual({ unread: 2, w: 1 });
  });

  it('guarantees minimums, then shares the rest by priority x unmet demand', () => {
    const decisions = createHostAllocator().allocate(
      [busy('a', 4, 10), busy('b', 4, 10), busy('c', 0, 4)],
      { now: T, maxWorkers: 12, queues: { a: { min: 2, priority: 3 }, c: { min: 1 } } },
    );
    // Min 2 + 0 + 1, then 9 by 3 x 8 : 1 x 10 : 1 x 3 (largest remainder) = 6 : 2 : 1.
    expect(byQueue(decisions)).toEqual({ a: 8, b: 2, c: 2 });
    expect(decisions[0]?.edits[0]?.why).toContain('x priority 3');
  });

  it('does not depend on the order of the queues', () => {
    const entries = [
      waiting('a', 0, 1, 1, 1_000),
      idle('b', 1),
      waiting('c', 0, 1, 2, 3_000),
      busy('d', 1),
    ];
    const forward = createHostAllocator().allocate(entries, { now: T, maxWorkers: 2 });
    const backward = createHostAllocator().allocate([...entries].reverse(), {
      now: T,
      maxWorkers: 2,
    });
    expect(byQueue(forward)).toEqual(byQueue(backward));
  });

  it('rejects a fractional maxWorkers and two decisions for one queue', () => {
    const allocator = createHostAllocator();
    const codeOf = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        return isQscaleError(error, 'POLICY_CONFIG_INVALID');
      }
      return false;
    };
    expect(codeOf(() => allocator.allocate([idle('a', 0)], { now: T, maxWorkers: 1.5 }))).toBe(
      true,
    );
    expect(
      codeOf(() => allocator.allocate([idle('a', 0), idle('a', 1)], { now: T, maxWorkers: 2 })),
    ).toBe(true);
  });
});

// Over simulated ticks (test/contention.ts): the patterns of issue 17. Each also runs through
// the old stateless fair share, which fails the same checks.

const name = (i: number) => `q${String(i).padStart(2, '0')}`;

/** 12 queues, each a burst of 4 one-second jobs every 30 s, staggered by 2.5 s. */
function bursts(): ModelQueue[] {
  return Array.from({ length: 12 }, (_, i) => {
    const arrivals: number[] = [];
    for (let at = i * 2_500; at < 80_000; at += 30_000)
      for (let j = 0; j < 4; j++) arrivals.push(at + j * 100);
    return { name: name(i), arrivals, serviceMs: 1_000, sloMs: 15_000 };
  });
}

/** 12 queues, each 0.3 one-second jobs/s (3.6 busy workers of the 6 slots). */
function steady(): ModelQueue[] {
  const next = random(5);
  return Array.from({ length: 12 }, (_, i) => ({
    name: name(i),
    arrivals: poisson(next, 0.3, 0, 80_000),
    serviceMs: 1_000,
    sloMs: 15_000,
  }));
}

/** 50 queues, 10 at 0.25 and 40 at 0.08 two-second jobs/s for 10 minutes (about 11 busy workers). */
function fifty(): ModelQueue[] {
  const next = random(17);
  return Array.from({ length: 50 }, (_, i) => ({
    name: name(i),
    arrivals: poisson(next, i % 5 === 0 ? 0.25 : 0.08, 0, 600_000),
    serviceMs: 2_000,
    sloMs: 15_000,
  }));
}

const twelveOnSix = { maxWorkers: 6, durationMs: 90_000, tickMs: 2_000, spawnMs: 1_000 };

describe('host allocator over ticks: 12 queues wanting one worker each, 6 slots', () => {
  for (const [workload, queues, memoryMs] of [
    ['bursts', bursts, 0],
    ['steady 0.3 jobs/s', steady, 20_000],
  ] as const) {
    it(`${workload}: no reversal of a queue with work within the cooldown, every job within its SLO`, () => {
      const run = runContention({
        ...twelveOnSix,
        queues: queues(),
        cooldownMs: 10_000,
        memoryMs,
        allocation: 'allocator',
      });
      expect(run.reversalsWithWork).toEqual([]);
      // A down within the cooldown of an up is only ever an idle queue freeing its slot.
      for (const reversal of run.reversals) {
        expect(reversal.edits.at(-1)?.why).toContain(`${reversal.queue} is idle`);
      }
      expect(run.neverServed).toEqual([]);
      expect(run.leftBehind).toBe(0);
      for (const [queue, waitMs] of Object.entries(run.maxWaitMs)) {
        expect({ queue, within: waitMs <= 15_000 }).toEqual({ queue, within: true });
      }
      expect(run.peakWorkers).toBeLessThanOrEqual(6);
    });
  }

  it('the old stateless fair share fails these checks (reversals with work, or starvation)', () => {
    const burstsRun = runContention({
      ...twelveOnSix,
      queues: bursts(),
      cooldownMs: 10_000,
      memoryMs: 0,
      allocation: 'stateless',
    });
    expect(burstsRun.reversalsWithWork.length).toBeGreaterThan(0);
    const steadyRun = runContention({
      ...twelveOnSix,
      queues: steady(),
      cooldownMs: 10_000,
      memoryMs: 20_000,
      allocation: 'stateless',
    });
    expect(steadyRun.leftBehind).toBeGreaterThan(0);
  });
});

describe('host allocator over ticks: 50 queues on 24 slots (the starvation pattern)', () => {
  const soak = (allocation: 'allocator' | 'stateless') =>
    runContention({
      queues: fifty(),
      maxWorkers: 24,
      // Producers stop at 10 minutes; two more minutes to drain.
      durationMs: 720_000,
      tickMs: 2_000,
      spawnMs: 1_000,
      cooldownMs: 30_000,
      memoryMs: 60_000,
      allocation,
    });

  it('no queue with waiting jobs goes without a slot while an idle queue keeps one; nothing left behind', () => {
    const run = soak('allocator');
    expect(Math.max(0, ...Object.values(run.starvedWhileIdleHeldMs))).toBeLessThanOrEqual(15_000);
    expect(run.neverServed).toEqual([]);
    expect(run.leftBehind).toBe(0);
    expect(Math.max(...Object.values(run.maxWaitMs))).toBeLessThanOrEqual(15_000);
    expect(run.reversalsWithWork).toEqual([]);
    expect(run.peakWorkers).toBeLessThanOrEqual(24);
  });

  it('the old stateless fair share starves queues behind idle ones and leaves jobs behind', () => {
    const run = soak('stateless');
    expect(Math.max(0, ...Object.values(run.starvedWhileIdleHeldMs))).toBeGreaterThan(120_000);
    expect(run.leftBehind).toBeGreaterThan(0);
  });
});
