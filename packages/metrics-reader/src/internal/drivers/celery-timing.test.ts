import { describe, expect, it } from 'vitest';
import { DeliveryTiming, type Observation } from './celery-timing.js';

const held = (...entries: [string, number, boolean?][]): Observation['held'] =>
  new Map(entries.map(([tag, deliveredAt, eta]) => [tag, { deliveredAt, eta: eta ?? false }]));

describe('DeliveryTiming', () => {
  it('counts arrivals by conservation and matches them first in, first out', () => {
    const timing = new DeliveryTiming();
    // First look: one message waits (its arrival is unknown), nothing held.
    expect(timing.observe({ at: 1000, listed: 1, held: held() })?.from).toBeNull();
    // The waiting one was delivered at 1050; two arrived, one of them delivered at 1090.
    const second = timing.observe({ at: 1100, listed: 1, held: held(['a', 1050], ['b', 1090]) });
    expect(second).toMatchObject({ from: 1000, arrivals: 2, completions: 0 });
    // `a` was the backlog (no pickup); `b` arrived in (1000, 1090]: estimated at 1045.
    expect(second?.pickups).toEqual([{ waitMs: 45, atMs: 1090 }]);
    // `a` left (acked late: it ended) between 1100 and 1300; `c` (the listed one) delivered.
    const third = timing.observe({ at: 1300, listed: 0, held: held(['b', 1090], ['c', 1250]) });
    expect(third).toMatchObject({ arrivals: 0, completions: 1 });
    expect(third?.runs).toEqual([{ runMs: 150, atMs: 1200 }]);
    // `c` arrived in (1000, 1100], spread evenly: the second of two, at 1075.
    expect(third?.pickups).toEqual([{ waitMs: 175, atMs: 1250 }]);
  });

  it('gives ETA tasks no pickup and no run time, but keeps the matching aligned', () => {
    const timing = new DeliveryTiming();
    timing.observe({ at: 0, listed: 0, held: held() });
    const first = timing.observe({ at: 100, listed: 1, held: held(['eta', 40, true]) });
    expect(first).toMatchObject({ arrivals: 2, pickups: [] });
    const second = timing.observe({
      at: 200,
      listed: 0,
      held: held(['eta', 40, true], ['x', 150]),
    });
    expect(second?.pickups).toEqual([{ waitMs: 75, atMs: 150 }]);
    const third = timing.observe({ at: 300, listed: 0, held: held(['x', 150]) });
    expect(third).toMatchObject({ completions: 1, runs: [] });
  });

  it('carries a pop whose delivery shows one look later, without inventing arrivals', () => {
    const timing = new DeliveryTiming();
    timing.observe({ at: 0, listed: 2, held: held() });
    // A pop seen in the list before its delivery was written: no arrival is invented.
    expect(timing.observe({ at: 100, listed: 1, held: held() })?.arrivals).toBe(0);
    expect(timing.observe({ at: 200, listed: 1, held: held(['a', 95]) })?.arrivals).toBe(0);
    // The second backlog message is popped and acked unseen; then one arrives and is taken.
    expect(timing.observe({ at: 300, listed: 0, held: held() })?.arrivals).toBe(0);
    const late = timing.observe({ at: 400, listed: 0, held: held(['n', 380]) });
    expect(late?.arrivals).toBe(0);
    const next = timing.observe({ at: 500, listed: 0, held: held(['n', 380], ['m', 460]) });
    expect(next).toMatchObject({ arrivals: 1 });
  });

  it('ignores an observation older than the last', () => {
    const timing = new DeliveryTiming();
    timing.observe({ at: 100, listed: 0, held: held() });
    expect(timing.observe({ at: 50, listed: 3, held: held() })).toBeNull();
  });

  it('starts afresh after a reset: the next look is a first one, its messages a backlog', () => {
    const timing = new DeliveryTiming();
    timing.observe({ at: 0, listed: 0, held: held() });
    timing.observe({ at: 100, listed: 2, held: held() });
    timing.reset();
    expect(timing.observe({ at: 200, listed: 2, held: held() })?.from).toBeNull();
    // Both were listed at the first look after the reset: no pickup is estimated for them.
    const next = timing.observe({ at: 300, listed: 0, held: held(['a', 250], ['b', 260]) });
    expect(next).toMatchObject({ arrivals: 0, pickups: [] });
  });

  it('drops the oldest known arrival for a pop whose delivery never showed', () => {
    const timing = new DeliveryTiming();
    timing.observe({ at: 0, listed: 0, held: held() });
    // Two arrive in (0, 100]: estimated at 25 and 75.
    expect(timing.observe({ at: 100, listed: 2, held: held() })?.arrivals).toBe(2);
    // One is popped and acked between looks (never seen held); nothing else changes.
    expect(timing.observe({ at: 200, listed: 1, held: held() })?.arrivals).toBe(0);
    expect(timing.observe({ at: 300, listed: 1, held: held() })?.arrivals).toBe(0);
    // The other is delivered at 350: matched with the arrival at 75, not the dropped one at 25.
    const next = timing.observe({ at: 400, listed: 0, held: held(['b', 350]) });
    expect(next?.pickups).toEqual([{ waitMs: 275, atMs: 350 }]);
  });

  it('times no run for a delivery scored after the midpoint of its last two looks (a worker clock ahead)', () => {
    const timing = new DeliveryTiming();
    timing.observe({ at: 0, listed: 0, held: held() });
    timing.observe({ at: 100, listed: 0, held: held(['ahead', 180], ['fine', 60]) });
    const next = timing.observe({ at: 200, listed: 0, held: held() });
    expect(next).toMatchObject({ completions: 2, runs: [{ runMs: 90, atMs: 150 }] });
  });

  it('gives no negative wait to a delivery scored before the look its arrival came after', () => {
    const timing = new DeliveryTiming();
    timing.observe({ at: 0, listed: 0, held: held() });
    // Arrived in (100, 200] by the counts, but scored at 90 (a worker clock behind).
    timing.observe({ at: 100, listed: 0, held: held() });
    const next = timing.observe({ at: 200, listed: 0, held: held(['late', 90]) });
    expect(next?.pickups).toEqual([{ waitMs: 0, atMs: 90 }]);
  });

  it('keeps at most 100,000 arrivals waiting for a delivery, dropping the oldest', () => {
    const timing = new DeliveryTiming();
    timing.observe({ at: 0, listed: 0, held: held() });
    timing.observe({ at: 100_001, listed: 100_001, held: held() });
    // Arrivals spread at 0.5, 1.5, ...: the one at 0.5 was dropped, the next is at 1.5.
    const next = timing.observe({ at: 200_000, listed: 100_000, held: held(['a', 150_000]) });
    expect(next?.pickups).toEqual([{ waitMs: 150_000 - 1.5, atMs: 150_000 }]);
  });
});
