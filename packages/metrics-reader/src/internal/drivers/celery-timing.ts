/** One look at the queue: its lists' total length and the queue's held deliveries. */
export interface Observation {
  /** When the replies came back, epoch ms. */
  at: number;
  /** Messages in the queue's lists (every priority step). */
  listed: number;
  /** This queue's delivery tags in `unacked_index`, with their delivery time (epoch ms). */
  held: Map<string, { deliveredAt: number; eta: boolean }>;
}

/** What one observation adds to the windows. */
export interface TimingEvents {
  /** Arrivals in (previous observation, this one]. */
  arrivals: number;
  /** Deliveries that left `unacked` (with acks_late: finished) in that interval. */
  completions: number;
  /** Estimated pickups: wait from arrival to delivery, with the delivery time. */
  pickups: { waitMs: number; atMs: number }[];
  /** Estimated run times: delivery to leaving `unacked`, with the end time. */
  runs: { runMs: number; atMs: number }[];
  /** The interval the counts cover; null on the first observation. */
  from: number | null;
}

const MAX_PENDING_ARRIVALS = 100_000;

/**
 * Times a Celery queue whose workers ack late (the message stays in kombu's `unacked` while the
 * task runs) from repeated observations, each a few ms apart to a tick apart:
 * - a delivery is exact: its tag's score in `unacked_index` is the worker's fetch time, and with
 *   `worker_prefetch_multiplier = 1` a worker fetches only when free, so the task starts then;
 * - its end is when the tag left `unacked`, known to between two observations (the midpoint);
 * - arrivals carry no time in Celery's message: they are counted by conservation (list growth
 *   plus deliveries) per interval and spread evenly inside it, then matched first in, first
 *   out with the deliveries (the lists are FIFO; priority steps make this an estimate).
 * The error of each estimate is bounded by the interval between observations.
 */
export class DeliveryTiming {
  private previous: Observation | null = null;
  /** Estimated arrival times not yet matched with a delivery (oldest first). */
  private arrivals: number[] = [];
  /** Messages listed before the first observation: their arrival is unknown. */
  private backlogUnknown = 0;
  /** A pop whose delivery was not yet in `unacked_index` (kombu writes it just after). */
  private carried = 0;

  /** Takes the next observation; an older one than the last is ignored (null). */
  observe(next: Observation): TimingEvents | null {
    const previous = this.previous;
    if (previous && next.at <= previous.at) return null;
    this.previous = next;
    const events: TimingEvents = {
      arrivals: 0,
      completions: 0,
      pickups: [],
      runs: [],
      from: previous?.at ?? null,
    };
    if (!previous) {
      this.backlogUnknown = next.listed + next.held.size;
      return events;
    }
    const midpoint = (previous.at + next.at) / 2;
    for (const [tag, held] of previous.held) {
      if (next.held.has(tag)) continue;
      events.completions++;
      if (!held.eta) {
        const started = held.deliveredAt;
        // Only deliveries seen fresh (after the observation before them) time a whole run.
        if (started <= midpoint) events.runs.push({ runMs: midpoint - started, atMs: midpoint });
      }
    }
    const delivered = [...next.held]
      .filter(([tag]) => !previous.held.has(tag))
      .map(([, held]) => held)
      .sort((a, b) => a.deliveredAt - b.deliveredAt);
    let net = next.listed - previous.listed + delivered.length + this.carried;
    if (net < 0 && this.carried < 0) {
      // A pop whose delivery still did not show (acked before it could be read): it took the
      // oldest arrival, so drop that one to keep the first-in, first-out matching aligned.
      for (let missed = this.carried; missed < 0; missed++) {
        if (this.backlogUnknown > 0) this.backlogUnknown--;
        else this.arrivals.shift();
      }
      net -= this.carried;
    }
    this.carried = Math.min(0, net);
    const arrived = Math.max(0, net);
    events.arrivals = arrived;
    const span = next.at - previous.at;
    for (let index = 0; index < arrived; index++) {
      this.arrivals.push(previous.at + ((index + 0.5) * span) / arrived);
    }
    for (const held of delivered) {
      if (this.backlogUnknown > 0) {
        this.backlogUnknown--;
        continue;
      }
      const arrivedAt = this.arrivals.shift();
      // An ETA task waits for its time on purpose: that is no pickup delay.
      if (arrivedAt === undefined || held.eta) continue;
      // Arrived in this same interval: before its delivery, so in (previous, delivered].
      const estimate =
        arrivedAt > previous.at
          ? (previous.at + Math.max(previous.at, held.deliveredAt)) / 2
          : arrivedAt;
      events.pickups.push({
        waitMs: Math.max(0, held.deliveredAt - estimate),
        atMs: held.deliveredAt,
      });
    }
    if (this.arrivals.length > MAX_PENDING_ARRIVALS)
      this.arrivals.splice(0, this.arrivals.length - MAX_PENDING_ARRIVALS);
    return events;
  }

  /** Forgets everything (the queue could not be read: the next observation starts afresh). */
  reset(): void {
    this.previous = null;
    this.arrivals = [];
    this.backlogUnknown = 0;
    this.carried = 0;
  }
}
