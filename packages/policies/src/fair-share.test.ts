import { describe, expect, it } from 'vitest';
import { allocateFairShare } from './fair-share.js';

// The anchor's FairShareAllocator vectors (reference §3 #29-#32), then priority weights.

describe('fair share: anchor vectors', () => {
  it('#29 three equal demands of 7 share 10: 4, 3, 3 (largest remainder, ties by key)', () => {
    const demands = ['c', 'a', 'b'].map((key) => ({ key, demand: 7, min: 1, max: 20 }));
    expect(allocateFairShare(demands, 10)).toEqual({ a: 4, b: 3, c: 3 });
    expect(allocateFairShare([...demands].reverse(), 10)).toEqual({ a: 4, b: 3, c: 3 });
  });
  it('#30 maxima cap a share and the rest goes to the others', () => {
    expect(
      allocateFairShare(
        [
          { key: 'a', demand: 15, max: 5 },
          { key: 'b', demand: 8, max: 20 },
        ],
        10,
      ),
    ).toEqual({ a: 5, b: 5 });
    expect(
      allocateFairShare(
        [
          { key: 'a', demand: 3 },
          { key: 'b', demand: 15 },
        ],
        10,
      ),
    ).toEqual({ a: 2, b: 8 });
    expect(
      allocateFairShare(
        [
          { key: 'a', demand: 15, max: 3 },
          { key: 'b', demand: 15, max: 3 },
          { key: 'c', demand: 15, max: 20 },
        ],
        10,
      ),
    ).toEqual({ a: 3, b: 3, c: 4 });
  });
  it('#31 minimums are guarantees even beyond capacity; idle queues get nothing; fits stay', () => {
    const five = ['a', 'b', 'c', 'd', 'e'].map((key) => ({ key, demand: 5, min: 3 }));
    const shares = allocateFairShare(five, 10);
    expect(Object.values(shares)).toEqual([3, 3, 3, 3, 3]);
    expect(
      allocateFairShare(
        [
          { key: 'i1', demand: 0 },
          { key: 'i2', demand: 0 },
          { key: 'i3', demand: 0 },
          { key: 'busy', demand: 20 },
        ],
        10,
      ),
    ).toEqual({ i1: 0, i2: 0, i3: 0, busy: 10 });
    expect(
      allocateFairShare(
        [
          { key: 'a', demand: 5 },
          { key: 'b', demand: 3 },
        ],
        10,
      ),
    ).toEqual({ a: 5, b: 3 });
  });
  it('#32 idle queues keep their minimum, the busy one gets the rest', () => {
    const idle = ['i1', 'i2', 'i3'].map((key) => ({ key, demand: 1, min: 1, max: 10 }));
    expect(allocateFairShare([...idle, { key: 'busy', demand: 50, min: 1, max: 100 }], 20)).toEqual(
      {
        i1: 1,
        i2: 1,
        i3: 1,
        busy: 17,
      },
    );
  });
});

describe('fair share: priority weights', () => {
  it('shares in proportion to weight x unmet demand', () => {
    const shares = allocateFairShare(
      [
        { key: 'critical', demand: 10, weight: 3 },
        { key: 'bulk', demand: 10, weight: 1 },
      ],
      12,
    );
    expect(shares).toEqual({ critical: 9, bulk: 3 });
  });
  it('never gives more than the demand, and hands the rest to others', () => {
    const shares = allocateFairShare(
      [
        { key: 'critical', demand: 4, weight: 10 },
        { key: 'bulk', demand: 20, weight: 1 },
      ],
      12,
    );
    expect(shares).toEqual({ critical: 4, bulk: 8 });
  });
  it('always uses the whole capacity when demand exceeds it', () => {
    for (let capacity = 1; capacity < 40; capacity++) {
      const shares = allocateFairShare(
        [
          { key: 'a', demand: 17, weight: 2 },
          { key: 'b', demand: 9 },
          { key: 'c', demand: 13, weight: 0.5 },
        ],
        capacity,
      );
      const total = Object.values(shares).reduce((sum, n) => sum + n, 0);
      expect(total).toBe(Math.min(capacity, 39));
    }
  });
});
