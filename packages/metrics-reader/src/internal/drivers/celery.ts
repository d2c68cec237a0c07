import type { Batch } from '../batch.js';
import type { Prepared, RedisLink, Reply, Sendable } from '../connection.js';
import { ListMarkers } from '../markers.js';
import type { ResolvedSource } from '../options.js';
import { DataProblem, describe, LastParsed, parseJsonObject } from '../payload.js';
import { QueueReader, type ReaderContext, type Tick } from '../queue-reader.js';
import { CeleryProbe } from './celery-probe.js';
import { DeliveryTiming, type Observation, type TimingEvents } from './celery-timing.js';
import { type HeldMessage, parseHeld } from './celery-unacked.js';

/** A held delivery of this queue: when it was taken, whether it has an ETA, whether that is past. */
interface HeldHere {
  deliveredAt: number;
  eta: boolean;
  due: boolean;
}

/** kombu's priority separator and the extra priority steps (0 is the plain queue name). */
const SEPARATOR = '\x06\x16';
const PRIORITY_STEPS = [3, 6, 9];

/**
 * Celery with the Redis broker (kombu). Ready messages are in a list (LPUSH, BRPOP from the
 * tail) plus one list per extra priority step. A message a worker has taken is in the `unacked`
 * hash (delivery tag -> [message, exchange, routing key]) with its delivery time as score in
 * `unacked_index`, until the worker acks it: as its task starts (Celery's default), or as it
 * ends with `acks_late`. An ETA/countdown task is taken at once and held there until its time.
 * So: `delayed` = held messages whose `headers.eta` is ahead; with early ack the other held
 * messages are reserved, not started (pending), and a running task is in no key (`active`
 * unknown); with `acksLate` they are the running tasks (with prefetch multiplier 1), and a probe
 * between ticks times deliveries and ends (run time, pickups, rates; see celery-timing.ts).
 */
export class CeleryReader extends QueueReader {
  protected readonly reportsFailed = false;
  private readonly key: string;
  private readonly acksLate: boolean;
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

  readonly unackedKey: string;
  readonly unackedIndexKey: string;
  /** Held messages by delivery tag (every queue of the prefix: kombu keeps one hash). */
  private readonly heldInfo = new Map<string, HeldMessage>();
  private unacked: Map<string, number> | null = null;
  private unackedComplete = false;
  /** Redis's `TIME` at this tick's first round trip, epoch ms. */
  private executedAt: number | null = null;
  private readonly timing = new DeliveryTiming();
  /** The sub-tick probe (acksLate with a probe interval), null otherwise. */
  readonly probe: CeleryProbe | null;

  constructor(source: ResolvedSource, context: ReaderContext, connection?: RedisLink) {
    super(source, context);
    this.key = `${source.prefix}${source.backendName}`;
    this.acksLate = source.celery?.acksLate ?? false;
    this.keys = [this.key, ...PRIORITY_STEPS.map((step) => `${this.key}${SEPARATOR}${step}`)];
    this.printableKeys = new Map(this.keys.map((key) => [key, printable(key)]));
    this.llen = new Map(this.keys.map((key) => [key, this.prepare('llen', key)]));
    this.tail = new Map(this.keys.map((key) => [key, this.prepare('lindex', key, -1)]));
    this.markers = new ListMarkers(this.key, 'tail', context.options.markerChecksPerTick);
    this.unackedKey = `${source.prefix}unacked`;
    this.unackedIndexKey = `${source.prefix}unacked_index`;
    this.pickupSource = 'estimate';
    if (this.acksLate) this.completionSource = 'observed';
    const interval = source.celery?.probeIntervalMs ?? 0;
    this.probe =
      this.acksLate && interval > 0 && connection
        ? new CeleryProbe(connection, this, interval, context.options.now)
        : null;
  }

  readyCommands(): Sendable[] {
    return [...this.llen.values()];
  }

  /** Every list's LLEN and the held deliveries: what a probe and a tick both read. */
  observationCommands(): Sendable[] {
    return [
      ...this.llen.values(),
      ['zrange', this.unackedIndexKey, 0, this.options.maxJobsPerTick, 'WITHSCORES'],
      ['time'],
    ];
  }

