/** A Sidekiq process as one read shows it. */
export interface ProcessBeat {
  identity: string;
  /** Its last heartbeat (the `beat` field), epoch ms. */
  beatMs: number;
  /** `started_at` of its info (set at its first heartbeat), epoch ms; null when absent. */
  startedMs: number | null;
  /** Threads that fetch (`concurrency`). */
  threads: number;
  /** Its jobs in flight at that heartbeat, per queue. */
  busy: ReadonlyMap<string, number>;
}

/** Jobs counted by `stat:processed` over a stretch of time. */
export interface CountedInterval {
  fromMs: number;
  toMs: number;
  count: number;
}

interface Member {
  threads: number;
  fromMs: number;
  /** When it exited (estimated), null while it runs. */
  toMs: number | null;
}

/** One read's heartbeats: the busy thread-time they report and the jobs they flushed. */
interface Sample {
  atMs: number;
  /** Threads busy times the time each heartbeat stands for (since the process's previous one). */
  busyMs: number;
  busyMsByQueue: Map<string, number>;
  /** Heartbeats that found a job in flight. */
  busyBeats: number;
  completed: number;
}

/**
 * Times Sidekiq's global `stat:processed`, which each process flushes at its own heartbeat:
 * the counter's growth between two reads covers, for each process, the time from its previous
 * beat to its last one (for a new process, from its start; for one gone, to its exit, when it
 * flushed the rest). Each process's stretch is weighted by its threads' share of all fetching
 * threads at each instant (a job goes to whichever thread is free, so a process's share of the
 * jobs is its share of the threads): the sum is the time the growth stands for. A mean of the
 * beat times would jump whenever a process starts or stops, and the rate with it.
 *
 * The heartbeats also say which queue each busy thread was running: summed over a window,
 * weighted by the time each heartbeat stands for, they share the counter among queues (a
 * queue's share of the busy thread-time), and with the counter give the mean run time
 * (Little's law: busy thread-time / jobs done).
 */
export class BeatLedger {
  private readonly known = new Map<string, { beatMs: number }>();
  private readonly members = new Map<string, Member>();
  private lastCounter: number | null = null;
  /** The time up to which the counter is complete, advanced by each read's weighted stretch. */
  private clockMs = 0;
  private samples: Sample[] = [];

  constructor(private readonly windowMs: number) {}

  /**
   * One read: the counter and the processes registered now. Returns the interval the growth
   * since the last read covers, or null (first read, a reset counter, no heartbeat since).
   */
  update(
    counter: number,
    processes: readonly ProcessBeat[],
    readAtMs: number,
    previousReadAtMs: number | null,
  ): CountedInterval | null {
    if (this.lastCounter === null || counter < this.lastCounter) {
      this.restart(counter, processes, readAtMs);
      return null;
    }
    const stretches: { identity: string; fromMs: number; toMs: number }[] = [];
    const sample: Sample = {
      atMs: readAtMs,
      busyMs: 0,
      busyMsByQueue: new Map(),
      busyBeats: 0,
      completed: 0,
    };
    const present = new Set<string>();
    for (const process of processes) {
      present.add(process.identity);
      const before = this.known.get(process.identity);
      // A process not seen before counts from its start (its first heartbeat flushed nothing).
      const fromMs =
        before?.beatMs ?? Math.min(process.startedMs ?? process.beatMs, process.beatMs);
      if (!before)
        this.members.set(process.identity, { threads: process.threads, fromMs, toMs: null });
      if (process.beatMs <= fromMs) {
        if (!before) this.known.set(process.identity, { beatMs: process.beatMs });
        continue;
      }
      stretches.push({ identity: process.identity, fromMs, toMs: process.beatMs });
      this.addBusy(sample, process, process.beatMs - fromMs);
      this.known.set(process.identity, { beatMs: process.beatMs });
    }
    for (const [identity, { beatMs }] of this.known) {
      if (present.has(identity)) continue;
      // Gone since the last read: it flushed its last jobs as it exited, some time in between.
      const exitMs = Math.max(beatMs, ((previousReadAtMs ?? readAtMs) + readAtMs) / 2);
      const member = this.members.get(identity);
      if (member) member.toMs = exitMs;
      if (exitMs > beatMs) stretches.push({ identity, fromMs: beatMs, toMs: exitMs });
      this.known.delete(identity);
    }
    const spanMs = stretches.reduce((sum, stretch) => sum + this.weighted(stretch), 0);
    this.forget();
    if (!(spanMs > 0)) return null;
    const count = counter - this.lastCounter;
    // No process ran between the clock and the earliest stretch (scaled to zero): a gap, not
    // time in which the jobs counted now were done.
    const fromMs = Math.max(this.clockMs, Math.min(...stretches.map((stretch) => stretch.fromMs)));
    // Never ahead of the read: what was flushed happened before it.
    this.clockMs = Math.min(readAtMs, fromMs + spanMs);
    this.lastCounter = counter;
    sample.completed = count;
    this.samples.push(sample);
    return this.clockMs > fromMs ? { fromMs, toMs: this.clockMs, count } : null;
  }

