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
    // Seen entering (T0+200..T0+300), reserved by the gap alone (T0+300..T0+500).
    timeline.observe(seen(T0 + 300, 1));
    const gap = timeline.observe(seen(T0 + 500, 0, [['job-b', 1_800_000_060]]));
    expect(gap?.pickups).toEqual([{ member: 'job-b', at: T0 + 400, waitMs: 150, widthMs: 300 }]);
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

  it('matches reservations to list entries in the order they happened, not the ZREVRANGE order', () => {
    const timeline = new LaravelTimeline(90);
    timeline.observe(seen(T0 + 100, 0));
    // Two jobs entered between T0+100 and T0+400: at T0+175 and T0+325.
    timeline.observe(seen(T0 + 400, 2));
    // ZREVRANGE lists the later reservation (second 2, b) first; a was reserved in second 1.
    const interval = timeline.observe(
      seen(T0 + 2_900, 0, [
        ['b', 1_800_000_092],
        ['a', 1_800_000_091],
      ]),
    );
    expect(interval?.reservations).toEqual([
      { member: 'a', at: T0 + 1_500 },
      { member: 'b', at: T0 + 2_450 },
    ]);
    // a, reserved first, took the job that entered first.
    expect(interval?.pickups).toEqual([
      { member: 'a', at: T0 + 1_500, waitMs: 1_325, widthMs: 1_300 },
      { member: 'b', at: T0 + 2_450, waitMs: 2_125, widthMs: 1_200 },
    ]);
  });

  it('learns the score offset (retry_after) when not given, and learns it again when it changes', () => {
    const timeline = new LaravelTimeline(null);
    timeline.observe(seen(T0 + 200, 1));
    // Both sightings within second 0: the offset is exactly 90.
    timeline.observe(seen(T0 + 800, 0, [['a', 1_800_000_090]]));
    // a is still held: nothing finished.
    expect(timeline.observe(seen(T0 + 3_000, 1, [['a', 1_800_000_090]]))).toMatchObject({
      starts: 0,
      finishes: 0,
      runs: [],
    });
    // Score 94 with offset 90: reserved in second 4 (T0+4000..5000), inside the 4 s gap.
    const narrowed = timeline.observe(seen(T0 + 7_000, 0, [['b', 1_800_000_094]]));
    expect(narrowed?.reservations).toEqual([{ member: 'b', at: T0 + 4_500 }]);
    // a, reserved at T0+500 (second 0), last seen at T0+3000, gone at T0+7000.
    expect(narrowed?.runs).toEqual([{ runMs: 4_500, at: T0 + 5_000, widthMs: 4_600 }]);
    // retry_after became 60: score 70 contradicts 90, so the offset is learned anew (60 or 61).
    timeline.observe(seen(T0 + 9_000, 1, [['b', 1_800_000_094]]));
    timeline.observe(seen(T0 + 10_000, 0, [['c', 1_800_000_070]]));
    timeline.observe(seen(T0 + 11_000, 1, [['c', 1_800_000_070]]));
    // Score 72, offset 60-61: reserved in second 11 or 12, T0+11000..13000 of the gap.
    const relearned = timeline.observe(seen(T0 + 14_000, 0, [['d', 1_800_000_072]]));
    expect(relearned?.reservations).toEqual([{ member: 'd', at: T0 + 12_000 }]);
  });

  it('keeps sightings in order when a tick began before a probe answered', () => {
    const timeline = new LaravelTimeline(90);
    timeline.observe(seen(T0, 0));
    // Answered between T0+100 and T0+300: taken at T0+200.
    const probe = timeline.observe({
      from: T0 + 100,
      to: T0 + 300,
      length: 1,
      delayed: 0,
      reserved: [],
    });
    expect(probe).toMatchObject({ from: T0, to: T0 + 200, arrivals: 1 });
    expect(timeline.oldestEntry()).toBe(T0 + 100);
    // A tick that started at T0+150 and was answered at T0+210 comes after the probe.
    const tick = timeline.observe({
      from: T0 + 150,
      to: T0 + 210,
      length: 1,
      delayed: 0,
      reserved: [],
    });
    expect(tick).toMatchObject({ from: T0 + 200, to: T0 + 200, arrivals: 0 });
  });

  it('counts no negative arrivals when jobs are deleted, and follows a cleared list', () => {
    const timeline = new LaravelTimeline(90);
    timeline.observe(seen(T0, 2, [], 3));
    // The three delayed jobs deleted: fewer jobs, none arrived.
    expect(timeline.observe(seen(T0 + 100, 2, [], 0))?.arrivals).toBe(0);
    expect(timeline.oldestEntry()).toBeUndefined();
    // The list cleared (with the two jobs there before the first sighting), then two pushed.
    expect(timeline.observe(seen(T0 + 200, 0))?.arrivals).toBe(0);
    expect(timeline.observe(seen(T0 + 300, 2))?.arrivals).toBe(2);
    expect(timeline.oldestEntry()).toBe(T0 + 225);
  });
});
