import { snapshot } from '@qscale/testkit';
import { describe, expect, it } from 'vitest';
import { isQuiet, quietSpells } from './quiet.js';

const busy = (at: number) => snapshot({ at, pending: 3, arrivalRate: 1 });
const quiet = (at: number) => snapshot({ at, pending: 0, arrivalRate: 0 });

describe('isQuiet', () => {
  it('reads the completion rate only when the arrival rate is unknown', () => {
    expect(isQuiet(snapshot({ pending: 0, arrivalRate: null, completionRate: 0 }))).toBe(true);
    // Arrivals known and not zero: busy, whatever the completions say.
    expect(isQuiet(snapshot({ pending: 0, arrivalRate: 2, completionRate: 0 }))).toBe(false);
    expect(isQuiet(snapshot({ pending: 0, arrivalRate: null, completionRate: null }))).toBe(false);
  });

  it('is not quiet with jobs waiting, even with no arrivals, nor when the read failed', () => {
    expect(isQuiet(snapshot({ pending: 3, arrivalRate: 0 }))).toBe(false);
    expect(isQuiet(snapshot({ error: { code: 'REDIS_UNREACHABLE', message: 'down' } }))).toBe(
      false,
    );
    expect(isQuiet(snapshot())).toBe(true);
  });
});

describe('quietSpells', () => {
  it('gives no spell when the history never showed the queue busy (its start is unknown)', () => {
    expect(quietSpells([quiet(1_000), quiet(2_000)])).toEqual({
      quietForMs: 0,
      longestEndedMs: 0,
    });
  });

  it('measures a spell from the last busy snapshot, and ignores one whose start it never saw', () => {
    // Quiet at 1 000 with nothing before it: that spell's start is unknown, so it is no gap.
    expect(quietSpells([quiet(1_000), busy(2_000), quiet(3_000), quiet(4_000)])).toEqual({
      quietForMs: 2_000,
      longestEndedMs: 0,
    });
  });

  it('is not quiet now when the last snapshot is busy, and remembers the spell that ended', () => {
    expect(quietSpells([busy(1_000), quiet(2_000), busy(3_000)])).toEqual({
      quietForMs: 0,
      longestEndedMs: 1_000,
    });
  });
});
