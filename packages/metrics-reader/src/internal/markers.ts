import type { Batch } from './batch.js';
import { type Command, Prepared, type Reply } from './connection.js';

/**
 * A job seen at the newest end of a list. It arrived after the previous read (or it would
 * have been the newest then) and no later than the read that saw it.
 */
interface Marker {
  element: string;
  /** Lower bound of its arrival: the previous read, or null when unknown (first read). */
  afterMs: number | null;
  /** Upper bound of its arrival: the read that saw it first. */
  seenAt: number;
  /** Best estimate of its arrival; null when its lower bound is unknown (first read). */
  arrivedAt: number | null;
  /** Jobs older than it at its last check (its distance from the old end). */
  olderCount: number | null;
  /** When it was last seen present. */
  presentAt: number;
  /** Its LPOS, encoded once per scan direction (the element is a whole payload). */
  lpos?: { fromHead: boolean; command: Prepared };
}

/** What the markers tell about one interval between two reads. */
export interface MarkerReading {
  /** Jobs taken from the old end since the previous read; null when not measurable. */
  pops: number | null;
  /**
   * When the oldest job arrived: a bracket (`fromMs` null when only an upper bound is known)
   * and a best estimate inside it; null when nothing is known.
   */
  oldestArrival: { fromMs: number | null; toMs: number; estimateMs: number } | null;
  /** Waits of markers that left the list since the previous read (estimates, in ms). */
  waits: number[];
}

const MAX_MARKERS = 64;

/**
 * Follows a FIFO list whose jobs carry no usable timestamp (Celery; Laravel before 12.11)
 * by remembering, each tick, the newest job as a marker and later finding it again with LPOS
 * (by value, from the nearer end). A marker that is still there tells how many jobs were
 * taken from the old end since; a marker that is gone was picked up between two reads.
 * Accurate to one tick whenever the list keeps a backlog across reads; in a list that drains
 * between reads nothing persists, and the figures it feeds stay unknown.
 */
export class ListMarkers {
  private markers: Marker[] = [];
  private newestVanished: Marker | null = null;
  private oldestSeen: { element: string; since: number } | null = null;
  private previousLength: number | null = null;
  private previousReadAt: number | null = null;
  private checked: { marker: Marker; index: number | null | undefined }[] = [];
  private newest: string | null | undefined;
  private readonly newestCommand: Prepared;

  constructor(
    private readonly key: string,
    /** Where jobs are taken from: `head` (LPOP) or `tail` (RPOP/BRPOP). */
    private readonly oldEnd: 'head' | 'tail',
    private readonly checksPerTick: number,
    /**
     * A newer job longer than this is not made a marker: LPOS sends the marker's whole payload
     * every tick it is checked.
     */
    private readonly maxMarkerLength = Number.POSITIVE_INFINITY,
  ) {
    this.newestCommand = new Prepared(['lindex', key, oldEnd === 'head' ? -1 : 0]);
  }

  /**
   * Adds LINDEX of the newest job and LPOS of the oldest markers. The list's length and oldest
   * job are read by the driver and passed to `observe`. With `skipNewest` the newest job is
   * not read this tick (the driver knows it is a payload too large to read again) and no
   * marker is added.
   */
  plan(batch: Batch, onError: (command: Command, error: Error) => void, skipNewest = false): void {
    this.newest = skipNewest ? null : undefined;
    this.checked = this.markers.slice(0, this.checksPerTick).map((marker) => ({
      marker,
      index: undefined,
    }));
    if (!skipNewest) this.planNewest(batch, onError);
    for (const check of this.checked) {
      const command = this.lposCommand(check.marker);
      batch.add(command, (reply: Reply) => {
        if (reply instanceof Error) {
          onError(command.command, reply);
          return;
        }
        check.index = typeof reply === 'number' ? reply : null;
      });
    }
  }

  /**
   * Adds LINDEX of the newest job; in the second round trip when `plan` skipped it and the
   * driver found it needs it after all.
   */
  planNewest(batch: Batch, onError: (command: Command, error: Error) => void): void {
    const newestCommand = this.newestCommand;
    this.newest = undefined;
    batch.add(newestCommand, (reply: Reply) => {
      if (reply instanceof Error) onError(newestCommand.command, reply);
      else this.newest = typeof reply === 'string' ? reply : null;
    });
  }

  private lposCommand(marker: Marker): Prepared {
    const length = this.previousLength ?? 0;
    const fromOld = marker.olderCount ?? length;
    const fromNew = Math.max(0, length - 1 - fromOld);
    // Scan from the end the marker is probably nearer to; LPOS answers the index from the head.
    const fromHead = this.oldEnd === 'head' ? fromOld <= fromNew : fromNew < fromOld;
    if (marker.lpos?.fromHead !== fromHead) {
      const command: Command = ['lpos', this.key, marker.element, 'RANK', fromHead ? 1 : -1];
      marker.lpos = { fromHead, command: new Prepared(command) };
    }
    return marker.lpos.command;
  }

  /**
   * Whether the old end is provably the same job as at the previous read, from this tick's
   * replies (before `observe`): a marker present at both reads still has as many jobs ahead of
   * it, so none was taken and none put in front. False when no marker can tell.
   */
  oldEndUnchanged(): boolean {
    // Only for a head-popped list: there the index from the head is the jobs ahead.
    if (this.oldEnd !== 'head' || this.previousReadAt === null) return false;
    return this.checked.some(
      ({ marker, index }) =>
        typeof index === 'number' &&
        marker.presentAt === this.previousReadAt &&
        index === marker.olderCount,
    );
  }