  /**
   * `queue`'s share of the busy thread-time in the window; null until `minBusyBeats`
   * heartbeats found a job in flight (one or two would give a queue all or nothing).
   */
  share(queue: string, nowMs: number, minBusyBeats: number): number | null {
    let all = 0;
    let mine = 0;
    let busyBeats = 0;
    for (const sample of this.window(nowMs)) {
      all += sample.busyMs;
      mine += sample.busyMsByQueue.get(queue) ?? 0;
      busyBeats += sample.busyBeats;
    }
    return all > 0 && busyBeats >= minBusyBeats ? mine / all : null;
  }

  /**
   * Mean run time of the jobs done in the window (all queues): busy thread-time over jobs
   * done. Null until `minBusyBeats` heartbeats found a job in flight.
   */
  runTimeMs(nowMs: number, minBusyBeats: number): number | null {
    let busyMs = 0;
    let completed = 0;
    let busyBeats = 0;
    for (const sample of this.window(nowMs)) {
      busyMs += sample.busyMs;
      completed += sample.completed;
      busyBeats += sample.busyBeats;
    }
    return busyBeats >= minBusyBeats && completed > 0 ? busyMs / completed : null;
  }

  private restart(counter: number, processes: readonly ProcessBeat[], readAtMs: number): void {
    this.lastCounter = counter;
    this.known.clear();
    this.members.clear();
    this.samples = [];
    let threads = 0;
    let weightedBeats = 0;
    for (const process of processes) {
      this.known.set(process.identity, { beatMs: process.beatMs });
      this.members.set(process.identity, {
        threads: process.threads,
        fromMs: Number.NEGATIVE_INFINITY,
        toMs: null,
      });
      threads += process.threads;
      weightedBeats += process.threads * process.beatMs;
    }
    // The counter is complete up to the beats, each process for its own threads.
    this.clockMs = threads > 0 ? weightedBeats / threads : readAtMs;
  }

  private addBusy(sample: Sample, process: ProcessBeat, spanMs: number): void {
    let busy = 0;
    for (const [queue, jobs] of process.busy) {
      sample.busyMsByQueue.set(queue, (sample.busyMsByQueue.get(queue) ?? 0) + jobs * spanMs);
      busy += jobs;
    }
    sample.busyMs += busy * spanMs;
    if (busy > 0) sample.busyBeats++;
  }

  /**
   * The stretch's time weighted by the process's share of the threads at each instant: the
   * threads of the processes running then change only where one started or exited.
   */
  private weighted(stretch: { identity: string; fromMs: number; toMs: number }): number {
    const own = this.members.get(stretch.identity);
    if (!own) return 0;
    const edges = new Set([stretch.fromMs, stretch.toMs]);
    for (const member of this.members.values()) {
      for (const edge of [member.fromMs, member.toMs]) {
        if (edge !== null && edge > stretch.fromMs && edge < stretch.toMs) edges.add(edge);
      }
    }
    const sorted = [...edges].sort((a, b) => a - b);
    let total = 0;
    for (let index = 1; index < sorted.length; index++) {
      const from = sorted[index - 1] as number;
      const to = sorted[index] as number;
      const middle = (from + to) / 2;
      let threads = own.threads;
      for (const [identity, member] of this.members) {
        if (identity === stretch.identity) continue;
        if (member.fromMs <= middle && (member.toMs === null || middle < member.toMs))
          threads += member.threads;
      }
      total += ((to - from) * own.threads) / threads;
    }
    return total;
  }

  /** Drops exited processes no stretch can reach any more, and samples out of the window. */
  private forget(): void {
    let oldest = Number.POSITIVE_INFINITY;
    for (const { beatMs } of this.known.values()) oldest = Math.min(oldest, beatMs);
    for (const [identity, member] of this.members) {
      if (member.toMs !== null && member.toMs < oldest) this.members.delete(identity);
    }
  }

  private window(nowMs: number): Sample[] {
    const from = nowMs - this.windowMs;
    while ((this.samples[0]?.atMs ?? Number.POSITIVE_INFINITY) <= from) this.samples.shift();
    return this.samples;
  }
}
