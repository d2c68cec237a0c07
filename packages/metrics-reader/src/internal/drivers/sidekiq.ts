import type { QueueFigure, QueueSnapshot } from '@qscale/contracts';
import type { Batch } from '../batch.js';
import type { Prepared, Sendable } from '../connection.js';
import type { ResolvedSource } from '../options.js';
import { DataProblem } from '../payload.js';
import { QueueReader, type ReaderContext, type Tick } from '../queue-reader.js';
import { RateWindow } from '../windows.js';
import { LONG_WAIT_MS, tailView } from './sidekiq-probe.js';
import type { SidekiqShared } from './sidekiq-shared.js';
import { type TailView, TailWatch } from './sidekiq-tail.js';

export { SidekiqShared } from './sidekiq-shared.js';

/** p95 / mean of a log-normal with a coefficient of variation of 1: exp(1.645 s - s^2 / 2), s^2 = ln 2. */
const LOGNORMAL_CV1_P95 = 2.781;

/**
 * One Sidekiq queue: `queue:{name}` (LPUSH, BRPOP from the tail). Oldest age from the tail
 * job's `enqueued_at` (float seconds before 8.0, integer ms since). Pickups are timed by the
 * tail watch (every tick and every probe between ticks); the pickups it never saw (a job taken
 * between two probes) are counted from the completion counter. Completions come from the global
 * counter timed per process heartbeat (see BeatLedger), exact when this is the only queue,
 * otherwise shared out by the queues of the jobs the heartbeats found running. Run time is the
 * time from one pickup to the next while jobs wait, times the threads that serve the queue
 * alone; else Little's law over the heartbeats.
 */
export class SidekiqReader extends QueueReader {
  protected readonly reportsFailed = false;
  protected override serviceSource = 'estimate' as const;
  private readonly key: string;
  private readonly growth: RateWindow;
  private previousPending: { value: number; readAt: number } | null = null;
  private length: number | null = null;
  private view: TailView | null = null;
  private viewRead = false;
  private readonly watch: TailWatch;
  /** Pickups the tail watch timed, not yet matched against the completion counter. */
  private timed: { atMs: number; weight: number }[] = [];
  /** Jobs `stat:processed` counted while this queue's share of them was not known yet. */
  private unshared: { fromMs: number; toMs: number; count: number }[] = [];
  /** Completions minus timed pickups: the pickups no view saw (carried while below one). */
  private unseen = 0;

  constructor(
    source: ResolvedSource,
    context: ReaderContext,
    private readonly shared: SidekiqShared,
  ) {
    super(source, context);
    this.key = `${source.prefix}queue:${source.backendName}`;
    this.growth = new RateWindow(context.options.rateWindowMs);
    this.commands = {
      llen: this.prepare('llen', this.key),
      tail: this.prepare('lrange', this.key, -2, -1),
      paused: this.prepare('sismember', `${source.prefix}paused`, source.backendName),
    };
    this.watch = new TailWatch({
      pickup: (waitMs, atMs, weight) => {
        this.pickups.add(waitMs, atMs, weight);
        this.timed.push({ atMs, weight });
      },
      gap: (gapMs, atMs) => {
        const threads = this.shared.threadsFor(this.source.backendName, atMs);
        // A thread shared with other queues may have run their jobs in between.
        if (threads?.dedicated) this.services.add(gapMs * threads.threads, atMs);
      },
    });
    shared.watch({
      key: this.key,
      watch: this.watch,
      rate: (atMs) => this.completions.rate(atMs),
    });
  }

  private readonly commands: Record<'llen' | 'tail' | 'paused', Prepared>;

  /** The queue's list; due scheduled jobs sit in Sidekiq's global `schedule` until a poller moves them. */
  readyCommands(): Sendable[] {
    return [this.commands.llen];
  }

  plan(batch: Batch): void {
    this.length = null;
    this.view = null;
    this.viewRead = false;
    this.read(batch, this.commands.llen, ['pending', 'oldestPendingAgeMs', 'arrivalRate'], (v) => {
      this.length = this.count(v, `LLEN ${this.key}`);
    });
    this.read(batch, this.commands.tail, ['oldestPendingAgeMs', 'pickupLatencyMs'], (v) => {
      this.viewRead = true;
      const raws = Array.isArray(v) ? v.map(String) : [];
      const view = tailView(raws, this.key, 0, this.options.maxPayloadBytes);
      if (view === null && raws.length > 0) {
        throw new DataProblem(
          'MISSING_TIMESTAMP',
          `the oldest job of ${this.key} has no enqueued_at (nor created_at), expected epoch seconds or milliseconds`,
        );
      }
      this.view = view;
    });
    this.read(batch, this.commands.paused, [], (v) => {
      this.draft.paused = Number(v) === 1;
    });
  }

