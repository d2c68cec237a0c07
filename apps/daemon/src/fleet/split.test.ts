import { describe, expect, it } from 'vitest';
import type { Assignment, MemberReport } from './membership.js';
import { boundShares, planShares, splitTotal } from './split.js';

const member = (id: string, capacity: number, running: number, applied: number | null = 1) =>
  ({
    id,
    capacity,
    workers: { q: { running, starting: 0, stopping: 0 } },
    applied,
  }) satisfies MemberReport;

const assignment = (shares: Record<string, number>, seq = 1): Assignment => ({
  seq,
  term: 1,
  leader: 'a',
  at: 0,
  totals: { q: Object.values(shares).reduce((sum, n) => sum + n, 0) },
  shares: { q: shares },
});

const sum = (shares: Record<string, number>) => Object.values(shares).reduce((a, b) => a + b, 0);

describe('splitTotal', () => {
  it('spreads a total evenly over hosts of equal room', () => {
    const hosts = ['a', 'b', 'c'].map((id) => ({ id, room: 16, current: 0 }));
    expect(splitTotal(6, hosts)).toEqual({ a: 2, b: 2, c: 2 });
  });

  it('follows each host room (fair share) and never exceeds it', () => {
    const shares = splitTotal(9, [
      { id: 'big', room: 8, current: 0 },
      { id: 'small', room: 1, current: 0 },
    ]);
    expect(shares).toEqual({ big: 8, small: 1 });
    expect(splitTotal(20, [{ id: 'only', room: 5, current: 0 }])).toEqual({ only: 5 });
  });

  it('keeps running workers where they are when the split is still fair (no churn)', () => {
    // 7 over 3: one host takes 3; the one already running 3 keeps them.
    const shares = splitTotal(7, [
      { id: 'a', room: 16, current: 2 },
      { id: 'b', room: 16, current: 3 },
      { id: 'c', room: 16, current: 2 },
    ]);
    expect(shares).toEqual({ a: 2, b: 3, c: 2 });
  });

  it('moves workers off a host that runs more than its fair share', () => {
    const shares = splitTotal(6, [
      { id: 'a', room: 16, current: 6 },
      { id: 'b', room: 16, current: 0 },
      { id: 'c', room: 16, current: 0 },
    ]);
    expect(shares).toEqual({ a: 2, b: 2, c: 2 });
  });
});

describe('boundShares', () => {
  it('shrinks at once but grows only into what the shrinking host has given back', () => {
    // a runs 4 and must go to 2; b wants 4 but a still has its 4: b may only reach 2.
    const first = boundShares(
      [
        { id: 'a', desired: 2, assigned: 4, active: 4, stopping: 0 },
        { id: 'b', desired: 4, assigned: 2, active: 2, stopping: 0 },
      ],
      6,
      true,
    );
    expect(first).toEqual({ a: 2, b: 2 });
    // a reports 2 running, 2 still stopping: still no room.
    expect(
      boundShares(
        [
          { id: 'a', desired: 2, assigned: 2, active: 2, stopping: 2 },
          { id: 'b', desired: 4, assigned: 2, active: 2, stopping: 0 },
        ],
        6,
        true,
      ),
    ).toEqual({ a: 2, b: 2 });
    // Once they are gone, b grows.
    expect(
      boundShares(
        [
          { id: 'a', desired: 2, assigned: 2, active: 2, stopping: 0 },
          { id: 'b', desired: 4, assigned: 2, active: 2, stopping: 0 },
        ],
        6,
        true,
      ),
    ).toEqual({ a: 2, b: 4 });
  });

  it('grows nobody while a host has not reported reconciling the assignment in force', () => {
    const shares = boundShares(
      [
        { id: 'a', desired: 3, assigned: 0, active: 0, stopping: 0 },
        { id: 'b', desired: 3, assigned: 3, active: 1, stopping: 0 },
      ],
      6,
      false,
    );
    expect(shares).toEqual({ a: 0, b: 3 });
  });
});

describe('planShares', () => {
  it('gives a dead host share to the live ones, within the fleet maximum', () => {
    // c stopped heart-beating: only a and b report; its 2 workers are no longer counted.
    const current = assignment({ a: 2, b: 2, c: 2 });
    const plan = planShares(
      [{ name: 'q', total: 6, max: 6 }],
      [member('a', 16, 2), member('b', 16, 2)],
      current,
    );
    expect(plan.q).toEqual({ a: 3, b: 3 });
  });

  it('never plans more than the maximum across hosts, whatever they report', () => {
    for (const [ra, rb, rc] of [
      [6, 0, 0],
      [3, 3, 3],
      [0, 0, 0],
      [5, 1, 0],
    ] as const) {
      const members = [member('a', 16, ra), member('b', 16, rb), member('c', 16, rc)];
      const current = assignment({ a: ra, b: rb, c: rc });
      const plan = planShares([{ name: 'q', total: 6, max: 6 }], members, current);
      const shares = plan.q ?? {};
      // Never above the larger of what each host runs and what it is given.
      const exposure = ['a', 'b', 'c'].reduce(
        (total, id, index) => total + Math.max(shares[id] ?? 0, [ra, rb, rc][index] ?? 0),
        0,
      );
      expect(exposure).toBeLessThanOrEqual(Math.max(6, ra + rb + rc));
      expect(sum(shares)).toBeLessThanOrEqual(6);
    }
  });

  it('shares a host capacity across queues in order', () => {
    const members: MemberReport[] = [
      { id: 'a', capacity: 4, workers: {}, applied: null },
      { id: 'b', capacity: 4, workers: {}, applied: null },
    ];
    const plan = planShares(
      [
        { name: 'first', total: 6, max: 10 },
        { name: 'second', total: 6, max: 10 },
      ],
      members,
      null,
    );
    expect(plan.first).toEqual({ a: 3, b: 3 });
    expect(plan.second).toEqual({ a: 1, b: 1 });
  });
});
