import type { GroupScalingContext, QueueSnapshot } from '@qscale/contracts';
import { context, snapshot } from '@qscale/testkit';
import { describe, expect, it } from 'vitest';
import { groupSnapshot } from './group-snapshot.js';

const NOW = 1_000_000;

function group(...queues: Partial<QueueSnapshot>[]): GroupScalingContext {
  return {
    now: NOW,
    group: 'web',
    discipline: { kind: 'priority' },
    members: queues.map((queue) => context({ now: NOW, queue })),
    workers: { running: 3, starting: 0, stopping: 0, concurrency: 1 },
    bounds: { min: 0, max: 10 },
    spawnLatencyMs: 1_000,
  };
}

const high: Partial<QueueSnapshot> = {
  queue: 'high',
  at: NOW,
  pending: 2,
  delayed: 1,
  active: 3,
  oldestPendingAgeMs: 800,
  arrivalRate: 2,
  completionRate: 2,
  serviceTimeMs: { mean: 500, p95: 1_500 },
  pickupLatencyMs: { p50: 100, p95: 900, p99: 1_200, samples: 40 },
  sources: { pending: 'counter', serviceTimeMs: 'observed' },
};
const low: Partial<QueueSnapshot> = {
  queue: 'default',
  at: NOW - 2_000,
  pending: 30,
  delayed: 0,
  active: 4,
  oldestPendingAgeMs: 12_000,
  arrivalRate: 6,
  completionRate: 5,
  serviceTimeMs: { mean: 1_500, p95: 4_000 },
  pickupLatencyMs: { p50: 3_000, p95: 11_000, p99: 14_000, samples: 60 },
  sources: { pending: 'estimate', serviceTimeMs: 'observed' },
};

describe('groupSnapshot: one snapshot standing for the group in policies', () => {
  it('sums counts and rates, keeps the oldest read, the oldest job and the worst pickups', () => {
    const s = groupSnapshot(group(high, low));
    expect(s).toMatchObject({
      queue: 'web',
      at: NOW - 2_000,
      pending: 32,
      delayed: 1,
      active: 7,
      oldestPendingAgeMs: 12_000,
      arrivalRate: 8,
      completionRate: 7,
      pickupLatencyMs: { p50: 3_000, p95: 11_000, p99: 14_000, samples: 100 },
    });
    // Mean weighted by arrivals: (2 x 500 + 6 x 1500) / 8; p95 the largest.
    expect(s.serviceTimeMs).toEqual({ mean: 1_250, p95: 4_000 });
    expect(s.sources).toEqual({ pending: 'estimate', serviceTimeMs: 'observed' });
  });

  it('makes a figure unknown when any member’s is unknown (never a partial count)', () => {
    const s = groupSnapshot(group(high, { ...low, pending: null, arrivalRate: null }));
    expect(s.pending).toBeNull();
    expect(s.arrivalRate).toBeNull();
    expect(s.active).toBe(7);
  });

  it('is paused only when every member is, and carries a member’s error with its name', () => {
    expect(groupSnapshot(group({ ...high, paused: true }, { ...low, paused: false })).paused).toBe(
      false,
    );
    expect(groupSnapshot(group({ ...high, paused: true }, { ...low, paused: true })).paused).toBe(
      true,
    );
    const failing = groupSnapshot(
      group(high, { ...low, error: { code: 'WRONG_TYPE', message: 'key holds a hash' } }),
    );
    expect(failing.error).toEqual({
      code: 'WRONG_TYPE',
      message: 'queue "default": key holds a hash',
    });
  });

  it('has no service time or pickups when no member has them', () => {
    const bare = snapshot({ queue: 'a', at: NOW });
    const s = groupSnapshot(group(bare, { ...bare, queue: 'b' }));
    expect(s.serviceTimeMs).toBeNull();
    expect(s.pickupLatencyMs).toBeNull();
  });
});
