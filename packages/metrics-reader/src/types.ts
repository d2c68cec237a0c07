import type { Logger, QueueBackend, QueueSnapshot } from '@qscale/contracts';

/** A Sentinel to ask where the master is. */
export interface SentinelAddress {
  host: string;
  port: number;
}

/** How to reach one Redis; the same shape as the daemon's resolved `redis` settings. */
export interface RedisConnectionOptions {
  /**
   * `redis://` or `rediss://` (TLS) URL, which may carry user, password and db; or a Unix
   * socket, `redis+unix:///path/to/redis.sock?db=N` (also `unix:///path?db=N`). With
   * `cluster`, one node of the cluster. Required unless `sentinel` is set (then omitted).
   */
  url?: string | null | undefined;
  /** ACL user name, overriding the URL's. */
  username?: string | null | undefined;
  /** Password, overriding the URL's. Never logged. */
  password?: string | null | undefined;
  /** Database index, overriding the URL's. */
  db?: number | null | undefined;
  /** TLS settings; null means TLS only when the URL is `rediss://`. */
  tls?:
    | {
        /** PEM file of the CA that signed the server's certificate. */
        caFile?: string | null | undefined;
        /** PEM client certificate, for a server with `tls-auth-clients yes` (with `keyFile`). */
        certFile?: string | null | undefined;
        /** PEM private key of `certFile`. */
        keyFile?: string | null | undefined;
        /** Name to check the server's certificate against (SNI). */
        servername?: string | null | undefined;
        /** Refuse a certificate that does not verify. @defaultValue true */
        rejectUnauthorized?: boolean | undefined;
      }
    | null
    | undefined;
  /**
   * Redis Sentinel: the master is asked of these Sentinels (in order, first answer wins) on
   * every connection, and checked with `ROLE`; after a failover the next connection goes to
   * the new master. `username`/`password`/`db`/`tls` above apply to the master.
   */
  sentinel?:
    | {
        /** The master's name in the Sentinels' configuration (`sentinel monitor <name> ...`). */
        masterName: string;
        sentinels: readonly SentinelAddress[];
        /** ACL user for the Sentinels (not the master's). */
        username?: string | null | undefined;
        /** The Sentinels' `requirepass` (not the master's). Never logged. */
        password?: string | null | undefined;
      }
    | null
    | undefined;
  /**
   * Redis Cluster: `url` is one node; the slot map is read from it and each tick sends one
   * pipeline per master that owns a key read, following MOVED and ASK redirections.
   * @defaultValue false
   */
  cluster?: boolean | undefined;
}

/** One queue to read, as the configuration resolves it. */
export interface QueueSource {
  /** The queue's name in qscale's configuration; becomes `QueueSnapshot.queue`. */
  queue: string;
  /** The queue system. */
  driver: QueueBackend;
  /** The queue's name in the backend (e.g. `default`, `{default}` on a Laravel cluster). */
  backendName: string;
  /** The backend's key prefix; null means the driver's default (see `DEFAULTS.prefixes`). */
  prefix: string | null;
  /** Queues with equal connection settings share one client and one pipeline per tick. */
  redis: RedisConnectionOptions;
  /** Laravel only (an error on another driver). */
  laravel?: LaravelSourceOptions | null | undefined;
  /** Celery only (ignored by other drivers); see the README's Celery section. */
  celery?: CelerySourceOptions | undefined;
}

/** Settings of a Laravel source; every one is optional. */
export interface LaravelSourceOptions {
  /**
   * The queue connection's `retry_after`, seconds (config/queue.php). Laravel scores a
   * reservation with reserved-at + retry_after (whole seconds): given, the reservation time is
   * read from the score; null, the reader learns the offset from what it sees.
   * @defaultValue null
   */
  retryAfter?: number | null | undefined;
  /**
   * How often, between ticks, the reader looks at the list length, the delayed count and the
   * reserved set (LLEN, ZCARD, ZREVRANGE WITHSCORES) to see each job arrive, start and finish:
   * 0 turns it off (then jobs shorter than a tick go unseen and the timing figures are null).
   * @defaultValue DEFAULTS.laravelProbeIntervalMs (100)
   */
  probeIntervalMs?: number | undefined;
}

