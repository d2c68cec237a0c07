import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../defaults.js';
import { backoffDelayMs } from './backoff.js';

describe('backoffDelayMs', () => {
  it('doubles from 500 ms up to the 30 s cap with the defaults', () => {
    const middle = () => 0.5; // no jitter
    const delays = [0, 1, 2, 3, 4, 5, 6, 7, 20].map((n) =>
      backoffDelayMs(n, DEFAULTS.restart, middle),
    );
    expect(delays).toEqual([500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('moves each delay by at most the jitter ratio, both ways', () => {
    const settings = { ...DEFAULTS.restart, backoffJitterRatio: 0.2 };
    expect(backoffDelayMs(1, settings, () => 0)).toBe(800);
    expect(backoffDelayMs(1, settings, () => 0.999_999)).toBe(1_200);
    expect(backoffDelayMs(6, settings, () => 0.999_999)).toBe(36_000);
  });
});
