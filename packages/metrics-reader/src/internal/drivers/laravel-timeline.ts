/**
 * What one look at a Laravel queue saw: the list length, the delayed count and the whole
 * reserved set (member and score). `from` and `to` bracket the moment Redis answered.
 */
export interface Sighting {
  from: number;
  to: number;
  length: number;
  delayed: number;
  reserved: readonly (readonly [string, number])[];
}

/** What happened between two sightings. */
export interface Interval {
  /** The two sightings' moments (the middle of each one's round trip). */
  from: number;
  to: number;
  /** Jobs that entered the queue (list, delayed or reserved total grew, net of departures). */
  arrivals: number;
  /** Members that entered the reserved set. */
  starts: number;
  /** Members that left it. */
  finishes: number;
  /**
   * Waits from entering the list to reservation, ms, with the reservation's moment and the
   * width of the span the truth lies in (the two moments' uncertainties added).
   */
  pickups: { waitMs: number; at: number; member: string; widthMs: number }[];
  /** Run times of the members that left, ms, with the moment they left and the span's width. */
  runs: { runMs: number; at: number; widthMs: number }[];
  /** Reservations placed in time (for a payload-based pickup: createdAt / pushedAt). */
  reservations: { member: string; at: number }[];
}

interface Held {
  /** Estimated reservation moment; null for members already there at the first sighting. */
  reservedAt: number | null;
  /** Width of the span the reservation is known to lie in, ms. */
  reservedWidth: number;
  /** Moment of the last sighting that still showed it. */
  lastSeen: number;
}

/**
 * Follows a Laravel queue from sighting to sighting (each tick's read and the sub-tick probes)
 * and turns the differences into events. Laravel 8-11 payloads carry no time, Redis keeps no
 * counter: a job is only known by being seen. Between two sightings a new reserved member was
 * reserved, a missing one finished, and the list gained `Δlength + starts` jobs, which are
 * popped in FIFO order; so every moment is known to the gap between sightings. With the
 * connection's `retry_after` known, a reservation's score (reserved-at + retry_after, whole
 * seconds) narrows its moment to the second as well.
 */
export class LaravelTimeline {
  private last: { at: number; length: number; delayed: number; reserved: number } | null = null;
  private held = new Map<string, Held>();
  /** Moments the list's jobs entered it, oldest first (null: there before the first sighting). */
  private entries: ({ at: number; widthMs: number } | null)[] = [];
  /** Learned reservation offset bounds, seconds, when retry_after was not given. */
  private offset: { low: number; high: number } | null = null;

  constructor(private readonly retryAfter: number | null) {}

  /** Forgets everything: the next sighting starts afresh (after a failed or partial read). */
  reset(): void {
    this.last = null;
    this.held = new Map();
    this.entries = [];
  }

  /**
   * When the job at the head of the list entered it, as of the last sighting; undefined when
   * the list is empty or the head was already there at the first sighting (unknown).
   */
  oldestEntry(): number | undefined {
    return this.entries[0]?.at;
  }

  /** Takes a sighting; returns what happened since the previous one (null on the first). */
  observe(sighting: Sighting): Interval | null {
    const last = this.last;
    // A tick that waited for a probe in flight began before the probe's answer: keep order.
    const at = Math.max((sighting.from + sighting.to) / 2, last?.at ?? Number.NEGATIVE_INFINITY);
    const current = new Map<string, Held>();
    const fresh: (readonly [string, number])[] = [];
    for (const entry of sighting.reserved) {
      const [member] = entry;
      const known = this.held.get(member);
      if (known) {
        current.set(member, { ...known, lastSeen: at });
      } else {
        fresh.push(entry);
        current.set(member, { reservedAt: null, reservedWidth: 0, lastSeen: at });
      }
    }
    this.last = {
      at,
      length: sighting.length,
      delayed: sighting.delayed,
      reserved: sighting.reserved.length,
    };
    if (!last) {
      this.held = current;
      this.entries = new Array<null>(sighting.length).fill(null);
      return null;
    }

    const interval: Interval = {
      from: last.at,
      to: at,
      arrivals: 0,
      starts: fresh.length,
      finishes: 0,
      pickups: [],
      runs: [],
      reservations: [],
    };
    for (const [member, held] of this.held) {
      if (current.has(member)) continue;
      interval.finishes++;
      if (held.reservedAt === null) continue;
      const finishedAt = (held.lastSeen + at) / 2;
      interval.runs.push({
        runMs: finishedAt - held.reservedAt,
        at: finishedAt,
        widthMs: at - held.lastSeen + held.reservedWidth,
      });
    }
    const total = sighting.length + sighting.delayed + sighting.reserved.length;
    const lastTotal = last.length + last.delayed + last.reserved;
    interval.arrivals = Math.max(0, total - lastTotal + interval.finishes);

    // Reservations in the order they happened (score: whole seconds, then the list order).
    const placed = fresh
      .map(([member, score]) => ({ member, ...this.place(score, last.at, at) }))
      .sort((a, b) => a.at - b.at);
    for (const { member, at: reservedAt, widthMs } of placed) {
      const held = current.get(member);
      if (held) {
        held.reservedAt = reservedAt;
        held.reservedWidth = widthMs;
      }
      interval.reservations.push({ member, at: reservedAt });
    }

    // The list gained what it grew by plus what was popped from it; they entered in between.
    const entered = Math.max(0, sighting.length - last.length + fresh.length);
    for (let index = 0; index < entered; index++) {
      const width = at - last.at;
      this.entries.push({ at: last.at + ((index + 0.5) / entered) * width, widthMs: width });
    }
    for (const { member, at: reservedAt, widthMs } of placed) {
      const entry = this.entries.shift();
      if (!entry) continue;
      interval.pickups.push({
        waitMs: Math.max(0, reservedAt - entry.at),
        at: reservedAt,
        member,
        widthMs: widthMs + entry.widthMs,
      });
    }
    // Keep the list's entries in step with its length (jobs moved in from the delayed set or
    // back from expired reservations also enter it; a cleared list empties it).
    while (this.entries.length > sighting.length) this.entries.shift();
    while (this.entries.length < sighting.length) this.entries.unshift(null);

    this.held = current;
    return interval;
  }

  /**
   * A reservation's moment: between the two sightings, narrowed by its score when the offset
   * is known (given, or learned: it is the same for every job of the connection).
   */
  private place(score: number, from: number, to: number): { at: number; widthMs: number } {
    let low: number;
    let high: number;
    if (this.retryAfter !== null) {
      low = high = this.retryAfter;
    } else {
      // score = floor(reservedAt s) + offset and from < reservedAt < to.
      const seen = { low: score - Math.floor(to / 1000), high: score - Math.floor(from / 1000) };
      const known = this.offset;
      const narrowed = known
        ? { low: Math.max(known.low, seen.low), high: Math.min(known.high, seen.high) }
        : seen;
      // Disjoint means the offset changed (a new retry_after): learn it again.
      this.offset = narrowed.low <= narrowed.high ? narrowed : seen;
      ({ low, high } = this.offset);
    }
    const start = Math.max(from, (score - high) * 1000);
    const end = Math.min(to, (score - low + 1) * 1000);
    return end >= start
      ? { at: (start + end) / 2, widthMs: end - start }
      : { at: (from + to) / 2, widthMs: to - from };
  }
}
