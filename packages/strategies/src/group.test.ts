import type {
  GroupDiscipline,
  GroupScalingContext,
  QueueSnapshot,
  ScalingContext,
} from '@qscale/contracts';
import { isQscaleError } from '@qscale/contracts';
import { context, history } from '@qscale/testkit';
import { describe, expect, it } from 'vitest';
import { createStrategy } from './create.js';
import { createGroupStrategy } from './group.js';

const NOW = 1_000_000;
const TICK = 2_000;
const POOL = { running: 6, starting: 0, stopping: 0, concurrency: 1 };
const BOUNDS = { min: 0, max: 40 };

interface MemberLoad {
  queue: string;
  rate: number;
  serviceMs: number | null;
  pickupMs: number;
  pending?: number;
  oldestMs?: number;
}

/** A member with a steady rate over the last minute (service time unknown when null). */
function member(load: MemberLoad): ScalingContext {
  const figures = (): Partial<QueueSnapshot> => ({
    queue: load.queue,
    arrivalRate: load.rate,
    completionRate: load.rate,
    active: load.serviceMs === null ? null : Math.round((load.rate * load.serviceMs) / 1_000),
    serviceTimeMs:
      load.serviceMs === null ? null : { mean: load.serviceMs, p95: load.serviceMs * 3 },
  });
  return context({
    now: NOW,
    tickMs: TICK,
    bounds: BOUNDS,
    spawnLatencyMs: 2_000,
    workers: POOL,
    slo: { pickupMs: load.pickupMs, percentile: 95 },
    history: history(30, TICK, NOW, figures),
    queue: {
      ...figures(),
      pending: load.pending ?? 0,
      oldestPendingAgeMs: load.oldestMs ?? 0,
    },
  });
}

function groupContext(discipline: GroupDiscipline, loads: MemberLoad[]): GroupScalingContext {
  return {
    now: NOW,
    group: 'web',
    discipline,
    members: loads.map(member),
    workers: POOL,
    bounds: BOUNDS,
    spawnLatencyMs: 2_000,
  };
}

function recommend(strategy: string, discipline: GroupDiscipline, loads: MemberLoad[]) {
  const group = createGroupStrategy(
    strategy,
    {},
    discipline,
    loads.map((l) => l.queue),
  );
  return group.recommend(groupContext(discipline, loads));
}

const HIGH: MemberLoad = { queue: 'high', rate: 2, serviceMs: 1_000, pickupMs: 5_000 };
const DEFAULT: MemberLoad = { queue: 'default', rate: 8, serviceMs: 1_000, pickupMs: 30_000 };
const PRIORITY: GroupDiscipline = { kind: 'priority' };

describe('createGroupStrategy: one member', () => {
  for (const strategy of ['predictive', 'erlang-drain', 'littles-law', 'backlog']) {
    for (const discipline of [
      PRIORITY,
      { kind: 'weighted', weights: [3] },
      { kind: 'round-robin' },
    ] as GroupDiscipline[]) {
      it(`is the plain ${strategy} strategy (${discipline.kind})`, () => {
        const load = { ...DEFAULT, pending: 40, oldestMs: 8_000 };
        const plain = createStrategy(strategy).recommend(member(load));
        const grouped = recommend(strategy, discipline, [load]);
        expect(grouped.workers).toBe(plain.workers);
        expect(grouped.members[0]?.workers).toBe(plain.workers);
        expect(grouped.members[0]?.terms.strategyWorkers).toBe(plain.workers);
      });
    }
  }
});

