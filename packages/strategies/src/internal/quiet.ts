import type { QueueSnapshot } from '@qscale/contracts';

/**
 * Whether a snapshot shows a drained, quiet queue: nothing pending and no arrivals since the
 * snapshot before (the completion rate stands in when the arrival rate is unknown). Unknown
 * figures are never quiet.
 */
export function isQuiet(snapshot: QueueSnapshot): boolean {
  const arrivals = snapshot.arrivalRate ?? snapshot.completionRate;
  return snapshot.pending === 0 && arrivals === 0 && !snapshot.error;
}

export interface QuietSpell {
  /** How long the queue has been drained with no arrivals, ms (0: not quiet now). */
  quietForMs: number;
  /** The longest quiet spell that ended (arrivals came back) among the snapshots given, ms. */
  longestEndedMs: number;
}

/**
 * The current quiet spell and the longest earlier one, from snapshots oldest first (the last
 * one is now). A spell runs from the last snapshot that was not quiet to the last quiet one.
 */
export function quietSpells(snapshots: readonly QueueSnapshot[]): QuietSpell {
  let longestEndedMs = 0;
  let lastBusyAt: number | null = null;
  let lastQuietAt: number | null = null;
  for (const snapshot of snapshots) {
    if (isQuiet(snapshot)) {
      lastQuietAt = snapshot.at;
      continue;
    }
    if (lastBusyAt !== null && lastQuietAt !== null && lastQuietAt > lastBusyAt) {
      longestEndedMs = Math.max(longestEndedMs, lastQuietAt - lastBusyAt);
    }
    lastBusyAt = snapshot.at;
  }
  const last = snapshots.at(-1);
  const quietForMs =
    last && isQuiet(last) && lastBusyAt !== null && lastQuietAt !== null
      ? lastQuietAt - lastBusyAt
      : 0;
  return { quietForMs, longestEndedMs };
}

/**
 * A queue has gone quiet for good enough to let its workers go: drained with no arrivals for at
 * least `minQuietMs`, and longer than any quiet gap it had recently (a queue whose bursts come
 * with gaps is not released in a gap no longer than those it has already shown).
 */
export function drainedAndQuiet(spell: QuietSpell, minQuietMs: number): boolean {
  return spell.quietForMs >= minQuietMs && spell.quietForMs > spell.longestEndedMs;
}
