import { describe, expect, it } from 'vitest';
import { LaravelTimeline, type Sighting } from './laravel-timeline.js';

/** A sighting answered instantly at `at` ms. */
function seen(
  at: number,
  length: number,
  reserved: [string, number][] = [],
  delayed = 0,
): Sighting {
  return { from: at, to: at, length, delayed, reserved };
}

const T0 = 1_800_000_000_000;

describe('LaravelTimeline', () => {
  it('times a job from entering the list to reservation to leaving, to the gap between sightings', () => {
    const timeline = new LaravelTimeline(null);
    expect(timeline.observe(seen(T0, 0))).toBeNull();
    // Entered between T0 and T0+100: placed at T0+50.
    const pushed = timeline.observe(seen(T0 + 100, 1));
    expect(pushed).toMatchObject({ arrivals: 1, starts: 0, finishes: 0 });
    expect(timeline.oldestEntry()).toBe(T0 + 50);
    // Reserved between T0+300 and T0+400 (score: second + 90, unknown offset: the gap rules).
    timeline.observe(seen(T0 + 300, 1));
    const started = timeline.observe(seen(T0 + 400, 0, [['job-a', 1_800_000_090]]));
    expect(started).toMatchObject({ arrivals: 0, starts: 1, finishes: 0 });
    expect(started?.pickups).toEqual([
      { member: 'job-a', at: T0 + 350, waitMs: 300, widthMs: 200 },
    ]);
    expect(timeline.oldestEntry()).toBeUndefined();
    const finished = timeline.observe(seen(T0 + 700, 0));
    expect(finished).toMatchObject({ arrivals: 0, starts: 0, finishes: 1 });
    // Last seen at T0+400, gone at T0+700: finished at T0+550 after a reservation at T0+350.
    expect(finished?.runs).toEqual([{ runMs: 200, at: T0 + 550, widthMs: 400 }]);
  });

  it('counts a job that arrives, starts and is replaced between two sightings', () => {
    const timeline = new LaravelTimeline(90);
    timeline.observe(seen(T0, 0, [['job-a', 1_800_000_090]]));
    // job-a finished, job-b arrived and was reserved, job-c arrived and waits.
    const interval = timeline.observe(seen(T0 + 100, 1, [['job-b', 1_800_000_090]]));
    expect(interval).toMatchObject({ arrivals: 2, starts: 1, finishes: 1 });
    // job-a was there at the first sighting: no reservation time, so no run time.
    expect(interval?.runs).toEqual([]);
    // Two entries spread over the gap (T0+25, T0+75); job-b took the first.
    expect(interval?.pickups.map((pickup) => pickup.waitMs)).toEqual([25]);
    expect(timeline.oldestEntry()).toBe(T0 + 75);
  });

  it('places a reservation by its score when retry_after is known', () => {
    const timeline = new LaravelTimeline(90);
    timeline.observe(seen(T0 + 500, 1));
    // Score 1_800_000_091: reserved during second 1_800_000_001, i.e. T0+1000..T0+2000; the
    // sightings bound it to T0+500..T0+1600, so T0+1000..T0+1600.
    const interval = timeline.observe(seen(T0 + 1600, 0, [['job-a', 1_800_000_091]]));
    expect(interval?.reservations).toEqual([{ member: 'job-a', at: T0 + 1300 }]);
  });

  it('falls back to the gap when the score contradicts the given retry_after', () => {
    const timeline = new LaravelTimeline(90);
    timeline.observe(seen(T0, 1));
    const interval = timeline.observe(seen(T0 + 200, 0, [['job-a', 1_800_000_060]]));
    expect(interval?.reservations).toEqual([{ member: 'job-a', at: T0 + 100 }]);
  });

  it('counts delayed jobs as arrivals once, not again when they move to the list', () => {
    const timeline = new LaravelTimeline(90);
    timeline.observe(seen(T0, 0));
    expect(timeline.observe(seen(T0 + 100, 0, [], 2))?.arrivals).toBe(2);
    // Both became due and moved to the list: no new arrival.
    expect(timeline.observe(seen(T0 + 200, 2, [], 0))?.arrivals).toBe(0);
  });

  it('gives no pickup for jobs already waiting at the first sighting, and forgets on reset', () => {
    const timeline = new LaravelTimeline(90);
    timeline.observe(seen(T0, 2));
    expect(timeline.oldestEntry()).toBeUndefined();
    const interval = timeline.observe(seen(T0 + 100, 1, [['job-a', 1_800_000_090]]));
    expect(interval?.starts).toBe(1);
    expect(interval?.pickups).toEqual([]);
    timeline.reset();
    expect(timeline.observe(seen(T0 + 200, 1))).toBeNull();
  });
});