/** How a Celery queue's workers are configured, which decides what Redis can show. */
export interface CelerySourceOptions {
  /**
   * The tasks run with `acks_late` (`task_acks_late = True`): a message stays in kombu's
   * `unacked` hash until its task finished, so running tasks, run times and pickups can be
   * read. With Celery's default early ack a message leaves `unacked` as its task starts, and
   * `active` and run time are unknown. Assumes `worker_prefetch_multiplier = 1`.
   * @defaultValue false
   */
  acksLate?: boolean | undefined;
  /**
   * Between ticks, read `unacked_index` and the queue's lengths this often (ms) to time each
   * delivery and end; 0 disables it. @defaultValue `DEFAULTS.celeryProbeIntervalMs` with
   * `acksLate`, else 0
   */
  probeIntervalMs?: number | undefined;
}

/** Options of {@link createMetricsReader}. Every duration is in milliseconds. */
export interface MetricsReaderOptions {
  /** The queues to read, in the order `snapshot()` returns them. */
  sources: readonly QueueSource[];
  /** Receives connection problems and data problems with structured fields. */
  logger?: Logger;
  /** The clock, epoch milliseconds; inject one to make tests deterministic. @defaultValue `Date.now` */
  now?: () => number;
  /** @see DEFAULTS.windowMs */
  windowMs?: number;
  /** @see DEFAULTS.rateWindowMs */
  rateWindowMs?: number;
  /** @see DEFAULTS.minSamples */
  minSamples?: number;
  /** @see DEFAULTS.maxPayloadBytes */
  maxPayloadBytes?: number;
  /** @see DEFAULTS.maxJobsPerTick */
  maxJobsPerTick?: number;
  /** @see DEFAULTS.maxEventsPerTick */
  maxEventsPerTick?: number;
  /** @see DEFAULTS.markerChecksPerTick */
  markerChecksPerTick?: number;
  /** @see DEFAULTS.commandTimeoutMs */
  commandTimeoutMs?: number;
  /** @see DEFAULTS.connectTimeoutMs */
  connectTimeoutMs?: number;
  /** @see DEFAULTS.reconnect */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number };
  /** @see DEFAULTS.discoveryIntervalMs */
  discoveryIntervalMs?: number;
  /**
   * Name the reader's connections give themselves (`CLIENT SETNAME`), so they can be told apart
   * in `CLIENT LIST`. Needs the ACL permission for `CLIENT`; null sets no name.
   * @defaultValue null
   */
  connectionName?: string | null;
}

/** Where to look for queues with {@link MetricsReader.discover}. */
export interface DiscoveryTarget {
  driver: QueueBackend;
  /** Null means the driver's default prefix. */
  prefix: string | null;
  redis: RedisConnectionOptions;
}

/** A queue found in Redis. */
export interface DiscoveredQueue {
  driver: QueueBackend;
  /** The queue's name in the backend, to use as `backendName`. */
  backendName: string;
  /** The prefix it was found under (the driver's default when the target gave none). */
  prefix: string;
  /** The Redis it lives in, without credentials. */
  redis: string;
}

/** What the last snapshot cost, for the benchmark and the daemon's /metrics. */
export interface SnapshotCost {
  /** When the snapshot started, epoch milliseconds. */
  at: number;
  /** Wall time of the whole snapshot, all connections in parallel. */
  durationMs: number;
  /** Pipelined round trips, all connections together. */
  roundTrips: number;
  /** Most round trips any one connection needed (the bound: 2). */
  maxRoundTripsPerConnection: number;
  /** Redis commands sent. */
  commands: number;
  /** Connections read (one per distinct Redis). */
  connections: number;
  /** Queues whose snapshot carries an error. */
  queuesWithErrors: number;
  /**
   * Bytes received from Redis while the snapshot was read, all connections together (a
   * `discover()` or `readyQueues()` running at the same time on a connection is included).
   */
  receivedBytes: number;
}

