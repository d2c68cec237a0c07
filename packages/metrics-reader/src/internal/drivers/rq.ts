import type { Batch } from '../batch.js';
import type { Prepared, Sendable } from '../connection.js';
import type { ResolvedSource } from '../options.js';
import { DataProblem, describe, isoUtcToMs } from '../payload.js';
import { QueueReader, type ReaderContext, type Tick } from '../queue-reader.js';

interface Registry {
  key: string;
  /** Highest score counted so far; null until the first read. */
  lastScore: number | null;
  /**
   * How many members had `lastScore` when it was counted. RQ scores in whole seconds, so many
   * jobs share one: members are counted by score and by this count, never by the page read.
   * Null when a whole page shared it (more than maxJobsPerTick ended in one second): the next
   * count of them is taken as it is, missing those that ended in that second after the read.
   */
  atLastScore: number | null;
}

/**
 * RQ 1.x/2.x (`rq:queue:{name}` list of job ids, `rq:job:{id}` hashes, registries as sorted
 * sets). Depth from LLEN/ZCARD; in-flight jobs are the StartedJobRegistry (`rq:wip:`);
 * completions are the new members of the finished and failed registries (scored by expiry,
 * so new members come last); pickups and run times come from the job hashes of newly started
 * and newly finished jobs (`enqueued_at`, `started_at`, `ended_at`).
 */
export class RqReader extends QueueReader {
  protected readonly reportsFailed = true;
  private readonly queueKey: string;
  private readonly jobPrefix: string;
  private readonly wip: string;
  private readonly scheduled: string;
  private readonly finished: Registry;
  private readonly failedRegistry: Registry;
  private inFlight = new Set<string>();
  /**
   * Jobs whose pickup was counted when they were seen in flight, so their finish does not count
   * it again. Jobs that start and finish between two reads are only seen finished: their pickup
   * is counted then (most jobs, when they are short).
   */
  private pickupCounted = new Set<string>();
  private wipFull: boolean | null = null;
  private lastDue: number | null = null;
  private firstRead = true;
  private previous: { pending: number; active: number; readAt: number } | null = null;
  private readonly ready = new Map<string, number>();

  private length: number | null = null;
  private intermediate: number | null = null;
  private wipCount: number | null = null;
  private scheduledCount: number | null = null;
  private due: number | null = null;
  private failedCount: number | null = null;
  private oldestId: string | null = null;
  private oldestDueScore: number | null = null;
  private wipMembers: string[] | null = null;
  private newFinished: string[] | null = null;
  private newFailed: string[] | null = null;
  private finishedCount = 0;
  private detailsPlanned = false;

  constructor(source: ResolvedSource, context: ReaderContext) {
    super(source, context);
    const root = `${source.prefix}rq:`;
    this.queueKey = `${root}queue:${source.backendName}`;
    this.jobPrefix = `${root}job:`;
    this.wip = `${root}wip:${source.backendName}`;
    this.scheduled = `${root}scheduled:${source.backendName}`;
    this.finished = {
      key: `${root}finished:${source.backendName}`,
      lastScore: null,
      atLastScore: 0,
    };
    this.failedRegistry = {
      key: `${root}failed:${source.backendName}`,
      lastScore: null,
      atLastScore: 0,
    };
    this.completionSource = 'counter';
    const limit = context.options.maxJobsPerTick;
    this.commands = {
      llen: this.prepare('llen', this.queueKey),
      intermediate: this.prepare('llen', `${this.queueKey}:intermediate`),
      wip: this.prepare('zcard', this.wip),
      scheduled: this.prepare('zcard', this.scheduled),
      failed: this.prepare('zcard', this.failedRegistry.key),
      head: this.prepare('lindex', this.queueKey, 0),
      wipMembers: this.prepare('zrange', this.wip, 0, limit - 1),
      suspended: this.prepare('get', `${root}suspended`),
    };
  }

  private readonly commands: Record<
    'llen' | 'intermediate' | 'wip' | 'scheduled' | 'failed' | 'head' | 'wipMembers' | 'suspended',
    Prepared
  >;

  readyCommands(nowMs: number): Sendable[] {
    return [this.commands.llen, ['zcount', this.scheduled, '-inf', Math.floor(nowMs / 1000)]];
  }

