import { describe, expect, it } from 'vitest';
import { type TailJob, type TailView, TailWatch, tailJob } from './sidekiq-tail.js';

function job(name: string, enqueuedAt: number): TailJob {
  return { raw: name, enqueuedAt };
}

function view(atMs: number, next: TailJob | null, behind: TailJob | null = null): TailView {
  return { atMs, next, behind };
}

function recorder() {
  const pickups: { waitMs: number; atMs: number; weight: number }[] = [];
  const gaps: { gapMs: number; atMs: number }[] = [];
  const watch = new TailWatch({
    pickup: (waitMs, atMs, weight) => pickups.push({ waitMs, atMs, weight }),
    gap: (gapMs, atMs) => gaps.push({ gapMs, atMs }),
  });
  return { watch, pickups, gaps };
}

describe('TailWatch', () => {
  it('places a pickup at the midpoint of the two views around it, not at a tick', () => {
    const { watch, pickups } = recorder();
    const a = job('a', 1_000);
    watch.observe(view(1_050, a), null);
    watch.observe(view(1_150, a), null);
    watch.observe(view(1_250, null), null);
    // Taken between 1 150 and 1 250: at 1 200, 200 ms after it was enqueued.
    expect(pickups).toEqual([{ waitMs: 200, atMs: 1_200, weight: 1 }]);
  });

  it('times nothing while the same job stays next in line, or from an empty list', () => {
    const { watch, pickups, gaps } = recorder();
    watch.observe(view(0, null), null);
    watch.observe(view(100, null), null);
    watch.observe(view(200, job('a', 150)), null);
    watch.observe(view(300, job('a', 150)), null);
    expect(pickups).toEqual([]);
    expect(gaps).toEqual([]);
  });

  it('measures the run time from one pickup to the next when the next job was already waiting', () => {
    const { watch, pickups, gaps } = recorder();
    const a = job('a', 0);
    const b = job('b', 10);
    const c = job('c', 20);
    watch.observe(view(100, a, b), null);
    // a taken in (100, 200]: b, waiting behind it, is next: exactly one pickup.
    watch.observe(view(200, b, c), null);
    // b taken in (400, 500]: a ran from about 150 to about 450.
    watch.observe(view(400, b, c), null);
    watch.observe(view(500, c), null);
    expect(pickups.map((pickup) => pickup.waitMs)).toEqual([150, 440]);
    expect(gaps).toEqual([{ gapMs: 300, atMs: 450 }]);
  });

  it('takes no run time when the next job arrived after the pickup (the worker may have idled)', () => {
    const { watch, gaps } = recorder();
    watch.observe(view(100, job('a', 0)), null);
    // a gone, b is next but was enqueued after the view that saw a alone.
    watch.observe(view(200, job('b', 150)), null);
    watch.observe(view(300, null), null);
    expect(gaps).toEqual([]);
  });

  it('counts a burst: the job behind went too, standing for the pickups the rate says happened', () => {
    const { watch, pickups, gaps } = recorder();
    const a = job('a', 0);
    const b = job('b', 100);
    watch.observe(view(1_000, a, b), null);
    // 10 completions a second over 1 s: about ten taken, a and b seen, b stands for nine.
    watch.observe(view(2_000, job('k', 500), job('l', 600)), 10);
    expect(pickups).toEqual([
      { waitMs: 1_500, atMs: 1_500, weight: 1 },
      { waitMs: 1_400, atMs: 1_500, weight: 9 },
    ]);
    // Not exactly one pickup: no run time from this interval.
    watch.observe(view(2_100, job('l', 600)), 10);
    expect(gaps).toEqual([]);
  });

  it('does not bridge a reset or a view older than the last', () => {
    const { watch, pickups } = recorder();
    watch.observe(view(100, job('a', 0)), null);
    watch.reset();
    watch.observe(view(200, null), null);
    watch.observe(view(300, job('b', 250)), null);
    watch.observe(view(250, null), null);
    expect(pickups).toEqual([]);
  });
});

describe('TailWatch.headWaitMs', () => {
  it('is how long the job next in line at the last view has waited, 0 for an empty list', () => {
    const { watch } = recorder();
    expect(watch.headWaitMs(5_000)).toBe(0);
    watch.observe(view(1_000, job('a', 400)), null);
    expect(watch.headWaitMs(30_400)).toBe(30_000);
    watch.observe(view(1_100, null), null);
    expect(watch.headWaitMs(30_400)).toBe(0);
  });
});

describe('tailJob', () => {
  it('reads float seconds (Sidekiq < 8) and integer milliseconds (8), falling back to created_at', () => {
    expect(tailJob('{"enqueued_at":1767225600.5}', 'q', 1_000)?.enqueuedAt).toBe(1_767_225_600_500);
    expect(tailJob('{"enqueued_at":1767225600123}', 'q', 1_000)?.enqueuedAt).toBe(
      1_767_225_600_123,
    );
    expect(tailJob('{"created_at":1767225600}', 'q', 1_000)?.enqueuedAt).toBe(1_767_225_600_000);
    expect(tailJob('{"jid":"x"}', 'q', 1_000)).toBeNull();
    expect(() => tailJob('{"jid":', 'LRANGE queue:x -1', 1_000)).toThrow(/LRANGE queue:x -1/);
  });
});
