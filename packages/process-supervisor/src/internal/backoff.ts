export interface BackoffSettings {
  backoffInitialMs: number;
  backoffMaxMs: number;
  backoffJitterRatio: number;
}

/**
 * The delay before the restart that follows the `attempt`-th crash in a row (0 for the first):
 * `initial × 2^attempt`, capped, then moved by up to ±jitter so pools do not restart in step.
 * `random` returns a number in [0, 1), like Math.random.
 */
export function backoffDelayMs(
  attempt: number,
  settings: BackoffSettings,
  random: () => number = Math.random,
): number {
  const base = Math.min(settings.backoffMaxMs, settings.backoffInitialMs * 2 ** attempt);
  const jitter = 1 + settings.backoffJitterRatio * (2 * random() - 1);
  return Math.max(0, Math.round(base * jitter));
}
