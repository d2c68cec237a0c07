/**
 * Celery 5 (Debian's python3-celery, a real prefork worker of concurrency 1, prefetch
 * multiplier 1) against the accuracy criteria: Poisson arrivals at 3/s, 200 ms tasks,
 * the reader read every 2 s as the daemon reads it (see harness.ts for the criteria). With the
 * default early ack what Redis cannot show is declared unknown (celery.ts); with acks_late every
 * figure is compared.
 */
import { describe, expect, it } from 'vitest';
import { celery, celeryAcksLate } from './celery.js';
import { runAccuracy } from './harness.js';

describe('Celery with a real worker', () => {
  it('early ack (default): counts, rates; running tasks and timings unknown', async () => {
    const result = await runAccuracy(celery, {
      rate: 3,
      serviceMs: 200,
      durationMs: 45_000,
      seed: 5,
    });
    expect(result.jobs).toBeGreaterThan(90);
    // Two hand-overs of one message Redis cannot show as they are, each off by one on a
    // loaded host: kombu pops a message (BRPOP) and then writes it to `unacked` in a second
    // round trip (in no key between: one fewer); the pool process starts the task and records
    // its start before the worker's main process acks it (still in `unacked`: one more).
    const race = /^celery-5 tick \d+: pending read (\d+), truth during the read (\d+)(?:-(\d+))?$/;
    const offByOne = (problem: string) => {
      const match = race.exec(problem);
      if (match === null) return false;
      const read = Number(match[1]);
      const low = Number(match[2]);
      const high = match[3] === undefined ? low : Number(match[3]);
      return read === low - 1 || read === high + 1;
    };
    const misses = result.problems.filter(offByOne);
    expect(result.problems.filter((problem) => !offByOne(problem))).toEqual([]);
    expect(misses.length).toBeLessThanOrEqual(3);
  }, 300_000);

  it('acks_late: every figure, with the probe timing deliveries and ends', async () => {
    // kombu 5.2 serves about 0.6 tasks/s here (see celery.ts): give the backlog time to drain.
    const result = await runAccuracy(celeryAcksLate, {
      rate: 3,
      serviceMs: 200,
      durationMs: 45_000,
      seed: 5,
      drainTimeoutMs: 400_000,
    });
    expect(result.jobs).toBeGreaterThan(90);
    // The run time read is the time the worker held the message (fetch to ack), which adds
    // the hand-over to the pool process and the ack to the task's own time: about +20 ms on
    // an idle host, +50 to +80 ms next to stress-ng (README, bench/RESULTS.md). Every other
    // figure must meet the criteria; the run time must be compared and never read short.
    const heldTime = /^celery-5-acks-late tick \d+: serviceTimeMean (\d+) ms, truth ([\d.]+) ms/;
    const others = result.problems.filter((problem) => !heldTime.test(problem));
    expect(others).toEqual([]);
    const run = result.figures.serviceTimeMean;
    expect(run.compared).toBeGreaterThan(0);
    for (const problem of result.problems) {
      const match = heldTime.exec(problem);
      if (match) expect(Number(match[1])).toBeGreaterThan(Number(match[2]));
    }
  }, 600_000);
});
