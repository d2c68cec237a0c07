import type { Batch } from '../batch.js';
import type { Prepared, Sendable } from '../connection.js';
import { ListMarkers } from '../markers.js';
import type { ResolvedSource } from '../options.js';
import { LastParsed, parseJsonObject } from '../payload.js';
import { QueueReader, type ReaderContext, type Tick } from '../queue-reader.js';

/** kombu's priority separator and the extra priority steps (0 is the plain queue name). */
const SEPARATOR = '\x06\x16';
const PRIORITY_STEPS = [3, 6, 9];

/**
 * Celery with the Redis broker (kombu): the queue is a list (LPUSH, BRPOP from the tail) plus
 * one list per extra priority step. Messages carry no enqueue time and Redis keeps no counter,
 * and a task being run is not visible in Redis (it leaves `unacked` when it starts), so
 * `active` is unknown; age, pickups and rates come from list markers (estimates, accurate to a
 * tick while a backlog persists).
 */
export class CeleryReader extends QueueReader {
  protected readonly reportsFailed = false;
  private readonly key: string;
  private readonly markers: ListMarkers;
  private previous: { length: number; readAt: number } | null = null;
  /** When each priority list's oldest message was first seen there. */
  private readonly firstSeen = new Map<string, { element: string; since: number }>();
  private lastLengths = new Map<string, number>();

  private lengths = new Map<string, number>();
  private lengthsRead = 0;
  private oldest = new Map<string, string | null>();
  private readonly keys: string[];
  private readonly printableKeys: Map<string, string>;
  private readonly checked = new LastParsed<Record<string, unknown>>();
  private readonly llen: Map<string, Prepared>;
  private readonly tail: Map<string, Prepared>;

  constructor(source: ResolvedSource, context: ReaderContext) {
    super(source, context);
    this.key = `${source.prefix}${source.backendName}`;
    this.keys = [this.key, ...PRIORITY_STEPS.map((step) => `${this.key}${SEPARATOR}${step}`)];
    this.printableKeys = new Map(this.keys.map((key) => [key, printable(key)]));
    this.llen = new Map(this.keys.map((key) => [key, this.prepare('llen', key)]));
    this.tail = new Map(this.keys.map((key) => [key, this.prepare('lindex', key, -1)]));
    this.markers = new ListMarkers(this.key, 'tail', context.options.markerChecksPerTick);
    this.pickupSource = 'estimate';
  }

  readyCommands(): Sendable[] {
    return [...this.llen.values()];
  }

  plan(batch: Batch): void {
    this.lengths = new Map();
    this.lengthsRead = 0;
    this.oldest = new Map();
    for (const key of this.keys) {
      this.read(
        batch,
        this.llen.get(key) as Prepared,
        ['pending', 'oldestPendingAgeMs', 'arrivalRate', 'completionRate'],
        (v) => {
          this.lengths.set(key, this.count(v, 'LLEN', this.printableKeys.get(key)));
          this.lengthsRead++;
        },
      );
      // The plain list always (markers need its oldest); the others only while they hold jobs.
      if (key === this.key || (this.lastLengths.get(key) ?? 0) > 0) {
        this.read(batch, this.tail.get(key) as Prepared, ['oldestPendingAgeMs'], (v) => {
          this.oldest.set(key, typeof v === 'string' ? v : null);
        });
      }
    }
    this.markers.plan(batch, (command, error) =>
      this.commandFailed(command, error, ['arrivalRate', 'completionRate', 'oldestPendingAgeMs']),
    );
  }

  protected finish(tick: Tick): void {
    const draft = this.draft;
    const complete = this.lengthsRead === this.keys.length;
    const total = complete ? [...this.lengths.values()].reduce((sum, n) => sum + n, 0) : null;
    draft.set('pending', total, 'counter');
    draft.set('delayed', null, 'counter');
    draft.set('active', null, 'counter');
    this.lastLengths = this.lengths;

    const mainLength = this.lengths.get(this.key) ?? null;
    const mainOldest = this.oldest.get(this.key) ?? null;
    const reading = this.markers.observe(tick.readAt, mainLength, mainOldest);
    for (const wait of reading.waits) this.pickups.add(wait, tick.readAt);

    this.guard(['oldestPendingAgeMs'], () => {
      if (total === null) return;
      if (total === 0) {
        draft.set('oldestPendingAgeMs', 0, 'estimate');
        return;
      }
      const arrivals: number[] = [];
      if (mainOldest !== null) {
        // The message must at least be JSON; parsed once while it stays the oldest.
        this.checked.get(mainOldest, (raw) =>
          parseJsonObject(raw, `LINDEX ${printable(this.key)} -1`, this.options.maxPayloadBytes),
        );
        const arrival = reading.oldestArrival;
        if (arrival) {
          arrivals.push(arrival.estimateMs);
        }
      }
      for (const key of this.keys.slice(1)) {
        const element = this.oldest.get(key);
        if (typeof element !== 'string') {
          this.firstSeen.delete(key);
          continue;
        }
        const known = this.firstSeen.get(key);
        if (known?.element === element) arrivals.push(known.since);
        else this.firstSeen.set(key, { element, since: tick.readAt });
      }
      if (arrivals.length > 0) {
        draft.set(
          'oldestPendingAgeMs',
          Math.max(0, tick.startedAt - Math.min(...arrivals)),
          'estimate',
        );
      }
    });

    // Rates need the plain list's pops; the priority lists only add their growth.
    const previous = this.previous;
    if (total !== null && mainLength !== null) {
      if (previous && reading.pops !== null) {
        this.completions.add(previous.readAt, tick.readAt, reading.pops);
        this.arrivals.add(previous.readAt, tick.readAt, total - previous.length + reading.pops);
      }
      this.previous = { length: total, readAt: tick.readAt };
    } else {
      this.previous = null;
    }
  }
}

function printable(key: string): string {
  return key.replace(SEPARATOR, '\\x06\\x16');
}