  plan(batch: Batch, tick: Tick): void {
    const nowSec = tick.startedAt / 1000;
    const limit = this.options.maxJobsPerTick;
    this.length = this.intermediate = this.wipCount = this.scheduledCount = null;
    this.due = this.failedCount = this.oldestDueScore = null;
    this.oldestId = null;
    this.wipMembers = this.newFinished = this.newFailed = null;
    this.finishedCount = 0;
    this.detailsPlanned = false;

    const depth = ['pending', 'oldestPendingAgeMs', 'arrivalRate'] as const;
    this.read(batch, this.commands.llen, depth, (v) => {
      this.length = this.count(v, 'LLEN', this.queueKey);
    });
    this.read(batch, this.commands.intermediate, ['active', 'arrivalRate'], (v) => {
      this.intermediate = this.count(v, 'LLEN', `${this.queueKey}:intermediate`);
    });
    // While the in-flight registry fits in one read (its members, below), count those.
    const large = this.wipFull !== false;
    if (large) {
      this.read(batch, this.commands.wip, ['active', 'arrivalRate'], (v) => {
        this.wipCount = this.count(v, 'ZCARD', this.wip);
      });
    }
    this.read(batch, this.commands.scheduled, ['delayed'], (v) => {
      this.scheduledCount = this.count(v, 'ZCARD', this.scheduled);
    });
    this.read(batch, ['zcount', this.scheduled, '-inf', nowSec], [...depth, 'delayed'], (v) => {
      this.due = this.count(v, 'ZCOUNT', this.scheduled);
      this.lastDue = this.due;
    });
    if (this.lastDue !== 0) {
      this.read(
        batch,
        ['zrange', this.scheduled, '-inf', nowSec, 'BYSCORE', 'LIMIT', 0, 1, 'WITHSCORES'],
        ['oldestPendingAgeMs'],
        (v) => {
          if (Array.isArray(v) && v.length >= 2) this.oldestDueScore = Number(v[1]);
        },
      );
    }
    this.read(batch, this.commands.failed, ['failed'], (v) => {
      this.failedCount = this.count(v, 'ZCARD', this.failedRegistry.key);
    });
    this.read(batch, this.commands.head, ['oldestPendingAgeMs'], (v) => {
      this.oldestId = typeof v === 'string' ? v : null;
    });
    this.read(
      batch,
      this.commands.wipMembers,
      ['pickupLatencyMs', ...(large ? [] : (['active', 'arrivalRate'] as const))],
      (v) => {
        const members = Array.isArray(v) ? v.map(String) : [];
        this.wipMembers = members;
        if (members.length < limit) this.wipCount = members.length;
        else if (!large) this.draft.unknown.add('active');
        this.wipFull = members.length >= limit;
      },
    );
    this.read(batch, this.commands.suspended, [], (v) => {
      this.draft.paused = v !== null && v !== undefined;
    });
    this.planRegistry(batch, this.finished, (ids) => {
      this.newFinished = ids;
    });
    this.planRegistry(batch, this.failedRegistry, (ids) => {
      this.newFailed = ids;
    });
  }

  /**
   * Members added since the last read (scores are `now + ttl`, so new members score highest):
   * those above the last score counted, plus the ones added at it. The newest page of them is
   * sampled for their times; the rest are counted only.
   */
  private planRegistry(batch: Batch, registry: Registry, done: (ids: string[]) => void): void {
    const limit = this.options.maxJobsPerTick;
    const figures = ['completionRate', 'arrivalRate'] as const;
    const newest = (above: string): Sendable => [
      'zrange',
      registry.key,
      '+inf',
      above,
      'BYSCORE',
      'REV',
      'LIMIT',
      0,
      limit,
      'WITHSCORES',
    ];
    const last = registry.lastScore;
    if (last === null) {
      this.read(batch, newest('-inf'), figures, (v) => {
        const page = scored(v);
        registry.lastScore = page[0]?.score ?? Number.NEGATIVE_INFINITY;
        registry.atLastScore = tiesAtTop(page, limit);
        done([]);
      });
      return;
    }
    let ties: number | null = null;
    let above = 0;
    if (Number.isFinite(last)) {
      this.read(batch, ['zcount', registry.key, last, last], figures, (v) => {
        ties = this.count(v, 'ZCOUNT', registry.key);
      });
    }
    const from = Number.isFinite(last) ? `(${last}` : '-inf';
    this.read(batch, ['zcount', registry.key, from, '+inf'], figures, (v) => {
      above = this.count(v, 'ZCOUNT', registry.key);
    });
    this.read(batch, newest(from), figures, (v) => {
      const page = scored(v);
      const known = registry.atLastScore ?? ties ?? 0;
      const added = Math.max(0, (ties ?? 0) - known) + above;
      const top = page[0]?.score;
      if (top !== undefined) {
        registry.lastScore = top;
        registry.atLastScore = tiesAtTop(page, limit);
      } else if (ties !== null) {
        registry.atLastScore = ties;
      }
      const ids = page.map((entry) => entry.member);
      this.finishedCount += Math.max(0, added - ids.length);
      done(ids);
    });
  }

  override planDetails(batch: Batch): void {
    this.detailsPlanned = true;
    const wanted = new Map<string, 'oldest' | 'started' | 'finished'>();
    if (this.oldestId !== null && !this.ready.has(this.oldestId))
      wanted.set(this.oldestId, 'oldest');
    const current = new Set((this.wipMembers ?? []).map(jobId));
    if (this.wipMembers !== null) {
      if (!this.firstRead) {
        for (const id of current) if (!this.inFlight.has(id)) wanted.set(id, 'started');
      }
      this.inFlight = current;
    }
    for (const id of [...(this.newFinished ?? []), ...(this.newFailed ?? [])]) {
      if (!this.firstRead) wanted.set(jobId(id), 'finished');
    }
    let budget = this.options.maxJobsPerTick;
    for (const [id, purpose] of wanted) {
      if (budget-- <= 0) break;
      const key = `${this.jobPrefix}${id}`;
      this.read(
        batch,
        ['hmget', key, 'enqueued_at', 'started_at', 'ended_at'],
        purpose === 'oldest' ? ['oldestPendingAgeMs'] : [],
        (v) => this.onJob(id, key, purpose, v),
      );
    }
  }

