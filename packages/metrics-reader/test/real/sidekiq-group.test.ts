/**
 * A Sidekiq worker group (two weighted queues served by the same processes) while the
 * processes change, as the daemon changes them. See sidekiq-group.ts and the README's Sidekiq
 * section: the global counter is timed per process, so the two queues' completions together
 * meet the 10 % criterion; how they are shared out, and the run time, come from the threads the
 * heartbeats found busy (one look per thread every 5 s), so their accuracy is that of a sample
 * of that size, checked here in standard errors of it.
 */
import { describe, expect, it } from 'vitest';
import { runGroupAccuracy } from './sidekiq-group.js';

/**
 * Checked below against their sampling error instead: rates and run time, and the pickups (the
 * pickups no probe saw are counted from the queue's share of the counter, so they carry its
 * error: with the split 0.39 off, a p95 read 268 ms for 594 ms).
 */
const SAMPLED = /(arrivalRate|completionRate|serviceTimeMean|pickupP50|pickupP95) /;

describe('a Sidekiq weighted group (-q high,3 -q default,1) whose processes start and stop', () => {
  it('reads the completions of both queues within 10 %, their split and run time within their sampling error, pending exact', async () => {
    const result = await runGroupAccuracy({
      // 1.6 erlangs on 3-5 threads: about 20 busy heartbeats a minute, enough to share the
      // counter (at 0.6 erlangs, 7 a minute, the split would stay unknown most of the run).
      rates: { high: 2, default: 2 },
      serviceMs: 400,
      durationMs: 75_000,
      seed: 16,
      initialProcesses: 3,
      // 3 -> 4 -> 5 -> 4 -> 3 -> 4 -> 3 processes during the load.
      changes: [
        { atMs: 10_000, change: 1 },
        { atMs: 20_000, change: 1 },
        { atMs: 30_000, change: -1 },
        { atMs: 40_000, change: -1 },
        { atMs: 50_000, change: 1 },
        { atMs: 62_000, change: -1 },
      ],
    });
    if (process.env.QSCALE_REAL_DEBUG)
      console.log(
        JSON.stringify({ ...result, queues: undefined }),
        JSON.stringify(Object.values(result.queues).map((queue) => queue.figures)),
      );
    expect(result.processChanges).toBe(6);
    expect(result.total.compared).toBeGreaterThan(10);
    expect(result.total.failed).toBe(0);
    // Five standard errors of a sample of the heartbeats that found a job (busy thread-time /
    // 5 s): six runs were off by up to 3.0 of them (the looks are fewer than that, and not
    // independent), a run time as far off as 1,000 ms for 400 ms fails.
    expect(result.share.compared).toBeGreaterThan(10);
    expect(result.share.worstSigmas).toBeLessThanOrEqual(5);
    expect(result.runTime.compared).toBeGreaterThan(10);
    expect(result.runTime.worstSigmas).toBeLessThanOrEqual(5);
    // Pending and delayed exact at every tick.
    for (const queue of Object.values(result.queues))
      expect(queue.problems.filter((problem) => !SAMPLED.test(problem))).toEqual([]);
  }, 300_000);
});