  protected finish(tick: Tick): void {
    const draft = this.draft;
    const shared = this.shared;
    const name = this.source.backendName;
    const sharedFigures: QueueFigure[] = ['active', 'completionRate', 'arrivalRate', 'pending'];
    for (const problem of shared.problems)
      draft.problem(problem.code, problem.message, sharedFigures);

    const due = shared.due.get(name);
    const pending = this.length !== null ? this.length + (due?.count ?? 0) : null;
    draft.set('pending', pending, 'counter');
    // `schedule` and `retry` are global: none for anyone when both are empty, all this queue's
    // when it is the only queue Sidekiq knows, otherwise not countable per queue cheaply.
    const scheduled = shared.scheduledTotal;
    const notDue = scheduled === null ? null : Math.max(0, scheduled - (due?.count ?? 0));
    draft.set(
      'delayed',
      scheduled === 0 ? 0 : shared.queueCount === 1 ? notDue : null,
      scheduled === 0 ? 'counter' : 'estimate',
    );
    draft.set('active', this.activeNow(tick), 'estimate');

    this.oldestAge(tick, pending, due?.oldestMs ?? null);
    if (this.view)
      this.watch.observe({ ...this.view, atMs: tick.readAt }, this.completions.rate(tick.readAt));
    else if (!this.viewRead) this.watch.reset();

    // Timed pickups no completion interval claimed (several queues, none busy) age out.
    const horizon = tick.readAt - this.options.windowMs;
    while ((this.timed[0]?.atMs ?? Number.POSITIVE_INFINITY) < horizon) this.timed.shift();
    if (shared.processedInterval) this.unshared.push(shared.processedInterval);
    // Until the heartbeats tell this queue's share, the counted intervals wait (within the
    // window): shared out later, their jobs still count, and so do the pickups no view saw.
    const share = this.unshared.length > 0 ? this.shareOfProcessed(tick.readAt) : null;
    if (share !== null) {
      for (const interval of this.unshared) {
        this.completions.add(interval.fromMs, interval.toMs, interval.count * share);
        this.countUnseen(interval.toMs, interval.count * share);
      }
      this.unshared = [];
    }
    while ((this.unshared[0]?.toMs ?? Number.POSITIVE_INFINITY) < horizon) this.unshared.shift();
    if (pending !== null) {
      const previous = this.previousPending;
      if (previous) this.growth.add(previous.readAt, tick.readAt, pending - previous.value);
      this.previousPending = { value: pending, readAt: tick.readAt };
    }
  }

  /**
   * Running jobs live in the processes' memory; Redis shows them only as of the last heartbeat
   * (5 s in Sidekiq 6, 10 s in 7/8), too old to count. While jobs wait in the list, though,
   * every thread serving only this queue is busy (an idle one would have taken them): active is
   * their number. Otherwise it is unknown (null).
   */
  private activeNow(tick: Tick): number | null {
    if (this.length === null || this.length === 0) return null;
    const threads = this.shared.threadsFor(this.source.backendName, tick.readAt);
    if (!threads?.dedicated || !threads.fetching) return null;
    return threads.threads;
  }

  private oldestAge(tick: Tick, pending: number | null, dueOldestMs: number | null): void {
    const draft = this.draft;
    if (pending === 0) {
      draft.set('oldestPendingAgeMs', 0, 'counter');
      return;
    }
    if (pending === null || !this.viewRead) return;
    const candidates: number[] = [];
    if (dueOldestMs !== null) candidates.push(dueOldestMs);
    if (this.view?.next) candidates.push(this.view.next.enqueuedAt);
    if (candidates.length > 0) {
      draft.set(
        'oldestPendingAgeMs',
        Math.max(0, tick.startedAt - Math.min(...candidates)),
        'counter',
      );
    }
  }

  /**
   * The jobs completed up to `toMs` that no view saw waiting were taken between two probes
   * of their arrival: they waited less than a probe interval and count at half of it. Without
   * the probe they are not counted (their wait is known only to a tick).
   */
  private countUnseen(toMs: number, completed: number): void {
    let timed = 0;
    while ((this.timed[0]?.atMs ?? Number.POSITIVE_INFINITY) <= toMs) {
      timed += this.timed.shift()?.weight ?? 0;
    }
    // Pickups timed just before a beat may complete after it: the difference is carried.
    this.unseen += completed - timed;
    // Behind a long backlog every job passes the tail: none was taken unseen, the difference is
    // the burst estimate's error (the ticks time those pickups), not short waits.
    if (this.watch.headWaitMs(toMs) > LONG_WAIT_MS) {
      this.unseen = 0;
      return;
    }
    const probeMs = this.shared.probe.intervalMs;
    const whole = Math.floor(this.unseen);
    if (whole >= 1 && probeMs > 0) {
      this.pickups.add(probeMs / 2, toMs, whole);
      this.unseen -= whole;
    }
  }

  /**
   * This queue's share of the global counter: all of it when it is the only queue, otherwise
   * its share of the threads' busy time over the window (see BeatLedger).
   */
  private shareOfProcessed(nowMs: number): number | null {
    if (this.shared.queueCount === 1) {
      this.completionSource = 'counter';
      return 1;
    }
    this.completionSource = 'estimate';
    return this.shared.shareOf(this.source.backendName, nowMs);
  }

  /**
   * Back-to-back pickups time the run when the queue's threads serve it alone; otherwise (or
   * too few of them) Little's law over the heartbeats: busy thread-time over jobs done, the
   * mean of every queue the processes serve. Redis shows no spread of it: the p95 is that of a
   * log-normal run time with a coefficient of variation of 1 (what a strategy assumes when it
   * knows only the mean).
   */
  protected override serviceTime(nowMs: number): QueueSnapshot['serviceTimeMs'] {
    const timed = super.serviceTime(nowMs);
    if (timed) return timed;
    const meanMs = this.shared.runTimeMs(nowMs);
    if (meanMs === null) return null;
    return { mean: Math.round(meanMs), p95: Math.round(meanMs * LOGNORMAL_CV1_P95) };
  }

  protected override onUnreadable(): void {
    this.watch.reset();
  }

  /** Arrivals = completions + growth of the backlog: Sidekiq counts no arrivals. */
  protected override arrivalRate(nowMs: number): number | null {
    const completions = this.completions.rate(nowMs);
    const growth = this.growth.signedRate(nowMs);
    if (completions === null || growth === null) return null;
    return Math.max(0, completions + growth);
  }
}
