import type { Decision, Logger, WorkerCounts } from '@qscale/contracts';
import type { ClusterConfig } from '../config/cluster.js';
import type { RedisConnection } from '../config/schema.js';
import { fleetConnection } from './connection.js';
import {
  type FleetClient,
  type FleetKeys,
  fencedSet,
  fleetKeys,
  type LeaseHolder,
  release,
} from './lease.js';
import { type Assignment, type FleetView, type MemberReport, sync } from './membership.js';
import { planShares, type QueueTotal } from './split.js';

/** The fleet as /api/state shows it. */
export interface FleetState {
  /** This host's id. */
  id: string;
  /** The lease holder; null while unknown (Redis cannot be read) or vacant. */
  leader: string | null;
  term: number | null;
  /** Live members: workers each host can hold, and its live workers (all queues). */
  members: { id: string; capacity: number; workers: number }[];
  /** Each queue's fleet total in the assignment in force (what the leader decided). */
  totals: Record<string, number>;
}

export interface LeaderChange {
  from: string;
  to: string;
  term: number;
}

export interface FleetOptions {
  cluster: ClusterConfig;
  /** The Redis to coordinate through (the configuration's top-level `redis`). */
  redis?: RedisConnection;
  logger: Logger;
  /** Called on the host that took the lease over from another (every host logs the change). */
  onLeaderChange?: (change: LeaderChange) => void;
  /** A client to use instead of one from `redis` (tests, bench). */
  client?: FleetClient;
}

/**
 * This host's membership of the fleet: every tick, `sync` heartbeats, renews or takes the
 * lease and reads the assignment in force; the leader then `publish`es the shares of the
 * totals it decided (fenced by its lease); every host reconciles its pools to `share`.
 */
export class Fleet {
  readonly #keys: FleetKeys;
  readonly #client: FleetClient;
  #holder: LeaseHolder | null = null;
  #assignment: Assignment | null = null;
  #view: FleetView | null = null;
  #members: MemberReport[] = [];
  #applied: number | null = null;
  #lostSince: number | null = null;
  #lastLeader: string | null = null;

  constructor(private readonly options: FleetOptions) {
    this.#keys = fleetKeys(options.cluster.keyPrefix);
    if (!options.client && !options.redis) throw new Error('a fleet needs a Redis or a client');
    this.#client = options.client ?? fleetConnection(options.redis as RedisConnection);
  }

  get id(): string {
    return this.options.cluster.id;
  }

  get isLeader(): boolean {
    return this.#holder?.leader === this.id;
  }

