/** One job of the demo, as BullMQ recorded it (epoch ms). */
export interface DemoJob {
  addedAt: number;
  /** When a worker picked it up; null while it waits. */
  startedAt: number | null;
  /** When it finished (or failed); null while it waits or runs. */
  finishedAt: number | null;
}

/** The span of the run that the figures cover, epoch ms. */
export interface Window {
  start: number;
  end: number;
}

/** One worker process seen by the recorder: from its spawn to its exit, as far as samples tell. */
interface Lifetime {
  from: number;
  to: number;
  alive: boolean;
}

/**
 * Worker lifetimes from the daemon's pool status, sampled about once a second. A worker
 * counts from its spawn (or the start of the window) until the first sample that no longer
 * lists it, or the end of the window: never less than it lived, so the jobs it ran always fit
 * in its worker-seconds.
 */
export class WorkerClock {
  readonly #workers = new Map<string, Lifetime>();

  constructor(readonly window: { start: number }) {}

  /** Records one sample: the ids and spawn times of the workers alive at `at`. */
  sample(at: number, workers: readonly { id: string; spawnedAt: number }[]): void {
    const seen = new Set<string>();
    for (const worker of workers) {
      seen.add(worker.id);
      const known = this.#workers.get(worker.id);
      if (known) known.to = at;
      else {
        this.#workers.set(worker.id, {
          from: Math.max(worker.spawnedAt, this.window.start),
          to: at,
          alive: true,
        });
      }
    }
    for (const [id, lifetime] of this.#workers) {
      if (lifetime.alive && !seen.has(id)) {
        lifetime.to = at;
        lifetime.alive = false;
      }
    }
  }

  /** Seconds of worker processes alive within the window (those alive at its end count to it). */
  workerSeconds(end: number): number {
    let ms = 0;
    for (const { from, to, alive } of this.#workers.values()) {
      ms += Math.max(0, Math.min(alive ? end : to, end) - from);
    }
    return ms / 1_000;
  }
}

/**
 * Seconds of work done within the window divided by the worker's concurrency: the least
 * worker-seconds the work needed. Only the time jobs actually ran counts (a job still waiting
 * has cost nothing yet), clipped to the window, so it can never exceed the worker-seconds.
 */
export function busySeconds(jobs: readonly DemoJob[], window: Window, concurrency: number): number {
  let ms = 0;
  for (const job of jobs) {
    if (job.startedAt === null) continue;
    const from = Math.max(job.startedAt, window.start);
    const to = Math.min(job.finishedAt ?? window.end, window.end);
    ms += Math.max(0, to - from);
  }
  return ms / 1_000 / Math.max(1, concurrency);
}

/** Pickup wait of a job, ms: until a worker took it, or until `at` while it still waits. */
export function waitMs(job: DemoJob, at: number): number {
  return Math.max(0, (job.startedAt ?? at) - job.addedAt);
}

/** The `q` quantile (0-1) of values sorted ascending, nearest rank; 0 for none. */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? 0;
}

/**
 * p95 pickup wait per interval, ms, at the end of each interval: over the jobs picked up in
 * it and the jobs still waiting at its end (with their wait so far), so a queue nobody serves
 * shows a rising wait instead of a gap. Null for an interval without any such job.
 */
export function pickupP95PerInterval(
  jobs: readonly DemoJob[],
  window: Window,
  intervalMs: number,
): { tMs: number; p95Ms: number | null }[] {
  const points: { tMs: number; p95Ms: number | null }[] = [];
  for (let end = window.start + intervalMs; end < window.end + intervalMs; end += intervalMs) {
    const at = Math.min(end, window.end);
    const begin = end - intervalMs;
    const waits = jobs.flatMap((job) => {
      const picked = job.startedAt !== null && job.startedAt > begin && job.startedAt <= at;
      const waiting = job.addedAt <= at && (job.startedAt === null || job.startedAt > at);
      return picked || waiting ? [waitMs(job, at)] : [];
    });
    waits.sort((a, b) => a - b);
    points.push({ tMs: at - window.start, p95Ms: waits.length > 0 ? quantile(waits, 0.95) : null });
  }
  return points;
}
