import type { Decision } from '@qscale/contracts';

/**
 * How many workers a decision kept below the strategy's recommendation, and the policy that
 * made the last cut below it (`fair-share` when the host capacity bit, `cooldown`,
 * `stabilization`, `bounds`, ...); null when the decision gave at least what was recommended.
 * The last cut is the one that held: an earlier one may have been undone by a later edit.
 */
export function heldBackBy(decision: Decision): { policy: string; workers: number } | null {
  const workers = decision.recommendation.workers - decision.to;
  if (workers <= 0) return null;
  const cut = decision.edits.findLast((edit) => edit.to < edit.from);
  return { policy: cut?.policy ?? 'unknown', workers };
}
