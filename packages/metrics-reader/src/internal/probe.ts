import { LaravelReader } from './drivers/laravel.js';
import type { ResolvedSource } from './options.js';
import type { Group } from './reader.js';

/**
 * The sub-tick probe of Laravel sources (`laravel.probeIntervalMs`): between ticks, one round
 * trip per Redis reads only the keys that carry timing, so jobs shorter than a tick are seen
 * to start and finish. A group being read (a tick, or the last probe still in flight) is
 * skipped, so sightings reach each queue in time order.
 */
export class Prober {
  private timer: NodeJS.Timeout | null = null;
  private readonly counts = { count: 0, commands: 0, receivedBytes: 0 };
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly groups: () => readonly Group[],
    private readonly sources: () => readonly ResolvedSource[],
    private readonly now: () => number,
  ) {}

  /** Starts probing at the shortest interval of the sources (none: nothing to do). */
  start(): void {
    if (this.timer) return;
    const intervals = this.sources()
      .filter((source) => source.probeIntervalMs > 0)
      .map((source) => source.probeIntervalMs);
    if (intervals.length === 0) return;
    this.timer = setInterval(
      () => {
        for (const group of this.groups()) {
          const probe = this.probe(group);
          this.inFlight.add(probe);
          void probe.finally(() => this.inFlight.delete(probe));
        }
      },
      Math.min(...intervals),
    );
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Resolves once the probes in flight have their replies (or failed): what they sent is counted. */
  async settled(): Promise<void> {
    await Promise.all(this.inFlight);
  }

  /** Round trips, commands and bytes received since the reader was created. */
  totals(): { count: number; commands: number; receivedBytes: number } {
    return { ...this.counts };
  }

  private async probe(group: Group): Promise<void> {
    const probing = group.readers.filter(
      (reader): reader is LaravelReader =>
        reader instanceof LaravelReader && reader.source.probeIntervalMs > 0,
    );
    if (group.busy || probing.length === 0) return;
    const commands = probing.map((reader) => reader.probeCommands());
    if (commands.every((list) => list.length === 0)) return;
    group.busy = true;
    const receivedBefore = group.connection.receivedBytes;
    const from = this.now();
    try {
      const replies = await group.connection.exec(commands.flat());
      const to = this.now();
      let index = 0;
      for (const [position, reader] of probing.entries()) {
        const count = commands[position]?.length ?? 0;
        if (count === 0) continue;
        reader.probed(replies.slice(index, index + count), from, to);
        index += count;
      }
      this.counts.count++;
      this.counts.commands += replies.length;
    } catch {
      // Unreadable now: the next tick reports why; the timelines bridge no gap.
      for (const [position, reader] of probing.entries()) {
        if (commands[position]?.length) reader.probed([], from, this.now());
      }
    } finally {
      this.counts.receivedBytes += group.connection.receivedBytes - receivedBefore;
      group.busy = false;
    }
  }
}
