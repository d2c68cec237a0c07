import type { Connection } from '../connection.js';
import type { CeleryReader } from './celery.js';

/** Probes stop when no tick came for this many tick intervals (the reader is no longer used). */
const IDLE_TICKS = 3;
/** Without two ticks yet, assume the daemon's default tick for the idle limit. */
const DEFAULT_TICK_MS = 2000;

/** What the probes cost, for bench/ (counted since the reader was created). */
export interface ProbeCost {
  probes: number;
  roundTrips: number;
  commands: number;
  receivedBytes: number;
}

/**
 * Reads a Celery queue's lengths and `unacked_index` every `intervalMs` between ticks (and the
 * `unacked` entry of each new delivery), so deliveries and ends are timed to a fraction of a
 * tick. Paused while a tick reads; stops by itself when ticks stop coming, when the connection
 * is closed, or on any error (the next tick resumes it).
 */
export class CeleryProbe {
  readonly cost: ProbeCost = { probes: 0, roundTrips: 0, commands: 0, receivedBytes: 0 };
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private paused = false;
  private lastTick: number | null = null;
  private tickMs = DEFAULT_TICK_MS;

  constructor(
    private readonly connection: Connection,
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
    if (this.lastTick !== null && at > this.lastTick) this.tickMs = at - this.lastTick;
    this.lastTick = at;
    this.paused = false;
    this.schedule();
  }

  private schedule(): void {
    if (this.paused || this.running || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.run();
    }, this.intervalMs);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    const last = this.lastTick;
    if (this.paused || last === null || this.now() - last > IDLE_TICKS * this.tickMs) return;
    this.running = true;
    let ok = false;
    try {
      ok = await this.once();
    } catch {
      ok = false;
    } finally {
      this.running = false;
    }
    if (ok) this.schedule();
  }

  /** One probe: lengths and index, then the new tags' messages; false when it must stop. */
  private async once(): Promise<boolean> {
    const before = this.connection.receivedBytes;
    const commands = this.reader.observationCommands();
    const replies = await this.connection.exec(commands);
    const at = this.now();
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
    this.reader.observe({ at, listed: read.listed, held: this.reader.heldHere(read.tags, at) });
    return true;
  }

  private count(commands: number): void {
    this.cost.roundTrips++;
    this.cost.commands += commands;
  }
}