describe('createGroupStrategy: priority (Laravel --queue=high,default, RQ)', () => {
  const result = recommend('erlang-drain', PRIORITY, [HIGH, DEFAULT]);
  const [high, low] = result.members;

  it('needs fewer workers than two separate pools', () => {
    const separate =
      createStrategy('erlang-drain').recommend(member(HIGH)).workers +
      createStrategy('erlang-drain').recommend(member(DEFAULT)).workers;
    expect(result.workers).toBeLessThan(separate);
    expect(result.workers).toBe(Math.max(high?.workers ?? 0, low?.workers ?? 0));
  });

  it('records each queue’s share: the low queue gets what the high one leaves', () => {
    expect(high?.terms.availableSlots).toBe(result.workers);
    expect(low?.terms.availableSlots).toBeCloseTo(result.workers - 2, 9);
    expect(low?.terms.loadErlangs).toBeCloseTo(8, 9);
    expect(result.terms['need:high']).toBe(high?.workers);
    expect(result.terms['need:default']).toBe(low?.workers);
    expect(low?.reason).toMatch(/priority 2 of 2, behind 2 busy slots/);
    expect(result.reason).toMatch(/set by queue/);
  });

  it('predicts every member within its percentile at the pool size it recommends', () => {
    for (const m of result.members) expect(m.terms.predictedMiss).toBeLessThanOrEqual(0.05);
  });

  it('puts a tight-SLO queue last at a cost: it then needs more of the pool', () => {
    const tightLast = recommend('erlang-drain', PRIORITY, [
      { ...DEFAULT, pickupMs: 30_000 },
      { ...HIGH, pickupMs: 1_000 },
    ]);
    const tightFirst = recommend('erlang-drain', PRIORITY, [
      { ...HIGH, pickupMs: 1_000 },
      { ...DEFAULT, pickupMs: 30_000 },
    ]);
    expect(tightLast.members[1]?.terms.pooledSteady).toBeGreaterThan(
      tightFirst.members[0]?.terms.pooledSteady ?? 0,
    );
  });

  it('adds the cost of sharing to what a member’s own strategy asks (here a backlog drain)', () => {
    const backlog = recommend('erlang-drain', PRIORITY, [HIGH, { ...DEFAULT, pending: 300 }]);
    const low2 = backlog.members[1];
    const alone = createStrategy('erlang-drain').recommend(member({ ...DEFAULT, pending: 300 }));
    expect(low2?.terms.strategyWorkers).toBe(alone.workers);
    expect(low2?.terms.sharingCost).toBe(
      (low2?.terms.pooledSteady ?? 0) - (low2?.terms.ownSteady ?? 0),
    );
    expect(low2?.terms.sharingCost).toBeGreaterThan(0);
    expect(low2?.workers).toBe(alone.workers + (low2?.terms.sharingCost ?? 0));
    expect(low2?.reason).toMatch(/plus 10 to drain 300 pending/);
  });
});

describe('createGroupStrategy: weighted (Sidekiq) and round-robin (Celery)', () => {
  it('needs fewer workers for a tight queue when it carries more of the weight', () => {
    const loads = [
      { ...HIGH, rate: 6, pickupMs: 2_000 },
      { ...DEFAULT, rate: 6 },
    ];
    const heavy = recommend('erlang-drain', { kind: 'weighted', weights: [9, 1] }, loads);
    const light = recommend('erlang-drain', { kind: 'weighted', weights: [1, 9] }, loads);
    expect(heavy.members[0]?.terms.share).toBeCloseTo(0.9, 9);
    expect(heavy.members[0]?.workers).toBeLessThan(light.members[0]?.workers ?? 0);
    expect(heavy.workers).toBeLessThanOrEqual(light.workers);
  });

  it('takes each member’s own steady state from the plain pool, whatever its weight', () => {
    const grouped = recommend('erlang-drain', { kind: 'weighted', weights: [5, 1] }, [
      HIGH,
      DEFAULT,
    ]);
    for (const [k, load] of [HIGH, DEFAULT].entries()) {
      const alone = recommend('erlang-drain', PRIORITY, [load]);
      expect(grouped.members[k]?.terms.ownSteady).toBe(alone.members[0]?.terms.pooledSteady);
    }
  });

  it('treats round-robin as equal weights', () => {
    const loads = [HIGH, DEFAULT];
    const rr = recommend('erlang-drain', { kind: 'round-robin' }, loads);
    const equal = recommend('erlang-drain', { kind: 'weighted', weights: [5, 5] }, loads);
    expect(rr.members.map((m) => m.workers)).toEqual(equal.members.map((m) => m.workers));
    expect(rr.members[0]?.terms.share).toBe(0.5);
  });

  it('gives a backlogged queue the slots a light queue does not use (work-conserving)', () => {
    const result = recommend('erlang-drain', { kind: 'weighted', weights: [1, 1] }, [
      { ...HIGH, rate: 0.5 },
      DEFAULT,
    ]);
    // default's guaranteed half would be N / 2; it gets N - 0.5 (all high leaves).
    expect(result.members[1]?.terms.availableSlots).toBeCloseTo(result.workers - 0.5, 9);
  });

  it('never sizes the shared pool above the separate pools together (the model is generous)', () => {
    // A tight queue with a small weight: the sharing model asks for more than both pools.
    const loads = [
      { ...HIGH, rate: 0.5, serviceMs: 1_000, pickupMs: 300 },
      { ...DEFAULT, rate: 8, pickupMs: 30_000 },
    ];
    const grouped = recommend('erlang-drain', { kind: 'weighted', weights: [1, 20] }, loads);
    const high = grouped.members[0]?.terms ?? {};
    const separate = (grouped.members.map((m) => m.terms.ownSteady ?? 0) as number[]).reduce(
      (a, b) => a + b,
      0,
    );
    expect(high.separateSteady).toBe(separate);
    expect(high.pooledModelled).toBeGreaterThan(separate);
    expect(high.pooledSteady).toBe(separate);
    expect(high.sharingCost).toBe(separate - (high.ownSteady ?? 0));
  });

  it('needs fewer workers than separate pools for a Sidekiq-style pair', () => {
    const loads = [
      { ...HIGH, rate: 2, pickupMs: 2_000 },
      { ...DEFAULT, rate: 6, pickupMs: 20_000 },
    ];
    const grouped = recommend('erlang-drain', { kind: 'weighted', weights: [3, 1] }, loads);
    const separate = loads
      .map((l) => createStrategy('erlang-drain').recommend(member(l)).workers)
      .reduce((a, b) => a + b, 0);
    expect(grouped.workers).toBeLessThan(separate);
  });
});

