import type { QueueSnapshot } from '@qscale/contracts';
import type { MetricsReader } from '../../src/index.js';

/** What the test's own producer and consumers saw: the truth the reader is compared with. */
export class LoadLog {
  /** Job id -> when it became ready (the producer's clock). */
  readonly readyAt = new Map<string, number>();
  /** Job id -> when a consumer took it. */
  readonly pickedAt = new Map<string, number>();
  /** When each job finished. */
  readonly finishedAt: number[] = [];

  produced(id: string, at: number): void {
    this.readyAt.set(id, at);
  }

  picked(id: string, at: number): void {
    this.pickedAt.set(id, at);
  }

  finished(at: number): void {
    this.finishedAt.push(at);
  }

  /** Jobs per second that became ready in (at - windowMs, at]. */
  arrivalRate(at: number, windowMs: number): number {
    return countIn([...this.readyAt.values()], at, windowMs) / (windowMs / 1000);
  }

  /** Jobs per second taken by consumers in (at - windowMs, at]. */
  pickupRate(at: number, windowMs: number): number {
    return countIn([...this.pickedAt.values()], at, windowMs) / (windowMs / 1000);
  }

  /** Jobs per second finished in (at - windowMs, at]. */
  completionRate(at: number, windowMs: number): number {
    return countIn(this.finishedAt, at, windowMs) / (windowMs / 1000);
  }

  /** The waits consumers measured, for jobs taken in (at - windowMs, at]. */
  waits(at: number, windowMs: number): number[] {
    const waits: number[] = [];
    for (const [id, picked] of this.pickedAt) {
      const ready = this.readyAt.get(id);
      if (ready !== undefined && picked > at - windowMs && picked <= at) waits.push(picked - ready);
    }
    return waits;
  }

  /** Age at `at` of the oldest job ready by then and not yet taken. */
  oldestAge(at: number): number {
    let oldest = Number.POSITIVE_INFINITY;
    for (const [id, ready] of this.readyAt) {
      if (ready > at) continue;
      const picked = this.pickedAt.get(id);
      if (picked === undefined || picked > at) oldest = Math.min(oldest, ready);
    }
    return Number.isFinite(oldest) ? at - oldest : 0;
  }
}

export function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
}

function countIn(times: number[], at: number, windowMs: number): number {
  return times.filter((time) => time > at - windowMs && time <= at).length;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface LoadPlan {
  reader: MetricsReader;
  ratePerSecond: number;
  durationMs: number;
  tickMs: number;
  /** Adds one job; returns its id (the harness records when it was ready). */
  produce(): Promise<string>;
}

/**
 * Produces `ratePerSecond` jobs for `durationMs` on a fixed schedule (jobs late because of a
 * busy machine are produced at once, and recorded when they really were), while the reader
 * takes a snapshot every `tickMs`. Consumers are the caller's.
 */
export async function runLoad(plan: LoadPlan, log: LoadLog): Promise<QueueSnapshot[][]> {
  const snapshots: QueueSnapshot[][] = [];
  const start = Date.now();
  let stop = false;
  const ticking = (async () => {
    let next = Date.now();
    while (!stop) {
      snapshots.push(await plan.reader.snapshot());
      next += plan.tickMs;
      await sleep(Math.max(0, next - Date.now()));
    }
  })();
  const total = Math.round((plan.ratePerSecond * plan.durationMs) / 1000);
  for (let index = 0; index < total; index++) {
    const due = start + (index * 1000) / plan.ratePerSecond;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    const at = Date.now();
    const id = await plan.produce();
    log.produced(id, at);
  }
  await sleep(Math.max(0, start + plan.durationMs - Date.now()));
  stop = true;
  await ticking;
  snapshots.push(await plan.reader.snapshot());
  return snapshots;
}