  /**
   * Interprets the replies. `length` is LLEN, `oldest` the job at the old end (LINDEX), both
   * read in the same round trip; null when they could not be read.
   */
  observe(readAt: number, length: number | null, oldest: string | null): MarkerReading {
    const previousReadAt = this.previousReadAt;
    const reading: MarkerReading = { pops: null, oldestArrival: null, waits: [] };
    const complete =
      length !== null &&
      this.newest !== undefined &&
      this.checked.every((c) => c.index !== undefined);
    if (!complete) {
      // A failed read breaks the chain; start afresh next tick.
      this.previousReadAt = null;
      this.previousLength = null;
      return reading;
    }

    // First the markers still there: one present at both reads counts the jobs taken since.
    let pops: number | null = null;
    for (const { marker, index } of this.checked) {
      if (index === null || index === undefined) continue;
      const olderCount = this.oldEnd === 'head' ? index : length - 1 - index;
      if (pops === null && marker.olderCount !== null && marker.presentAt === previousReadAt) {
        pops = Math.max(0, marker.olderCount - olderCount);
      }
    }
    // Then the ones gone: each was taken once the jobs ahead of it were. With the jobs taken in
    // the interval known, it went at about the (ahead + 1)-th of them; otherwise mid-interval.
    for (const { marker, index } of this.checked) {
      if (index !== null && index !== undefined) {
        marker.olderCount = this.oldEnd === 'head' ? index : length - 1 - index;
        marker.presentAt = readAt;
        continue;
      }
      this.markers = this.markers.filter((known) => known !== marker);
      this.newestVanished = marker;
      if (marker.arrivedAt === null) continue;
      const span = readAt - marker.presentAt;
      const ahead = marker.olderCount;
      const pickedAt =
        pops !== null && pops > 0 && ahead !== null && marker.presentAt === previousReadAt
          ? marker.presentAt + span * Math.min(1, (ahead + 1) / pops)
          : marker.presentAt + span / 2;
      reading.waits.push(pickedAt - marker.arrivedAt);
    }
    // Without a marker present at both reads (the list drained in between, or was empty), jobs
    // may have come and gone unseen: the count stays unknown.
    reading.pops = previousReadAt === null ? null : pops;

    // The newest job becomes a marker when it is not the newest marker already. Of the n jobs
    // that arrived in the interval it came last: about span / (n + 1) before the read.
    const newest = this.newest;
    if (
      typeof newest === 'string' &&
      newest.length <= this.maxMarkerLength &&
      this.markers.at(-1)?.element !== newest
    ) {
      let arrivedAt: number | null = null;
      if (previousReadAt !== null) {
        const span = readAt - previousReadAt;
        const arrived =
          pops !== null && this.previousLength !== null
            ? length - this.previousLength + pops
            : null;
        arrivedAt =
          arrived !== null && arrived > 0 ? readAt - span / (arrived + 1) : readAt - span / 2;
      }
      this.markers.push({
        element: newest,
        afterMs: previousReadAt,
        seenAt: readAt,
        arrivedAt,
        olderCount: length - 1,
        presentAt: readAt,
      });
      if (this.markers.length > MAX_MARKERS) this.thin();
    }

    reading.oldestArrival = this.oldestArrival(readAt, length, oldest);
    this.previousReadAt = readAt;
    this.previousLength = length;
    return reading;
  }

  private oldestArrival(
    readAt: number,
    length: number,
    oldest: string | null,
  ): MarkerReading['oldestArrival'] {
    if (length === 0 || oldest === null) {
      this.oldestSeen = null;
      return null;
    }
    if (this.oldestSeen?.element !== oldest) this.oldestSeen = { element: oldest, since: readAt };
    const exact = this.markers.find((marker) => marker.element === oldest);
    if (exact && (exact.afterMs !== null || exact.seenAt < readAt)) {
      return {
        fromMs: exact.afterMs,
        toMs: exact.seenAt,
        estimateMs: exact.arrivedAt ?? exact.seenAt,
      };
    }
    const firstPresent = this.markers[0];
    if (firstPresent && this.newestVanished) {
      // Newer than the newest marker that left, older than the oldest that stayed.
      const fromMs = this.newestVanished.seenAt;
      return { fromMs, toMs: firstPresent.seenAt, estimateMs: (fromMs + firstPresent.seenAt) / 2 };
    }
    // The backlog predates every marker: only a lower bound on its age is known, and none at
    // all on the first sighting.
    const upper = Math.min(firstPresent?.seenAt ?? readAt, this.oldestSeen.since);
    return upper < readAt ? { fromMs: null, toMs: upper, estimateMs: upper } : null;
  }

  /** Keeps the marker count bounded by dropping the one closest to its older neighbour. */
  private thin(): void {
    let drop = 1;
    let smallest = Number.POSITIVE_INFINITY;
    for (let index = 1; index < this.markers.length - 1; index++) {
      const gap = (this.markers[index]?.seenAt ?? 0) - (this.markers[index - 1]?.seenAt ?? 0);
      if (gap < smallest) {
        smallest = gap;
        drop = index;
      }
    }
    this.markers.splice(drop, 1);
  }
}
