/**
 * RQ (Debian's python3-rq, a real `rq worker`) against the accuracy criteria: Poisson
 * arrivals at 3/s for 45 s, one worker, 200 ms jobs, the reader read every 2 s as the daemon
 * reads it (see harness.ts for the criteria).
 */
import { describe, expect, it } from 'vitest';
import { runAccuracy } from './harness.js';
import { rq } from './rq.js';

describe('RQ with a real worker', () => {
  it('reads every figure within the accuracy criteria', async () => {
    const result = await runAccuracy(rq, { rate: 3, serviceMs: 200, durationMs: 45_000, seed: 12 });
    expect(result.jobs).toBeGreaterThan(90);
    expect(result.problems).toEqual([]);
  }, 240_000);
});