  private onJob(
    id: string,
    key: string,
    purpose: 'oldest' | 'started' | 'finished',
    value: unknown,
  ): void {
    if (!Array.isArray(value)) return;
    const [enqueuedRaw, startedRaw, endedRaw] = value as (string | null)[];
    const enqueued = isoUtcToMs(enqueuedRaw);
    if (purpose === 'oldest') {
      if (enqueuedRaw === null || enqueuedRaw === undefined) {
        throw new DataProblem(
          'MISSING_TIMESTAMP',
          `${key} (the oldest queued job) has no enqueued_at`,
        );
      }
      if (enqueued === null) {
        throw new DataProblem(
          'BAD_PAYLOAD',
          `${key} has enqueued_at ${describe(enqueuedRaw)}, expected an ISO-8601 UTC time`,
        );
      }
      this.ready.clear();
      this.ready.set(id, enqueued);
      return;
    }
    const started = isoUtcToMs(startedRaw);
    const counted = purpose === 'finished' ? this.pickupCounted.delete(id) : false;
    if (enqueued !== null && started !== null && started >= enqueued - 1000 && !counted) {
      this.pickups.add(started - enqueued, started);
      if (purpose === 'started') this.rememberPickup(id);
    }
    const ended = isoUtcToMs(endedRaw);
    if (purpose === 'finished' && started !== null && ended !== null) {
      this.services.add(ended - started, ended);
    }
  }

  private rememberPickup(id: string): void {
    // Bounded: a job removed without finishing (deleted, lost worker) would otherwise stay.
    if (this.pickupCounted.size >= 4 * this.options.maxJobsPerTick) {
      for (const old of this.pickupCounted)
        if (!this.inFlight.has(old)) this.pickupCounted.delete(old);
    }
    this.pickupCounted.add(id);
  }

  protected finish(tick: Tick): void {
    const draft = this.draft;
    const due = this.due ?? 0;
    const pending = this.length !== null && this.due !== null ? this.length + due : null;
    const active =
      this.wipCount !== null && this.intermediate !== null
        ? this.wipCount + this.intermediate
        : null;
    draft.set('pending', pending, 'counter');
    draft.set(
      'delayed',
      this.scheduledCount !== null ? Math.max(0, this.scheduledCount - due) : null,
      'counter',
    );
    draft.set('active', active, 'counter');
    draft.set('failed', this.failedCount, 'counter');

    if (pending === 0) {
      draft.set('oldestPendingAgeMs', 0, 'counter');
    } else if (pending !== null) {
      const candidates: number[] = [];
      if (this.oldestDueScore !== null) candidates.push(this.oldestDueScore * 1000);
      const readyAt = this.oldestId !== null ? this.ready.get(this.oldestId) : undefined;
      if (readyAt !== undefined) candidates.push(readyAt);
      if (candidates.length > 0) {
        draft.set(
          'oldestPendingAgeMs',
          Math.max(0, tick.startedAt - Math.min(...candidates)),
          'counter',
        );
      }
    }

    const completed =
      this.newFinished !== null && this.newFailed !== null
        ? this.newFinished.length + this.newFailed.length + this.finishedCount
        : null;
    const previous = this.previous;
    if (pending !== null && active !== null) {
      if (previous && completed !== null && !this.firstRead) {
        this.completions.add(previous.readAt, tick.readAt, completed);
        // Conservation: what arrived is what is here now, minus what was here, plus what left.
        this.arrivals.add(
          previous.readAt,
          tick.readAt,
          pending + active - (previous.pending + previous.active) + completed,
        );
      }
      this.previous = { pending, active, readAt: tick.readAt };
    } else {
      this.previous = null;
    }
    if (this.detailsPlanned && this.wipMembers !== null && this.newFinished !== null)
      this.firstRead = false;
  }
}

/** StartedJobRegistry members are `{job_id}:{execution_id}` in RQ 2.x, `{job_id}` before. */
function jobId(member: string): string {
  const colon = member.indexOf(':');
  return colon === -1 ? member : member.slice(0, colon);
}

/** How many of a newest-first page share its top score; null if the whole page does. */
function tiesAtTop(page: { score: number }[], limit: number): number | null {
  const ties = page.filter((entry) => entry.score === page[0]?.score).length;
  return ties >= limit ? null : ties;
}

/** A `WITHSCORES` reply as members and scores, in its order. */
function scored(value: unknown): { member: string; score: number }[] {
  const entries: { member: string; score: number }[] = [];
  if (!Array.isArray(value)) return entries;
  for (let index = 0; index + 1 < value.length; index += 2) {
    entries.push({ member: String(value[index]), score: Number(value[index + 1]) });
  }
  return entries;
}