/** Where a queue's worker count comes from. */
export type WorkerRegistry =
  /** BullMQ: the queue's workers in CLIENT LIST (what `Queue.getWorkers()` reads). */
  | 'bullmq-clients'
  /** Sidekiq: live processes in the `processes` set that serve the queue. */
  | 'sidekiq-processes'
  /** RQ: live workers in `rq:workers:<queue>`. */
  | 'rq-workers';

/** How many workers a queue system shows for one queue. */
export interface WorkerCount {
  /** The source's `queue`. */
  queue: string;
  /** Workers the registry shows; null without a registry or when it could not be read. */
  workers: number | null;
  /** The driver's registry; null for Laravel and Celery, which keep none. */
  registry: WorkerRegistry | null;
  /** Why `workers` is null. */
  reason?: string;
  /**
   * The registry's entries counted (Sidekiq process identities, RQ worker keys); absent for
   * BullMQ. A process serving several queues appears under each: a worker group counts the
   * union of its members' entries, each process once.
   */
  workerIds?: string[];
}

/** Running totals since the reader was created. */
export interface ReaderStats {
  snapshots: number;
  roundTrips: number;
  commands: number;
  /** Snapshots in which a connection could not be read. */
  connectionFailures: number;
  /** SCAN/SSCAN calls made by `discover()`. */
  discoveryScans: number;
  /** Cost of the most recent snapshot; null before the first. */
  last: SnapshotCost | null;
  /**
   * Reads made between snapshots by the sub-tick probes (Laravel's, Sidekiq's tail, Celery's
   * with `acksLate`): round trips, commands and bytes received since the reader was created
   * (also counted in a snapshot's `receivedBytes` when one overlaps it); zero when no source
   * probes.
   */
  probes: ProbeStats;
}

export interface ProbeStats {
  /** Round trips made between snapshots. */
  count: number;
  commands: number;
  receivedBytes: number;
}

/** The reader the daemon keeps for its lifetime. */
export interface MetricsReader {
  /**
   * One snapshot per source, in order. Never rejects for data or connection problems: an
   * affected queue gets `error` and null figures while the others go on. Concurrent calls
   * share one read.
   */
  snapshot(): Promise<QueueSnapshot[]>;
  /**
   * The queues that exist, per driver, for `targets` (by default, every connection, driver and
   * prefix of the sources). SCANs each target at most once per `discoveryIntervalMs`.
   */
  discover(targets?: readonly DiscoveryTarget[]): Promise<DiscoveredQueue[]>;
  /**
   * The queues (by `queue` name; all sources when `queues` is omitted) that have a job ready
   * to start now: what `pending` counts (due delayed jobs included; Sidekiq's global schedule
   * excepted), read with counting commands only, in one round trip per Redis and without
   * touching any queue's history. For waking a queue that has no worker between ticks. A
   * Redis that cannot be read contributes no queue; the next `snapshot()` says why.
   */
  readyQueues(queues?: readonly string[]): Promise<string[]>;
  /**
   * How many workers each queue's system registers (all sources when `queues` is omitted), in
   * source order, over the reader's own connections (Sentinel, Unix sockets, TLS and Cluster
   * included): BullMQ's named clients, Sidekiq's live processes, RQ's live workers; Laravel and
   * Celery keep no registry (null with a reason). At most two round trips per Redis beside
   * CLIENT LIST; never rejects (an unreadable Redis gives null counts saying why).
   */
  workerCounts(queues?: readonly string[]): Promise<WorkerCount[]>;
  /**
   * Replaces the queues read (a configuration reload). The reader of every source that stays
   * the same keeps its history (rate and latency windows, jobs seen in flight); a new source
   * starts from nothing; connections no longer needed are closed. Validated like the
   * options of `createMetricsReader` (an invalid list throws `INVALID_OPTIONS` and changes
   * nothing); a read in progress finishes first.
   */
  setSources(sources: readonly QueueSource[]): Promise<void>;
  /** Totals and the cost of the last snapshot. */
  stats(): ReaderStats;
  /** Closes every Redis connection; the reader cannot be used afterwards. */
  close(): Promise<void>;
}
