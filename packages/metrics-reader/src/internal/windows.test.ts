import { describe, expect, it } from 'vitest';
import { BoundedMap, RateWindow, SlidingSketch } from './windows.js';

describe('RateWindow', () => {
  it('averages counts over the covered part of the window, clipping intervals at its start', () => {
    const window = new RateWindow(10_000);
    window.add(0, 5_000, 50);
    window.add(5_000, 10_000, 100);
    window.add(10_000, 15_000, 100);
    // (2.5 s, 12.5 s]: half of the first, all of the second, half of the third.
    expect(window.rate(12_500)).toBe((25 + 100 + 50) / 10);
    // Time moves on: (5 s, 15 s] holds the last two intervals, 200 jobs in 10 s.
    expect(window.rate(15_000)).toBe(20);
  });

  it('leaves gaps out instead of counting them as zero, and is null when nothing is known', () => {
    const window = new RateWindow(10_000);
    expect(window.rate(1_000)).toBeNull();
    window.add(0, 2_000, 20);
    window.add(8_000, 10_000, 20);
    expect(window.rate(10_000)).toBe(10);
    expect(window.coveredMs(10_000)).toBe(4_000);
  });

  it('never reports a negative rate, but keeps the sign of a growth rate', () => {
    const window = new RateWindow(10_000);
    window.add(0, 2_000, -10);
    expect(window.rate(2_000)).toBe(0);
    expect(window.signedRate(2_000)).toBe(-5);
  });
});

describe('SlidingSketch', () => {
  it('keeps what two reads within one millisecond counted', () => {
    const joined = new RateWindow(10_000);
    joined.add(0, 1_000, 4);
    joined.add(1_000, 1_000, 2);
    expect(joined.rate(1_000)).toBe(6);
    // Nothing before it to join: it is carried into the next interval, once.
    const carried = new RateWindow(10_000);
    carried.add(500, 500, 3);
    expect(carried.rate(500)).toBeNull();
    carried.add(500, 1_500, 1);
    carried.add(1_500, 2_500, 2);
    expect(carried.rate(2_500)).toBe(3);
    // A clock that went backwards gives no interval at all.
    carried.add(3_000, 2_900, 50);
    expect(carried.rate(2_500)).toBe(3);
  });

  it('gives percentiles within 1 % and forgets samples older than the window', () => {
    const sketch = new SlidingSketch(60_000);
    for (let value = 1; value <= 1_000; value++) sketch.add(value, 1_000);
    const summary = sketch.summary(1_000);
    expect(summary?.count).toBe(1_000);
    expect(summary?.mean).toBeCloseTo(500.5, 6);
    expect(Math.abs((summary?.quantile(0.95) ?? 0) - 950) / 950).toBeLessThan(0.01);
    expect(sketch.summary(120_000)).toBeNull();
  });

  it('clamps a slightly negative wait (clock skew) to zero', () => {
    const sketch = new SlidingSketch(1_000);
    sketch.add(-5, 0);
    expect(sketch.summary(0)?.quantile(0.5)).toBe(0);
  });
});

describe('BoundedMap', () => {
  it('forgets the oldest entries beyond its limit', () => {
    const map = new BoundedMap<string, number>(2);
    map.set('a', 1).set('b', 2).set('c', 3);
    expect([...map.keys()]).toEqual(['b', 'c']);
  });
});
