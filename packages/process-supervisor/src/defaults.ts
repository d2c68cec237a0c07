/**
 * Every default of the supervisor in one place. Durations are in milliseconds, sizes in bytes.
 * The daemon's configuration overrides the per-queue ones; the rest are package options.
 */
export const DEFAULTS = {
  /**
   * What to do with workers of a previous run that are still the same processes: keep them
   * (`adopt`) or stop them gracefully (`stop`).
   * @defaultValue `'adopt'`
   */
  previousWorkers: 'adopt' as 'adopt' | 'stop',
  /**
   * Refuse to create a pool whose workers would run as root (the supervisor is root and the
   * queue names no user). When false, such a pool logs a warning instead.
   * @defaultValue false
   */
  refuseRoot: false,
  stop: {
    /**
     * Sent in order to the worker's process group to stop it gracefully.
     * @defaultValue `['SIGTERM']`
     */
    signals: ['SIGTERM'] as readonly string[],
    /** Time from the first stop signal to SIGKILL of the whole group. @defaultValue 30000 */
    graceMs: 30_000,
    /** Pause between two signals of a list such as `['SIGTSTP', 'SIGTERM']`. @defaultValue 1000 */
    signalGapMs: 1_000,
    /**
     * How long to wait for the exit after SIGKILL (a process in uninterruptible sleep dies
     * late) before `stop()` resolves anyway and logs the worker as unkillable.
     * @defaultValue 5000
     */
    killWaitMs: 5_000,
  },
  spawn: {
    /** Uptime after which a worker counts as running; an exit before it is a failed start. @defaultValue 1000 */
    minUptimeMs: 1_000,
    /**
     * Time one event-loop turn may spend in spawn calls (each blocks until the child has
     * exec'd: a few ms, more under load); the rest continue on the next turns, so scaling to
     * 100 workers never holds the daemon's loop. At least one spawn per turn.
     * @defaultValue 20
     */
    turnBudgetMs: 20,
  },
  workers: {
    /** Jobs one worker runs at the same time, reported in the counts. @defaultValue 1 */
    concurrency: 1,
  },
  restart: {
    /** First delay before restarting after a crash. @defaultValue 500 */
    backoffInitialMs: 500,
    /** The delay doubles on each crash in a row, up to this. @defaultValue 30000 */
    backoffMaxMs: 30_000,
    /** Each delay is moved at random by up to this share, so pools do not restart in step. @defaultValue 0.2 */
    backoffJitterRatio: 0.2,
    /** A worker that crashes after running this long starts the delays from the first again. @defaultValue 30000 */
    backoffResetMs: 30_000,
    /** Failed starts in a row (exits before the minimum uptime) that make the queue degraded. @defaultValue 5 */
    maxFailedStarts: 5,
    /** How long a degraded queue waits before it tries one worker again. @defaultValue 60000 */
    coolOffMs: 60_000,
  },
  rollout: {
    /**
     * Replacement workers (config change, memory or lifetime recycling) starting at once; each
     * old worker stops only once a replacement runs.
     * @defaultValue 1
     */
    surge: 1,
  },
  output: {
    /** Longer lines are cut here and marked `truncated`. @defaultValue 8192 */
    maxLineBytes: 8_192,
    /** Lines per second and worker passed to the logger; the rest are counted and dropped. @defaultValue 100 */
    linesPerSecond: 100,
    /** Lines a worker may log in a burst above the steady rate. @defaultValue 500 */
    burstLines: 500,
    /** Last lines kept per worker and attached to its `crashed` event. @defaultValue 20 */
    tailLines: 20,
    /** After the worker exits, how long its pipes may stay open (held by an escaped child). @defaultValue 2000 */
    drainMs: 2_000,
  },
  /** How often a live adopted worker (not our child: no exit event) is looked up in /proc. @defaultValue 1000 */
  adoptedPollMs: 1_000,
  /**
   * How often /proc is walked for workers' descendants while any worker lives (a package
   * option), so that a child which leaves the worker's session and outlives its parent (a
   * double fork) is already known when the worker stops. Every stop signal walks it again
   * first. 0 walks only at stops.
   * @defaultValue 1000
   */
  treeScanMs: 1_000,
} as const;
