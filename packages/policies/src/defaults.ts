/**
 * Every default of the policy pipeline, in one place. Durations are in milliseconds. These are
 * the values bench/strategies measured `predictive` with; the daemon's `scaling.*` settings
 * override them per queue.
 */
export const DEFAULTS = {
  /**
   * A reversal (a scale-down after a scale-up, or the other way round) waits this long after
   * the last change; an SLO breach (or one due before a new worker could start) lets a
   * scale-up through at once. `createHostAllocator` holds a slot it gave a queue this long,
   * unless the queue goes idle. @defaultValue 30000 (30 s)
   */
  cooldownMs: 30_000,
  /**
   * Scale-down uses the highest recommendation of this window; scale-up is immediate. The
   * strategies already smooth their inputs over minutes, so the window only has to absorb
   * what is left; a longer one holds every spike's workers that much longer.
   * @defaultValue 30000 (30 s)
   */
  downStabilizationMs: 30_000,
  /** Most workers added in one decision; null means no limit. @defaultValue null */
  maxStepUp: null as number | null,
  /** Most workers removed in one decision; null means no limit. @defaultValue null */
  maxStepDown: null as number | null,
  /**
   * Most workers removed in one decision as a share of the current count, at least 1
   * (the anchor's ConservativeScaleDownPolicy is 0.25); null means no limit. @defaultValue null
   */
  maxStepDownRatio: null as number | null,
  /**
   * A snapshot older than this many ticks is stale: the queue is never scaled down on it.
   * @defaultValue 3
   */
  staleAfterTicks: 3,
  /**
   * A queue drained with no arrivals for this many ticks, and for longer than any such quiet
   * spell of the last `quietMemoryMs`, is scaled down without the stabilisation window (its
   * highest recommendations belong to a burst that is over); the cooldown still applies. A
   * queue whose bursts come with gaps is never released inside a gap no longer than those it
   * has shown, so periodic bursts do not flap. null: always stabilise. @defaultValue 2
   */
  quietAfterTicks: 2 as number | null,
  /** How far back quiet spells are remembered. @defaultValue 300000 (5 min) */
  quietMemoryMs: 300_000,
  /** Breach and recovery events of one queue are at most this frequent. @defaultValue 300000 (5 min) */
  alertCooldownMs: 300_000,
} as const;