  /**
   * Heartbeats this host's capacity and workers, renews or takes the lease and reads the
   * assignment. False when Redis cannot be reached: the host must then change nothing.
   */
  async sync(capacity: number, workers: Record<string, WorkerCounts>): Promise<boolean> {
    const report: MemberReport = {
      id: this.id,
      capacity,
      workers: Object.fromEntries(
        Object.entries(workers).map(([queue, counts]) => [
          queue,
          { running: counts.running, starting: counts.starting, stopping: counts.stopping },
        ]),
      ),
      applied: this.#applied,
    };
    let result: Awaited<ReturnType<typeof sync>>;
    try {
      result = await sync(this.#client, this.#keys, report, this.options.cluster.leaseTtlMs);
    } catch (error) {
      if (this.#lostSince === null) {
        this.#lostSince = Date.now();
        this.options.logger.warn('fleet: cannot reach Redis; keeping the workers as they are', {
          error,
        });
      }
      this.#holder = null;
      return false;
    }
    if (this.#lostSince !== null) {
      this.options.logger.info('fleet: Redis reachable again', {
        outageMs: Date.now() - this.#lostSince,
      });
      this.#lostSince = null;
    }
    const before = this.#lastLeader;
    this.#lastLeader = result.holder.leader;
    this.#holder = result.holder;
    this.#assignment = result.assignment;
    this.#view = result.view;
    this.#members = result.members;
    if (result.holder.leader !== before) {
      this.options.logger.info('fleet leader changed', {
        from: before,
        to: result.holder.leader,
        term: result.holder.term,
        self: this.id,
      });
      // One alert per change: from the host that took over from a leader it knew.
      if (before !== null && result.holder.leader === this.id) {
        this.options.onLeaderChange?.({ from: before, to: this.id, term: result.holder.term });
      }
    }
    return true;
  }

  /** A queue's workers across the live members (the leader's view): what its strategy sees. */
  fleetWorkers(queue: string, concurrency: number): WorkerCounts {
    const counts: WorkerCounts = { running: 0, starting: 0, stopping: 0, concurrency };
    for (const member of this.#members) {
      const own = member.workers[queue];
      if (!own) continue;
      counts.running += own.running;
      counts.starting += own.starting;
      counts.stopping += own.stopping;
    }
    return counts;
  }

  /**
   * The leader splits the totals it decided across the live members and writes the
   * assignment (a new `seq`) when a share changed, and its view of the members. False: the
   * lease was lost in between and the write refused; the assignment in force stays.
   */
  async publish(totals: readonly QueueTotal[], now: number): Promise<boolean> {
    const holder = this.#holder;
    if (!holder || !this.isLeader) return false;
    const shares = planShares(totals, this.#members, this.#assignment);
    const totalsByQueue = Object.fromEntries(totals.map((queue) => [queue.name, queue.total]));
    const view: FleetView = {
      leader: holder.leader,
      term: holder.term,
      at: now,
      members: this.#members.map((member) => ({
        id: member.id,
        capacity: member.capacity,
        workers: liveWorkers(member),
      })),
    };
    try {
      let written = await fencedSet(
        this.#client,
        this.#keys,
        holder,
        this.#keys.view,
        JSON.stringify(view),
      );
      const current = this.#assignment;
      const changed =
        current === null ||
        JSON.stringify(current.shares) !== JSON.stringify(shares) ||
        JSON.stringify(current.totals) !== JSON.stringify(totalsByQueue);
      if (written && changed) {
        const next: Assignment = {
          seq: (current?.seq ?? 0) + 1,
          term: holder.term,
          leader: holder.leader,
          at: now,
          totals: totalsByQueue,
          shares,
        };
        written = await fencedSet(
          this.#client,
          this.#keys,
          holder,
          this.#keys.assignment,
          JSON.stringify(next),
        );
        if (written) this.#assignment = next;
      }
      if (written) this.#view = view;
      else {
        this.options.logger.warn('fleet: write refused, this host no longer holds the lease', {
          term: holder.term,
        });
        this.#holder = null;
      }
      return written;
    } catch (error) {
      this.options.logger.warn('fleet: cannot write the assignment; the one in force stays', {
        error,
      });
      return false;
    }
  }

  /** This host's share of a queue in the assignment in force; null: no assignment yet. */
  share(queue: string): number | null {
    if (!this.#assignment) return null;
    return this.#assignment.shares[queue]?.[this.id] ?? 0;
  }

  /** The queue's fleet total in the assignment in force. */
  total(queue: string): number | null {
    return this.#assignment?.totals[queue] ?? null;
  }

  /** The pools now follow the assignment in force: the next heartbeat says so. */
  markApplied(): void {
    this.#applied = this.#assignment?.seq ?? null;
  }

  /**
   * A queue's decision for this host: its share of the fleet total, explained. `decided`
   * is the leader's own decision for the whole fleet (absent on the other hosts).
   */
  localDecision(queue: string, from: number, decided?: Decision): Decision | null {
    const share = this.share(queue);
    if (share === null) return null;
    const total = this.total(queue) ?? share;
    const leader = this.#assignment?.leader ?? 'unknown';
    const why = `this host's (${this.id}) share of ${total} workers across the fleet, split by leader ${leader}`;
    return {
      queue,
      from,
      to: share,
      recommendation: {
        workers: share,
        reason: decided
          ? `${decided.recommendation.reason}; fleet total ${decided.to}, ${why}`
          : `fleet: ${why}`,
        terms: decided?.recommendation.terms ?? {},
      },
      edits: [],
    };
  }

  state(): FleetState {
    const members = this.isLeader || !this.#view ? null : this.#view.members;
    return {
      id: this.id,
      leader: this.#holder?.leader ?? null,
      term: this.#holder?.term ?? null,
      members:
        members ??
        this.#members.map((member) => ({
          id: member.id,
          capacity: member.capacity,
          workers: liveWorkers(member),
        })),
      totals: { ...this.#assignment?.totals },
    };
  }

  /** Gives the lease up when held (the others take over at once), then disconnects. */
  async close(): Promise<void> {
    if (this.#holder && this.isLeader) {
      await release(this.#client, this.#keys, this.#holder).catch(() => {});
    }
    this.#client.disconnect();
  }
}

/** Every worker process a member reported, all queues and states together. */
function liveWorkers(member: MemberReport): number {
  return Object.values(member.workers).reduce(
    (sum, counts) => sum + counts.running + counts.starting + counts.stopping,
    0,
  );
}
