/**
 * The allocator's rules one at a time, each on the smallest host that shows it: the order of
 * urgency, what a hold and a first slot are, and the checks on its inputs. Written from the
 * mutants Stryker found surviving (bench/RESULTS.md, "Mutation testing").
 */
import { isQscaleError } from '@qscale/contracts';
import { describe, expect, it } from 'vitest';
import { busy, byQueue, entry, idle, T, waiting } from '../test/allocation.js';
import { createHostAllocator } from './allocator.js';

function errorOf(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('host allocator: inputs', () => {
  it('refuses a negative or non-numeric cooldown, accepts 0', () => {
    for (const cooldownMs of [-1, Number.NaN]) {
      const error = errorOf(() => createHostAllocator({ cooldownMs }));
      expect(isQscaleError(error, 'POLICY_CONFIG_INVALID')).toBe(true);
      expect((error as Error).message).toContain('allocator cooldownMs must be a number >= 0');
    }
    expect(() => createHostAllocator({ cooldownMs: 0 })).not.toThrow();
  });

  it('refuses a negative or fractional host size, accepts 0 (every queue keeps its minimum)', () => {
    const allocator = createHostAllocator();
    for (const maxWorkers of [-1, 1.5]) {
      const error = errorOf(() => allocator.allocate([busy('a', 1, 2)], { now: T, maxWorkers }));
      expect(isQscaleError(error, 'POLICY_CONFIG_INVALID')).toBe(true);
      expect((error as Error).message).toContain(`got ${maxWorkers}`);
    }
    const none = allocator.allocate([busy('a', 1, 2)], { now: T, maxWorkers: 0 });
    expect(byQueue(none)).toEqual({ a: 0 });
  });
});

describe('host allocator: order of urgency', () => {
  it('a queue exactly at its SLO counts as breached, before a heavier priority below it', () => {
    // at: 15 of 15 s (urgency 1). heavy: 14 of 15 s x priority 5 = 4.7, but not breached.
    const decisions = createHostAllocator().allocate(
      [waiting('heavy', 0, 1, 1, 14_000), waiting('at', 0, 1, 1, 15_000)],
      { now: T, maxWorkers: 1, queues: { heavy: { priority: 5 } } },
    );
    expect(byQueue(decisions)).toEqual({ heavy: 0, at: 1 });
  });

  it('below the SLO, urgency is multiplied by priority', () => {
    // a: 12 of 15 s = 0.8. b: 7.5 of 15 s = 0.5 x priority 3 = 1.5.
    const decisions = createHostAllocator().allocate(
      [waiting('a', 0, 1, 1, 12_000), waiting('b', 0, 1, 1, 7_500)],
      { now: T, maxWorkers: 1, queues: { b: { priority: 3 } } },
    );
    expect(byQueue(decisions)).toEqual({ a: 0, b: 1 });
  });

  it('at equal urgency the queue with fewer workers comes first, then the name', () => {
    // a had a worker whose grant expired long ago; z has none: z gets the only slot.
    const fewer = createHostAllocator().allocate(
      [waiting('a', 1, 2, 1, 3_000), waiting('z', 0, 1, 1, 3_000)],
      { now: T, maxWorkers: 1 },
    );
    expect(byQueue(fewer)).toEqual({ a: 0, z: 1 });
    // Everything equal: the name decides, whatever the order of the entries.
    for (const order of [
      ['b', 'a'],
      ['a', 'b'],
    ]) {
      const named = createHostAllocator().allocate(
        order.map((name) => waiting(name, 0, 1, 1, 3_000)),
        { now: T, maxWorkers: 1 },
      );
      expect(byQueue(named)).toEqual({ a: 1, b: 0 });
    }
  });
});

describe('host allocator: holds, first slots and shares', () => {
  it('a queue whose figures are missing keeps its workers and goes first when the host shrinks', () => {
    const allocator = createHostAllocator({ cooldownMs: 30_000 });
    // Both got two slots at T.
    allocator.allocate([busy('a-busy', 0, 2), busy('blind', 0, 2)], { now: T, maxWorkers: 4 });
    // A second later the host holds 2; blind cannot be read (pending unknown): it keeps its 2,
    // although a-busy would come first by name, and nothing waits in either.
    const shrunk = allocator.allocate(
      [busy('a-busy', 2, 2), entry('blind', 2, 2, { pending: null, active: null })],
      { now: T + 1_000, maxWorkers: 2 },
    );
    expect(byQueue(shrunk)).toEqual({ 'a-busy': 0, blind: 2 });
  });

  it('running jobs unknown (Sidekiq, list empty): idle only when nothing waits and none arrived', () => {
    // Sidekiq's `active` is null whenever its list is empty; its workers still hold 2 slots.
    const sidekiq = (arrivalRate: number | null) =>
      entry('sidekiq', 2, 2, { pending: 0, active: null, arrivalRate });
    const drained = createHostAllocator().allocate([sidekiq(0), waiting('w', 0, 2, 5, 10_000)], {
      now: T,
      maxWorkers: 2,
    });
    expect(byQueue(drained)).toEqual({ sidekiq: 0, w: 2 });
    expect(drained[0]?.edits[0]?.why).toContain('sidekiq is idle');
    // Jobs still arriving (taken as fast as they come), or a rate not measured yet: its
    // running jobs may be many, so it keeps its slots as a queue with missing figures does.
    for (const rate of [0.5, null]) {
      const decisions = createHostAllocator().allocate(
        [sidekiq(rate), waiting('w', 0, 2, 5, 10_000)],
        { now: T, maxWorkers: 2 },
      );
      expect(byQueue(decisions)).toEqual({ sidekiq: 2, w: 0 });
    }
  });

  it('a queue with a read error is not idle: it keeps its slots against a waiting queue', () => {
    const decisions = createHostAllocator().allocate(
      [
        entry('broken', 2, 2, {
          pending: 0,
          active: 0,
          error: { code: 'READ_FAILED', message: 'connection reset' },
        }),
        waiting('w', 0, 2, 5, 10_000),
      ],
      { now: T, maxWorkers: 2 },
    );
    expect(byQueue(decisions)).toEqual({ broken: 2, w: 0 });
  });

  it('no first slot for a queue whose decision is 0, however long its jobs wait', () => {
    const decisions = createHostAllocator().allocate(
      [waiting('held-at-zero', 0, 0, 5, 60_000), busy('b', 0, 2)],
      { now: T, maxWorkers: 1 },
    );
    expect(byQueue(decisions)).toEqual({ 'held-at-zero': 0, b: 1 });
  });

  it('a queue given a first slot but fewer than it wants is told so', () => {
    const [decision] = createHostAllocator().allocate([waiting('a', 0, 3, 5, 10_000)], {
      now: T,
      maxWorkers: 1,
    });
    expect(decision?.to).toBe(1);
    expect(decision?.edits[0]?.why).toContain('it got a first slot for its waiting jobs');
  });

  it('shares what is left above the minimums by unmet demand (want - given)', () => {
    // Minimums 1 + 1; 2 slots left. Unmet: a 6 - 1 = 5, b 2 - 1 = 1: a 1.67, b 0.33, and the
    // largest remainder (a) takes the last slot.
    const decisions = createHostAllocator().allocate([busy('a', 0, 6), busy('b', 0, 2)], {
      now: T,
      maxWorkers: 4,
      queues: { a: { min: 1 }, b: { min: 1 } },
    });
    expect(byQueue(decisions)).toEqual({ a: 3, b: 1 });
  });

  it('forgets a queue that left: back within the cooldown, it holds nothing', () => {
    const allocator = createHostAllocator({ cooldownMs: 30_000 });
    allocator.allocate([busy('a', 0, 2)], { now: T, maxWorkers: 2 });
    allocator.allocate([idle('other', 0)], { now: T + 1_000, maxWorkers: 2 });
    const back = allocator.allocate([busy('a', 2, 2), waiting('b', 0, 1, 1, 5_000)], {
      now: T + 2_000,
      maxWorkers: 2,
    });
    expect(byQueue(back)).toEqual({ a: 1, b: 1 });
  });

  it('names at most three takers, then how many more', () => {
    const takers = ['t1', 't2', 't3', 't4', 't5'].map((name) => waiting(name, 0, 1, 2, 9_000));
    const decisions = createHostAllocator().allocate([idle('a-idle', 5), ...takers], {
      now: T,
      maxWorkers: 5,
    });
    const why = decisions[0]?.edits[0]?.why ?? '';
    expect(decisions[0]?.to).toBe(0);
    expect(why).toContain('t1 (+1: 2 waiting, oldest 9s of its 15s SLO, no worker)');
    expect(why).toContain(' and 2 more');
    expect(why).not.toContain('t4 (+1');
  });
});
