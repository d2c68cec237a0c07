/** Every default of the simulator, in one place. Durations in milliseconds. */
export const DEFAULTS = {
  /** Seed of the random streams. @defaultValue 1 */
  seed: 1,
  /** Window of the observed service times and pickup waits in each snapshot. @defaultValue 60000 */
  observationWindowMs: 60_000,
  /** Most recent pickups and completions kept for those figures. @defaultValue 1000 */
  observationSamples: 1_000,
  /** History of snapshots handed to the strategy (ScalingContext.history). @defaultValue 300000 */
  historyMs: 300_000,
  /** Defaults of the optional fields of a workload trace. */
  trace: {
    /** @defaultValue 2000 (the daemon's tick) */
    tickMs: 2_000,
    /** @defaultValue p95 pickup <= 30 s */
    slo: { pickupMs: 30_000, percentile: 95 },
    /** @defaultValue min 0, max 10, initial = min, concurrency 1 */
    workers: { min: 0, max: 10, concurrency: 1 },
    /** Mean spawn-to-ready time. @defaultValue 2000 */
    spawnLatencyMs: 2_000,
    /** Each spawn takes mean x (1 +- jitter), uniformly. @defaultValue 0.25 */
    spawnJitter: 0.25,
    /** Fair-share weight. @defaultValue 1 */
    priority: 1,
    /** How rate points are joined. @defaultValue `linear` */
    interpolation: 'linear' as 'linear' | 'step',
  },
} as const;