  plan(batch: Batch): void {
    this.probe?.pause();
    this.lengths = new Map();
    this.lengthsRead = 0;
    this.oldest = new Map();
    this.unacked = null;
    this.unackedComplete = false;
    this.executedAt = null;
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
    const held = ['pending', 'delayed', 'active', 'arrivalRate', 'completionRate'] as const;
    this.read(
      batch,
      ['zrange', this.unackedIndexKey, 0, this.options.maxJobsPerTick, 'WITHSCORES'],
      held,
      (v) => {
        this.unacked = parseIndex(v, this.unackedIndexKey);
      },
    );
    if (this.acksLate) {
      // Redis's clock when it ran the reads: a loaded reader's event loop cannot skew timings.
      this.read(batch, ['time'], [], (v) => {
        this.executedAt = redisTime(v);
      });
    }
    this.markers.plan(batch, (command, error) =>
      this.commandFailed(command, error, ['arrivalRate', 'completionRate', 'oldestPendingAgeMs']),
    );
  }

  override planDetails(batch: Batch): void {
    const tags = this.unacked;
    if (tags === null) return;
    const held = ['pending', 'delayed', 'active'] as const;
    if (tags.size > this.options.maxJobsPerTick) {
      this.draft.problem(
        'REDIS_ERROR',
        `${this.unackedIndexKey} holds more than maxJobsPerTick (${this.options.maxJobsPerTick}) deliveries: held messages not counted`,
        [...held, 'arrivalRate', 'completionRate'],
      );
      return;
    }
    this.unackedComplete = true;
    for (const command of this.detailCommands(tags)) {
      const tag = String(command[2]);
      this.read(batch, command, held, (v) => this.learn(tag, v));
    }
  }

  /** HGET of the tags not yet known (a tag's message never changes while it is held). */
  detailCommands(tags: Map<string, number>): ['hget', string, string][] {
    for (const tag of this.heldInfo.keys()) if (!tags.has(tag)) this.heldInfo.delete(tag);
    return [...tags.keys()]
      .filter((tag) => !this.heldInfo.has(tag))
      .map((tag) => ['hget', this.unackedKey, tag]);
  }

  /** Records a held message's queue and ETA; null: it was acked since the index was read. */
  learn(tag: string, value: unknown): void {
    if (typeof value !== 'string') return;
    this.heldInfo.set(
      tag,
      parseHeld(value, `HGET ${this.unackedKey} ${tag}`, this.options.maxPayloadBytes),
    );
  }

  /** This queue's held deliveries among `tags` (tags acked before their HGET are left out). */
  heldHere(tags: Map<string, number>, now: number): Map<string, HeldHere> {
    const mine = new Map<string, HeldHere>();
    for (const [tag, deliveredAt] of tags) {
      const info = this.heldInfo.get(tag);
      if (!info || info.routingKey !== this.source.backendName) continue;
      mine.set(tag, {
        deliveredAt,
        eta: info.etaMs !== null,
        due: info.etaMs === null || info.etaMs <= now,
      });
    }
    return mine;
  }

  /** Feeds an observation (a tick's or a probe's) to the timing, and its events to the windows. */
  observe(observation: Observation): void {
    const events = this.timing.observe(observation);
    if (events) this.record(events, observation.at);
  }

  private record(events: TimingEvents, at: number): void {
    if (events.from === null) return;
    this.arrivals.add(events.from, at, events.arrivals);
    this.completions.add(events.from, at, events.completions);
    for (const pickup of events.pickups) this.pickups.add(pickup.waitMs, pickup.atMs);
    for (const run of events.runs) this.services.add(run.runMs, run.atMs);
  }

  protected override onUnreadable(): void {
    this.timing.reset();
    this.previous = null;
  }