describe('createGroupStrategy: edge cases', () => {
  it('a member with no arrivals and nothing pending needs nothing; the other sets the pool', () => {
    const idle: MemberLoad = { queue: 'idle', rate: 0, serviceMs: null, pickupMs: 5_000 };
    const result = recommend('erlang-drain', PRIORITY, [idle, DEFAULT]);
    const alone = recommend('erlang-drain', PRIORITY, [DEFAULT]);
    expect(result.members[0]?.workers).toBe(0);
    expect(result.workers).toBe(alone.workers);
  });

  it('no arrivals at all: zero workers, said so', () => {
    const result = recommend('predictive', PRIORITY, [
      { ...HIGH, rate: 0 },
      { ...DEFAULT, rate: 0 },
    ]);
    expect(result.workers).toBe(0);
    expect(result.reason).toMatch(/no workers needed/);
  });

  it('a member whose service time is unknown is sized with the fallback and says so', () => {
    const unknown: MemberLoad = { queue: 'reports', rate: 1, serviceMs: null, pickupMs: 30_000 };
    const result = recommend('erlang-drain', PRIORITY, [HIGH, unknown]);
    const reports = result.members[1];
    expect(reports?.terms.serviceTimeKnown).toBe(0);
    expect(reports?.terms.serviceTimeMs).toBe(2_000);
    expect(reports?.terms.loadErlangs).toBeCloseTo(2, 9);
    expect(reports?.reason).toMatch(/assumed: no service time seen/);
    expect(result.members[0]?.terms.serviceTimeKnown).toBe(1);
  });

  it('keeps each member’s strategy state apart (one instance per member)', () => {
    // hpa keeps its last sync time: a shared instance would hold the second member "between
    // syncs" because the first member's call synced it at the same instant.
    const group = createGroupStrategy('hpa', {}, PRIORITY, ['high', 'default']);
    const busy = { ...DEFAULT, pending: 400, oldestMs: 25_000 };
    const first = group.recommend(groupContext(PRIORITY, [{ ...HIGH, pending: 50 }, busy]));
    for (const m of first.members) {
      expect(m.reason, m.queue).not.toMatch(/between syncs/);
      expect(m.terms.held, m.queue).toBeUndefined();
    }
    // Its own state does hold it on a second call at the same instant.
    const again = group.recommend(groupContext(PRIORITY, [{ ...HIGH, pending: 50 }, busy]));
    for (const m of again.members) expect(m.terms.held, m.queue).toBe(1);
  });

  it('is deterministic: the same context gives the same answer', () => {
    const group = createGroupStrategy('predictive', {}, PRIORITY, ['high', 'default']);
    const ctx = groupContext(PRIORITY, [HIGH, { ...DEFAULT, pending: 50, oldestMs: 9_000 }]);
    expect(group.recommend(ctx)).toEqual(group.recommend(structuredClone(ctx)));
  });

  it('rejects groups that do not fit together, naming what is wrong', () => {
    const fails = (fn: () => unknown, message: RegExp) => {
      try {
        fn();
        expect.unreachable('should have thrown');
      } catch (error) {
        expect(isQscaleError(error, 'GROUP_INVALID')).toBe(true);
        expect((error as Error).message).toMatch(message);
      }
    };
    fails(() => createGroupStrategy('predictive', {}, PRIORITY, []), /at least one member/);
    fails(() => createGroupStrategy('predictive', {}, PRIORITY, ['a', 'a']), /queue "a" twice/);
    fails(
      () => createGroupStrategy('predictive', {}, { kind: 'weighted', weights: [1] }, ['a', 'b']),
      /has 1 weights, expected one per queue/,
    );
    fails(
      () =>
        createGroupStrategy('predictive', {}, { kind: 'weighted', weights: [1, 0] }, ['a', 'b']),
      /weight of queue "b" must be a positive number, got 0/,
    );
    const group = createGroupStrategy('predictive', {}, PRIORITY, ['default', 'high']);
    fails(
      () => group.recommend(groupContext(PRIORITY, [HIGH, DEFAULT])),
      /members \[high, default\], expected \[default, high\]/,
    );
  });
});
