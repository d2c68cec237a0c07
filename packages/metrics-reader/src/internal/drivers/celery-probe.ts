import { performance } from 'node:perf_hooks';
import type { RedisLink } from '../connection.js';
import type { CeleryReader } from './celery.js';

/**
 * Probes stop when no snapshot came for this long (a reader nobody reads any more); a gap in
 * the probes would lose the deliveries and ends inside it, so it is generous.
 */
const IDLE_MS = 10 * 60_000;
/** After a failed probe, the next one waits this long. */
const RETRY_MS = 1000;

/** What the probes cost, for bench/ (counted since the reader was created). */
export interface ProbeCost {
  probes: number;
  roundTrips: number;
  commands: number;
  receivedBytes: number;
  /** Wall time spent in probes, ms (from sending the first command to the last reply). */
  busyMs: number;
}

/**
 * Reads a Celery queue's lengths and `unacked_index` every `intervalMs` between ticks (and the
 * `unacked` entry of each new delivery), so deliveries and ends are timed to a fraction of a
 * tick. Paused while a tick reads; stops when the reader is dropped or closed, when no snapshot
 * came for 10 minutes; a failed probe is retried a second later.
 */
export class CeleryProbe {
  readonly cost: ProbeCost = {
    probes: 0,
    roundTrips: 0,
    commands: 0,
    receivedBytes: 0,
    busyMs: 0,
  };
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private current: Promise<void> | null = null;
  private paused = false;
  private lastTick: number | null = null;
  private stopped = false;

  constructor(
    private readonly connection: RedisLink,
    private readonly reader: CeleryReader,
    private readonly intervalMs: number,
    private readonly now: () => number,
  ) {}

  /** A tick starts reading: no probe may interleave its observation. */
  pause(): void {
    this.paused = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** A tick has read at `at`: probe until the next one. */
  resume(at: number): void {
    if (this.stopped) return;
    this.lastTick = at;
    this.paused = false;
    this.schedule();
  }

  /** Resolves once the probe in flight, if any, has its replies (or failed): what it sent is counted. */
  async settled(): Promise<void> {
    await this.current;
  }

  /** For good: the reader was dropped (`setSources`) or closed. */
  stop(): void {
    this.stopped = true;
    this.pause();
  }

  private schedule(): void {
    if (this.paused || this.running || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.current = this.run();
    }, this.intervalMs);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    const last = this.lastTick;
    if (this.paused || this.stopped || last === null || this.now() - last > IDLE_MS) return;
    this.running = true;
    let ok = false;
    try {
      ok = await this.once();
    } catch (error) {
      // A closed reader ends the probe; anything else (a timeout on a loaded host) is retried
      // a second later, so one slow round trip does not leave a gap until the next tick.
      if (/closed/i.test((error as Error).message)) this.stopped = true;
    } finally {
      this.running = false;
    }
    if (ok) this.schedule();
    else this.retryLater();
  }

  private retryLater(): void {
    if (this.paused || this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.current = this.run();
    }, RETRY_MS);
    this.timer.unref();
  }

  /** One probe: lengths and index, then the new tags' messages; false when it must stop. */
  private async once(): Promise<boolean> {
    const before = this.connection.receivedBytes;
    const began = performance.now();
    const commands = this.reader.observationCommands();
    const replies = await this.connection.exec(commands);
    const repliedAt = this.now();
    this.count(commands.length);
    if (this.paused) return false;
    const read = this.reader.parseObservation(replies);
    if (read === null) return false;
    const details = this.reader.detailCommands(read.tags);
    if (details.length > 0) {
      const answers = await this.connection.exec(details);
      this.count(details.length);
      if (this.paused) return false;
      for (const [index, command] of details.entries()) {
        const answer = answers[index];
        if (answer instanceof Error) return false;
        this.reader.learn(command[2], answer);
      }
    }
    this.cost.probes++;
    this.cost.receivedBytes += this.connection.receivedBytes - before;
    this.cost.busyMs += performance.now() - began;
    // Redis's own clock when it ran the reads (a loaded event loop delays the reply).
    const at = read.at ?? repliedAt;
    this.reader.observe({ at, listed: read.listed, held: this.reader.heldHere(read.tags, at) });
    return true;
  }

  private count(commands: number): void {
    this.cost.roundTrips++;
    this.cost.commands += commands;
  }
}
