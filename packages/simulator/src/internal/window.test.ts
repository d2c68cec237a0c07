import { describe, expect, it } from 'vitest';
import { ObservationWindow, percentileOf } from './window.js';

const sorted = (values: number[]) => Float64Array.from(values).sort();

// Nearest-rank percentiles as the anchor computes pickup percentiles (reference §3 #24, #25).
describe('percentileOf', () => {
  it('#24 1..100 and a constant series', () => {
    const hundred = sorted(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(percentileOf(hundred, 95)).toBe(95);
    expect(percentileOf(hundred, 50)).toBe(50);
    expect(percentileOf(hundred, 99)).toBe(99);
    expect(percentileOf(sorted(Array(30).fill(7.5)), 95)).toBe(7.5);
  });
  it('#25 a few outliers do not move the p95; enough of them do', () => {
    expect(percentileOf(sorted([...Array(100).fill(5), 120, 125]), 95)).toBe(5);
    expect(percentileOf(sorted([...Array(96).fill(5), ...Array(6).fill(100)]), 95)).toBe(100);
  });
});

describe('ObservationWindow', () => {
  it('keeps the last observations and returns those since a time, sorted', () => {
    const window = new ObservationWindow(3);
    window.add(1, 30);
    window.add(2, 10);
    window.add(3, 20);
    window.add(4, 5);
    expect([...window.sortedSince(0)]).toEqual([5, 10, 20]);
    expect([...window.sortedSince(3)]).toEqual([5, 20]);
  });
});
