/**
 * Laravel 8 (Debian's Illuminate\Queue over phpredis, a real Illuminate\Queue\Worker) against
 * the accuracy criteria: Poisson arrivals at 3/s for 45 s, one worker, 200 ms jobs,
 * the reader read every 2 s as the daemon reads it (see harness.ts for the criteria). Plain
 * payloads (no timestamp; retry_after given) and payloads with Horizon's fields (pushedAt;
 * retry_after learned).
 */
import { describe, expect, it } from 'vitest';
import { runAccuracy } from './harness.js';
import { laravel8, laravelHorizonPayload } from './laravel.js';

describe('Laravel 8 with a real worker', () => {
  for (const [system, seed] of [
    [laravel8, 8],
    [laravelHorizonPayload, 9],
  ] as const) {
    it(`${system.name}: reads every figure within the accuracy criteria`, async () => {
      const result = await runAccuracy(system, {
        rate: 3,
        serviceMs: 200,
        durationMs: 45_000,
        seed,
      });
      expect(result.jobs).toBeGreaterThan(90);
      expect(result.problems).toEqual([]);
    }, 240_000);
  }
});
