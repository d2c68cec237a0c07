/**
 * Sidekiq 6.4 (Debian's ruby-sidekiq, a real `sidekiq` process, jobs pushed by Sidekiq::Client)
 * against the accuracy criteria: Poisson arrivals at 3/s for 45 s, one thread, 200 ms
 * jobs, the reader read every 2 s as the daemon reads it (see harness.ts for the criteria).
 */
import { describe, expect, it } from 'vitest';
import { runAccuracy } from './harness.js';
import { sidekiq6 } from './sidekiq.js';

describe('Sidekiq 6 with a real process', () => {
  it('reads every figure within the accuracy criteria', async () => {
    const result = await runAccuracy(sidekiq6, {
      rate: 3,
      serviceMs: 200,
      durationMs: 45_000,
      seed: 12,
    });
    expect(result.jobs).toBeGreaterThan(90);
    // Active is exact at the ticks where jobs wait, unknown (null, with the reason) otherwise.
    expect(result.figures.active.compared).toBeGreaterThan(0);
    expect(result.problems).toEqual([]);
  }, 240_000);
});
