import { describe, expect, it } from 'vitest';
import { busySeconds, type DemoJob, pickupP95PerInterval, WorkerClock } from './accounting.js';
import { arrivalRates } from './recorder.js';

const START = 1_700_000_000_000;
const at = (seconds: number) => START + seconds * 1_000;
const job = (added: number, started: number | null, finished: number | null): DemoJob => ({
  addedAt: at(added),
  startedAt: started === null ? null : at(started),
  finishedAt: finished === null ? null : at(finished),
});

describe('the demo accounting: worker-seconds and busy-seconds over one window', () => {
  it('counts only the time jobs ran, clipped to the window: waiting jobs cost nothing yet', () => {
    const window = { start: at(0), end: at(10) };
    const jobs = [
      job(0, 1, 3), // 2 s
      job(0, 9, null), // still running at the end: 1 s within the window
      job(0, 8, 14), // finishes after the window: 2 s within it
      job(1, null, null), // never picked up: nothing (the old summary counted its 1.5 s)
    ];
    expect(busySeconds(jobs, window, 1)).toBe(5);
    expect(busySeconds(jobs, window, 2)).toBe(2.5);
  });

  it('counts a worker from its spawn until the first sample without it, or the end of the window', () => {
    const clock = new WorkerClock({ start: at(0) });
    clock.sample(at(1), [{ id: 'a', spawnedAt: at(-5) }]); // alive before the window: from 0
    clock.sample(at(2), [
      { id: 'a', spawnedAt: at(-5) },
      { id: 'b', spawnedAt: at(1.5) },
    ]);
    clock.sample(at(3), [{ id: 'b', spawnedAt: at(1.5) }]); // a is gone: counted up to 3
    clock.sample(at(4), [{ id: 'b', spawnedAt: at(1.5) }]);
    // a: 0-3 (3 s), b: 1.5-6 (alive at the end: 4.5 s)
    expect(clock.workerSeconds(at(6))).toBe(7.5);
  });

  it('never reports more busy-seconds than worker-seconds for jobs run by sampled workers', () => {
    const clock = new WorkerClock({ start: at(0) });
    // One worker, busy back to back from 0.5 s to 4.9 s, seen at 1, 2, 3, 4 and gone at 5.
    for (const second of [1, 2, 3, 4]) clock.sample(at(second), [{ id: 'w', spawnedAt: at(0.2) }]);
    clock.sample(at(5), []);
    const jobs = [job(0, 0.5, 2.5), job(0, 2.5, 4.9)];
    const busy = busySeconds(jobs, { start: at(0), end: at(5) }, 1);
    expect(busy).toBeCloseTo(4.4);
    expect(busy).toBeLessThanOrEqual(clock.workerSeconds(at(5)));
  });
});

describe('the p95 pickup wait per interval', () => {
  it('includes the jobs still waiting at the end of an interval, so an unserved queue shows a rising wait', () => {
    const window = { start: at(0), end: at(10) };
    const jobs = [job(0, 1, 2), job(1, null, null)];
    const points = pickupP95PerInterval(jobs, window, 5_000);
    expect(points.map((point) => point.tMs)).toEqual([5_000, 10_000]);
    // 0-5 s: the first job waited 1 s, the second waits 4 s so far; 5-10 s: the second, 9 s.
    expect(points.map((point) => point.p95Ms)).toEqual([4_000, 9_000]);
  });

  it('is null for an interval in which no job was picked up or waited', () => {
    const points = pickupP95PerInterval([job(6, 7, 8)], { start: at(0), end: at(10) }, 5_000);
    expect(points).toEqual([
      { tMs: 5_000, p95Ms: null },
      { tMs: 10_000, p95Ms: 1_000 },
    ]);
  });
});

describe('arrivals per sample, from the jobs themselves', () => {
  it('counts the jobs added since the previous sample, per second of the real interval', () => {
    const jobs = [
      job(-0.5, null, null),
      job(0.2, null, null),
      job(1.5, null, null),
      job(1.7, null, null),
    ];
    // Samples at 1 s, 3 s (a late one on a busy machine) and 4 s.
    expect(arrivalRates([1_000, 3_000, 4_000], jobs, START)).toEqual([2, 1, 0]);
  });
});
