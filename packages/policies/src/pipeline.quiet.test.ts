import type { Recommendation } from '@qscale/contracts';
import { context } from '@qscale/testkit';
import { describe, expect, it } from 'vitest';
import { createPolicyPipeline } from './pipeline.js';

const rec = (workers: number): Recommendation => ({ workers, reason: 'test', terms: {} });
const T = 1_000_000;
const TICK = 2_000;

/**
 * Drives one pipeline tick by tick: `busy(i)` says whether tick i has arrivals (else the queue is
 * empty with none); the strategy asks for 8 workers while busy and 0 after. Returns the workers
 * after each tick.
 */
function run(ticks: number, busy: (i: number) => boolean, settings = {}): number[] {
  const pipeline = createPolicyPipeline({ cooldownMs: 0, ...settings });
  let workers = 8;
  const counts: number[] = [];
  for (let i = 0; i < ticks; i++) {
    const now = T + i * TICK;
    const active = busy(i);
    const decision = pipeline.apply(
      rec(active ? 8 : 0),
      context({
        now,
        queue: { at: now, pending: active ? 5 : 0, arrivalRate: active ? 4 : 0 },
        workers: { running: workers },
      }),
    );
    workers = decision.to;
    counts.push(workers);
  }
  return counts;
}

describe('stabilisation after a queue drained and stayed quiet', () => {
  it('scales down two ticks after the queue went quiet, not a whole window later', () => {
    const counts = run(40, (i) => i < 20);
    // Ticks 20 and 21 are quiet: the spell is 4 s at tick 21.
    expect(counts[20]).toBe(8);
    expect(counts[21]).toBe(0);
    const stabilised = run(40, (i) => i < 20, { quietAfterTicks: null });
    // Without the rule: held for the 30 s window after the last recommendation of 8 (tick 19).
    expect(stabilised[21]).toBe(8);
    expect(stabilised.indexOf(0)).toBe(35);
  });

  it('keeps the window inside the gaps of periodic bursts (no flapping), releases after them', () => {
    // 10 s busy, 20 s quiet, every 30 s (15 ticks), six times, then quiet for good.
    const periodic = (i: number) => i < 90 && i % 15 < 5;
    const counts = run(130, periodic);
    // After the first gap (nothing to compare it with yet) later gaps of the same length hold.
    for (let i = 20; i < 90; i++) expect(counts[i]).toBe(8);
    // The last burst ends at tick 79: the spell reaches the gaps' 20 s at tick 89 (held) and
    // outlasts them at tick 90 (released).
    expect(counts[89]).toBe(8);
    expect(counts[90]).toBe(0);
  });

  it('never counts an unknown arrival rate as quiet', () => {
    const pipeline = createPolicyPipeline({ cooldownMs: 0 });
    let workers = 8;
    for (let i = 0; i < 10; i++) {
      const now = T + i * TICK;
      workers = pipeline.apply(
        rec(i < 3 ? 8 : 0),
        context({
          now,
          queue: { at: now, pending: 0, arrivalRate: null, completionRate: null },
          workers: { running: workers },
        }),
      ).to;
    }
    expect(workers).toBe(8);
  });
});