  protected finish(tick: Tick): void {
    const draft = this.draft;
    const complete = this.lengthsRead === this.keys.length;
    const listed = complete ? [...this.lengths.values()].reduce((sum, n) => sum + n, 0) : null;
    this.lastLengths = this.lengths;

    let held: Map<string, HeldHere> | null = null;
    if (this.unacked !== null && this.unackedComplete && !draft.unknown.has('delayed')) {
      held = this.heldHere(this.unacked, tick.readAt);
    }
    const due = held === null ? null : [...held.values()].filter((entry) => entry.due).length;
    const delayed = held === null || due === null ? null : held.size - due;
    draft.set('delayed', delayed, 'counter');
    if (this.acksLate) {
      // With prefetch multiplier 1 a held, due message is one its worker runs.
      draft.set('pending', listed, 'counter');
      draft.set('active', due, 'counter');
    } else {
      // Early ack: a held, due message is reserved (not started); the running task left.
      draft.set('pending', listed !== null && due !== null ? listed + due : null, 'counter');
      draft.set('active', null, 'counter');
    }

    const mainLength = this.lengths.get(this.key) ?? null;
    const mainOldest = this.oldest.get(this.key) ?? null;
    const reading = this.markers.observe(tick.readAt, mainLength, mainOldest);
    // Marker waits are only good to a tick: far too coarse for Celery's short waits (a real
    // worker showed 2 s read for 0.4 s), so with early ack pickups stay unknown.

    this.guard(['oldestPendingAgeMs'], () =>
      this.age(tick, listed, mainOldest, reading.oldestArrival),
    );

    if (this.acksLate) {
      if (listed !== null && held !== null) {
        this.observe({ at: this.executedAt ?? tick.readAt, listed, held });
      } else {
        this.timing.reset();
      }
      this.probe?.resume(tick.readAt);
      return;
    }
    // Early ack: rates from the plain list's pops; the priority lists only add their growth.
    const previous = this.previous;
    if (listed !== null && mainLength !== null) {
      if (previous && reading.pops !== null) {
        this.completions.add(previous.readAt, tick.readAt, reading.pops);
        this.arrivals.add(previous.readAt, tick.readAt, listed - previous.length + reading.pops);
      }
      this.previous = { length: listed, readAt: tick.readAt };
    } else {
      this.previous = null;
    }
  }

  private age(
    tick: Tick,
    listed: number | null,
    mainOldest: string | null,
    oldestArrival: { estimateMs: number } | null,
  ): void {
    const draft = this.draft;
    if (listed === null) return;
    if (listed === 0) {
      draft.set('oldestPendingAgeMs', 0, 'estimate');
      return;
    }
    const arrivals: number[] = [];
    if (mainOldest !== null) {
      // The message must at least be JSON; parsed once while it stays the oldest.
      this.checked.get(mainOldest, (raw) =>
        parseJsonObject(raw, `LINDEX ${printable(this.key)} -1`, this.options.maxPayloadBytes),
      );
      if (oldestArrival) arrivals.push(oldestArrival.estimateMs);
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
  }

  /** Parses a probe's replies to `observationCommands()`; null if any failed. */
  parseObservation(
    replies: Reply[],
  ): { listed: number; tags: Map<string, number>; at: number | null } | null {
    if (replies.some((reply) => reply instanceof Error)) return null;
    const lengths = replies.slice(0, this.keys.length);
    let listed = 0;
    for (const [index, length] of lengths.entries()) {
      listed += this.count(length, 'LLEN', this.printableKeys.get(this.keys[index] as string));
    }
    const tags = parseIndex(replies[this.keys.length], this.unackedIndexKey);
    if (tags.size > this.options.maxJobsPerTick) return null;
    return { listed, tags, at: redisTime(replies[this.keys.length + 1]) };
  }
}

/** `TIME`: [seconds, microseconds] as epoch ms; null if it is not that. */
function redisTime(value: unknown): number | null {
  if (!Array.isArray(value) || value.length < 2) return null;
  const ms = Number(value[0]) * 1000 + Number(value[1]) / 1000;
  return Number.isFinite(ms) ? ms : null;
}

/** `ZRANGE unacked_index 0 n WITHSCORES`: tag -> delivery time (epoch ms). */
function parseIndex(value: unknown, key: string): Map<string, number> {
  const tags = new Map<string, number>();
  if (!Array.isArray(value)) return tags;
  for (let index = 0; index + 1 < value.length; index += 2) {
    const score = Number(value[index + 1]);
    if (!Number.isFinite(score)) {
      throw new DataProblem(
        'BAD_PAYLOAD',
        `${key} has score ${describe(value[index + 1])} for ${String(value[index])}, expected a time`,
      );
    }
    tags.set(String(value[index]), score * 1000);
  }
  return tags;
}

function printable(key: string): string {
  return key.replace(SEPARATOR, '\\x06\\x16');
}
