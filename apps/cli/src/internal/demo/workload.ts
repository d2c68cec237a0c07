/** One queue of the demo's workload: how many jobs per second arrive at each moment. */
export interface DemoQueueLoad {
  queue: string;
  /** How long each job runs, ms. */
  jobMs: number;
  /** Arrival rate (jobs/s) at `tSec` seconds into the run. */
  rate(tSec: number): number;
  /** One-off batches: `count` jobs at once at `atSec`. */
  batches: { atSec: number; count: number }[];
}

/** The default length of the producer's run, seconds. */
export const DEMO_SECONDS = 60;

/** The demo's phase at `tSec`, for the live view: quarters of the run. */
export function phaseAt(tSec: number, seconds: number): string {
  const quarter = seconds / 4;
  if (tSec < quarter) return 'quiet';
  if (tSec < 2 * quarter) return 'spike';
  if (tSec < 3 * quarter) return 'tail';
  return 'quiet again';
}

/**
 * emails: a quiet 2 jobs/s, a spike at 30 jobs/s for a quarter of the run, a tail falling
 * back over the next quarter, quiet again. reports: a trickle of slow jobs and one batch of 40
 * a third of the way in.
 */
export function demoWorkload(seconds: number): DemoQueueLoad[] {
  const quarter = seconds / 4;
  return [
    {
      queue: 'emails',
      jobMs: 150,
      rate: (t) => {
        if (t < quarter || t >= 3 * quarter) return 2;
        if (t < 2 * quarter) return 30;
        return 30 - ((t - 2 * quarter) / quarter) * 26;
      },
      batches: [],
    },
    {
      queue: 'reports',
      jobMs: 1_500,
      rate: () => 0.3,
      batches: [{ atSec: seconds / 3, count: 40 }],
    },
  ];
}
