import { parseJsonObject, secondsOrMillis } from '../payload.js';

/** A job near the tail of a Sidekiq list (the end BRPOP takes from). */
export interface TailJob {
  raw: string;
  enqueuedAt: number;
}

/** The two jobs next in line at one instant: `LRANGE queue -2 -1`. */
export interface TailView {
  atMs: number;
  /** The job taken next (index -1), null when the list is empty. */
  next: TailJob | null;
  /** The job behind it (index -2), null when fewer than two wait. */
  behind: TailJob | null;
}

export interface TailEvents {
  /** A job seen waiting was taken at about `atMs`; `weight` jobs are stood for. */
  pickup(waitMs: number, atMs: number, weight: number): void;
  /** Time from one pickup to the next on a saturated queue (a worker went from one job straight to the next). */
  gap(gapMs: number, atMs: number): void;
}

/**
 * Times pickups from successive views of the list's tail. A job next in line at one view and
 * gone at the following one was taken between them: placed at the midpoint, the error is at
 * most half the time between views (the probe interval, not the tick). When exactly one job
 * was taken and the job behind it was already waiting, the worker went straight from one job to
 * the next: the time to the next pickup is the first job's run time (per thread when several
 * threads serve the queue). Jobs taken between two views without ever being seen are not timed
 * here; the reader counts them from the completion counter.
 */
export class TailWatch {
  private last: TailView | null = null;
  /** The pickup before, when the job taken next was already waiting then. */
  private chain: { atMs: number; nextRaw: string } | null = null;

  constructor(private readonly events: TailEvents) {}

  /** A new view; `ratePerSecond` (completions) sizes a burst of several pickups between views. */
  observe(view: TailView, ratePerSecond: number | null): void {
    const previous = this.last;
    if (previous && view.atMs <= previous.atMs) return;
    this.last = view;
    if (!previous?.next) {
      this.chain = null;
      return;
    }
    const taken = previous.next;
    if (view.next?.raw === taken.raw) return;

    const pickedAt = (previous.atMs + view.atMs) / 2;
    this.events.pickup(pickedAt - taken.enqueuedAt, pickedAt, 1);
    if (this.chain?.nextRaw === taken.raw) this.events.gap(pickedAt - this.chain.atMs, pickedAt);

    const behind = previous.behind;
    const onlyOne =
      behind === null
        ? view.next === null || view.next.enqueuedAt > previous.atMs
        : view.next?.raw === behind.raw;
    // The new head of line waited through the pickup: the worker goes straight on to it.
    this.chain =
      onlyOne && behind !== null && view.next !== null
        ? { atMs: pickedAt, nextRaw: view.next.raw }
        : null;
    if (!onlyOne && behind !== null) {
      // The job behind went too, and maybe more: they waited at least as long, so the second
      // stands for the burst beyond the first, sized by the completion rate.
      const burst =
        ratePerSecond === null ? 1 : (ratePerSecond * (view.atMs - previous.atMs)) / 1000;
      this.events.pickup(pickedAt - behind.enqueuedAt, pickedAt, Math.max(1, burst - 1));
    }
  }

  /**
   * How long the job next in line at the last view had waited by `atMs`; 0 when the list was
   * empty or nothing was seen yet.
   */
  headWaitMs(atMs: number): number {
    const next = this.last?.next;
    return next ? Math.max(0, atMs - next.enqueuedAt) : 0;
  }

  /** The list could not be read: the next view does not bridge the gap. */
  reset(): void {
    this.last = null;
    this.chain = null;
  }
}

/** Parses a job of the list: `enqueued_at` in float seconds (before 8.0) or integer ms. */
export function tailJob(raw: string, where: string, maxBytes: number): TailJob | null {
  const job = parseJsonObject(raw, where, maxBytes);
  const enqueuedAt = secondsOrMillis(job.enqueued_at ?? job.created_at);
  return enqueuedAt === null ? null : { raw, enqueuedAt };
}
