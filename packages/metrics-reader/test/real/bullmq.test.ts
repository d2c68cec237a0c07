/**
 * BullMQ 5 and 6 (one real Worker, concurrency 1, in a child process) against the issue's
 * accuracy criteria: Poisson arrivals at 3/s for 45 s, 200 ms jobs, the reader read every 2 s as
 * the daemon reads it (see harness.ts for the criteria).
 */
import { describe, expect, it } from 'vitest';
import { bullmq5, bullmq6 } from './bullmq.js';
import { runAccuracy } from './harness.js';

describe.each([bullmq5, bullmq6])('$name with a real worker', (system) => {
  it('reads every figure within the accuracy criteria', async () => {
    const result = await runAccuracy(system, {
      rate: 3,
      serviceMs: 200,
      durationMs: 45_000,
      seed: 12,
    });
    expect(result.jobs).toBeGreaterThan(90);
    expect(result.problems).toEqual([]);
  }, 240_000);
});
