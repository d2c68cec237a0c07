import { performance } from 'node:perf_hooks';
import type { Command, RedisLink, Reply } from '../connection.js';
import { type TailView, type TailWatch, tailJob } from './sidekiq-tail.js';

/** Queues whose next job has waited longer than this are left to the ticks. */
export const LONG_WAIT_MS = 20_000;

/** A Sidekiq queue the probe looks at between ticks. */
export interface ProbedQueue {
  /** `{prefix}queue:{name}` */
  key: string;
  watch: TailWatch;
  /** Completions per second of the queue, to size a burst of pickups. */
  rate(atMs: number): number | null;
}

export interface ProbeCost {
  /** Round trips made by the probe. */
  probes: number;
  commands: number;
  /** Bytes of the replies, as the connection received them. */
  receivedBytes: number;
  /** Time spent waiting for the probes' replies, in total. */
  durationMs: number;
}

/**
 * Sidekiq keeps no trace of when a job was taken: the tail of its list is the only clock. Read
 * once per tick, a pickup is known to a tick (2 s); this probe reads the two jobs next in line
 * (`LRANGE queue -2 -1`, one pipelined round trip for all the connection's Sidekiq queues) every
 * `intervalMs` between ticks. It runs only while snapshots are being taken: each tick arms it
 * until twice the time between ticks has passed, so a reader nobody reads goes quiet; it stops
 * for good when its connection is closed. Timers are unref'd: it never keeps a process alive.
 */
export class SidekiqProbe {
  private timer: NodeJS.Timeout | null = null;
  private until = 0;
  private running = false;
  private current: Promise<void> | null = null;
  readonly cost: ProbeCost = { probes: 0, commands: 0, receivedBytes: 0, durationMs: 0 };

  constructor(
    private readonly connection: RedisLink,
    private readonly queues: () => readonly ProbedQueue[],
    readonly intervalMs: number,
    private readonly maxPayloadBytes: number,
    private readonly now: () => number,
  ) {}

  /** Keeps probing until `untilMs`. */
  arm(untilMs: number): void {
    if (this.intervalMs <= 0) return;
    this.until = Math.max(this.until, untilMs);
    if (!this.timer && !this.running) this.schedule();
  }

  stop(): void {
    this.until = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.now() > this.until) return;
      this.running = true;
      this.current = this.probe()
        .then(
          () => {
            this.running = false;
            this.schedule();
          },
          () => {
            // Unreadable or closed: the next tick reports why and re-arms the probe.
            this.running = false;
            this.until = 0;
          },
        )
        .catch(() => undefined);
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Resolves once the probe in flight, if any, has its reply (or failed): what it sent is counted. */
  async settled(): Promise<void> {
    await this.current;
  }

  private async probe(): Promise<void> {
    const probedAt = this.now();
    // A pickup after a wait this long is timed well enough by the ticks (within a tick of a
    // wait 10+ ticks long): its payloads are not fetched ten times a second.
    const queues = this.queues().filter(
      (queue) => queue.watch.headWaitMs(probedAt) <= LONG_WAIT_MS,
    );
    if (queues.length === 0) return;
    // Stamped when sent: what the reply shows happened after this instant, and a later probe
    // is never stamped before a change an earlier one could not see.
    const atMs = this.now();
    const began = performance.now();
    const receivedBefore = this.connection.receivedBytes;
    const replies = await this.connection.exec(
      queues.map((queue): Command => ['lrange', queue.key, -2, -1]),
    );
    this.cost.durationMs += performance.now() - began;
    this.cost.receivedBytes += this.connection.receivedBytes - receivedBefore;
    this.cost.probes++;
    this.cost.commands += queues.length;
    queues.forEach((queue, index) => {
      const view = this.view(queue.key, replies[index], atMs);
      if (view === null) queue.watch.reset();
      else queue.watch.observe(view, queue.rate(atMs));
    });
  }

  private view(key: string, reply: Reply | undefined, atMs: number): TailView | null {
    if (!Array.isArray(reply)) return null;
    try {
      const raws = reply.map(String);
      return tailView(raws, key, atMs, this.maxPayloadBytes);
    } catch {
      // A job the tick cannot parse is reported by the tick, with its key.
      return null;
    }
  }
}

/** `LRANGE key -2 -1` answers [behind, next] (or [next], or []): the view at `atMs`. */
export function tailView(
  raws: readonly string[],
  key: string,
  atMs: number,
  maxBytes: number,
): TailView | null {
  const nextRaw = raws[raws.length - 1];
  const behindRaw = raws.length > 1 ? raws[0] : undefined;
  const next = nextRaw === undefined ? null : tailJob(nextRaw, `LRANGE ${key} -1`, maxBytes);
  if (nextRaw !== undefined && next === null) return null;
  const behind = behindRaw === undefined ? null : tailJob(behindRaw, `LRANGE ${key} -2`, maxBytes);
  return { atMs, next, behind };
}
