/**
 * Every default of the built-in strategies, in one place. Durations are in milliseconds,
 * rates in jobs per second. A strategy's options override these one by one.
 */
export const DEFAULTS = {
  /**
   * Mean service time assumed while none has been observed and none can be derived from
   * `active / completionRate` (Little's Law on the busy slots).
   * @defaultValue 2000 (the anchor's `fallback_job_time_seconds`)
   */
  fallbackServiceTimeMs: 2_000,

  predictive: {
    /** How far back arrival rates and service times are averaged. @defaultValue 120000 (2 min) */
    rateWindowMs: 120_000,
    /**
     * A level shift is accepted when the arrivals after a split point differ from those before
     * it by more than this many Poisson standard deviations (twice as many when only the latest
     * snapshot is after the split, so one noisy tick is not taken for a shift). @defaultValue 4
     */
    shiftZ: 4,
    /**
     * Size for the arrival rate plus this many standard errors of its estimate,
     * sqrt(rate / seconds observed). @defaultValue 1
     */
    rateConfidenceZ: 1,
    /** A trend is used only when its slope is this many standard errors from 0. @defaultValue 3 */
    trendZ: 3,
    /** Damping factor phi per tick of the trend projection (Holt's damped trend). @defaultValue 0.8 */
    trendDamping: 0.8,
    /**
     * Share of the SLO a planned standing backlog may use (time-sharing: the queue absorbs the
     * fraction of a worker the load does not need); 0 never plans a backlog. Used only when
     * that budget is at least one tick plus the spawn latency, so the loop can still react.
     * @defaultValue 0.5
     */
    backlogBudget: 0.5,
    /**
     * Shortest budget the backlog term divides by, when the oldest job has (almost) no SLO
     * left; null means one tick. @defaultValue null
     */
    minDrainBudgetMs: null as number | null,
    /**
     * A queue with nothing pending and no arrivals for this many ticks, and for longer than any
     * quiet gap it showed in the last `quietMemoryMs`, is drained and quiet: only the workers
     * still busy are kept. null never applies the rule. @defaultValue 2
     */
    quietAfterTicks: 2 as number | null,
    /** How far back quiet gaps are remembered (bursts with gaps never release in a gap). @defaultValue 300000 (5 min) */
    quietMemoryMs: 300_000,
  },

  erlangDrain: {
    /** How far back the mean arrival rate and service time are taken. @defaultValue 60000 (1 min) */
    rateWindowMs: 60_000,
  },

  littlesLaw: {},

  backlog: {
    /** Share of the SLO the oldest job must have waited before workers are added. @defaultValue 0.5 */
    breachThreshold: 0.5,
  },

  laravelHybrid: {
    /** `scaling.fallback_job_time_seconds`, in ms. @defaultValue 2000 */
    fallbackJobTimeMs: 2_000,
    /** `scaling.breach_threshold`. @defaultValue 0.5 */
    breachThreshold: 0.5,
    /** `scaling.min_arrival_rate_confidence`. @defaultValue 0.5 */
    minArrivalRateConfidence: 0.5,
    /** `forecast.policy`: aggressive, moderate, hint or disabled. @defaultValue `moderate` */
    forecastPolicy: 'moderate' as 'aggressive' | 'moderate' | 'hint' | 'disabled',
    /** `forecast.horizon_seconds`, in ms. @defaultValue 60000 */
    forecastHorizonMs: 60_000,
    /** `sla.min_samples`: pickups needed before the percentile replaces the oldest age. @defaultValue 20 */
    pickupMinSamples: 20,
    /** `spawn_compensation.enabled`. @defaultValue true */
    spawnCompensation: true,
    /** Window of the throughput (`performance_60s`), in ms. @defaultValue 60000 */
    throughputWindowMs: 60_000,
  },

  horizon: {
    /** `balanceCooldown`, in ms: at most one balancing step per this period. @defaultValue 3000 */
    balanceCooldownMs: 3_000,
    /** `balanceMaxShift`: processes added or removed per step. @defaultValue 1 */
    balanceMaxShift: 1,
    /** `autoScalingStrategy`: `time` (time to clear) or `size` (jobs). @defaultValue `time` */
    autoScalingStrategy: 'time' as 'time' | 'size',
  },

  hpa: {
    /** KEDA redis `listLength`: target pending jobs per worker (AverageValue). @defaultValue 5 */
    targetPendingPerWorker: 5,
    /** KEDA `activationListLength`: 0 <-> 1 only when pending is above this. @defaultValue 0 */
    activationPending: 0,
    /** HPA tolerance: no change while |1 - usage ratio| <= this. @defaultValue 0.1 */
    tolerance: 0.1,
    /** HPA sync period, in ms. @defaultValue 15000 */
    syncPeriodMs: 15_000,
    /** KEDA `pollingInterval` (activation checks while at 0), in ms. @defaultValue 30000 */
    pollingIntervalMs: 30_000,
    /** KEDA `cooldownPeriod` before scaling 1 -> 0 once inactive, in ms. @defaultValue 300000 */
    cooldownPeriodMs: 300_000,
    /** `behavior.scaleDown.stabilizationWindowSeconds`, in ms. @defaultValue 300000 */
    scaleDownStabilizationMs: 300_000,
    /** `behavior.scaleUp` Percent policy: +100 % per period. @defaultValue 100 */
    scaleUpPercent: 100,
    /** `behavior.scaleUp` Pods policy: +4 per period (selectPolicy Max). @defaultValue 4 */
    scaleUpPods: 4,
  },

  fixed: {
    /** Workers to keep; null means the queue's maximum. @defaultValue null */
    workers: null as number | null,
  },
} as const;
