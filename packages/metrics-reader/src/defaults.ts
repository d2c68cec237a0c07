/**
 * Every default of the metrics reader in one place. Durations are in milliseconds.
 */
export const DEFAULTS = {
  /**
   * Sliding window over which pickup-latency and service-time percentiles are computed.
   * @defaultValue 300000 (5 minutes)
   */
  windowMs: 300_000,
  /**
   * Window over which arrival and completion rates are averaged. Longer is smoother; shorter
   * follows a change sooner.
   * @defaultValue 60000 (1 minute)
   */
  rateWindowMs: 60_000,
  /**
   * Fewest observed jobs before `pickupLatencyMs` and `serviceTimeMs` are reported (null below).
   * @defaultValue 10
   */
  minSamples: 10,
  /**
   * Largest job payload the reader parses; a larger one gives its queue a `PAYLOAD_TOO_LARGE`
   * error and a null figure.
   * @defaultValue 1048576 (1 MiB)
   */
  maxPayloadBytes: 1_048_576,
  /**
   * Most jobs read per queue per tick in any bounded read (in-flight jobs, newly finished jobs,
   * details of newly started jobs). Reads never grow with the length of a queue.
   * @defaultValue 500
   */
  maxJobsPerTick: 500,
  /**
   * Laravel sources: interval of the sub-tick probe (LLEN, ZCARD, ZREVRANGE of the reserved
   * set) that sees each job arrive, start and finish; 0 turns it off. Jobs shorter than this
   * can pass unseen.
   * @defaultValue 100
   */
  laravelProbeIntervalMs: 100,
  /**
   * Most BullMQ event-stream entries read per queue per tick; a busier stream is caught up over
   * the next ticks.
   * @defaultValue 5000
   */
  maxEventsPerTick: 5_000,
  /**
   * Markers (recently added jobs) tracked per list for the systems without timestamps (Celery,
   * Laravel before 12.11), and how many of the oldest are checked per tick.
   * @defaultValue 4
   */
  markerChecksPerTick: 4,
  /**
   * Time a Redis command may take before its queues get a `REDIS_TIMEOUT` error.
   * @defaultValue 2000
   */
  commandTimeoutMs: 2_000,
  /**
   * Time a connection attempt may take.
   * @defaultValue 5000
   */
  connectTimeoutMs: 5_000,
  reconnect: {
    /**
     * First delay before reconnecting to a Redis that went away; doubled on each failure.
     * @defaultValue 200
     */
    initialDelayMs: 200,
    /**
     * Longest delay between two reconnection attempts.
     * @defaultValue 10000
     */
    maxDelayMs: 10_000,
  },
  /**
   * `discover()` scans Redis at most this often per connection, driver and prefix; calls in
   * between return the previous answer.
   * @defaultValue 60000 (1 minute)
   */
  discoveryIntervalMs: 60_000,
  /**
   * Celery with `acksLate`: how often, between ticks, `unacked_index` and the queue lengths are
   * read to time deliveries and ends (a pipeline of 2 to 6 small commands; see bench/).
   * @defaultValue 100
   */
  celeryProbeIntervalMs: 100,
  /**
   * Key prefix of each driver when a source's `prefix` is null. Laravel 11 and 12 use
   * `laravel_database_`, Laravel 13 `laravel-database-` (set it explicitly there).
   */
  prefixes: {
    /** @defaultValue `laravel_database_` */
    laravel: 'laravel_database_',
    /** @defaultValue `bull` */
    bullmq: 'bull',
    /** Sidekiq 7+ has no namespace. @defaultValue empty string */
    sidekiq: '',
    /** RQ has no configurable prefix; `rq:` is always used after this one. @defaultValue empty string */
    rq: '',
    /** kombu's `global_keyprefix`. @defaultValue empty string */
    celery: '',
  },
} as const;
