/** One claimant of a shared capacity (a queue on a host, or a workload in a cluster). */
export interface FairShareDemand {
  /** Unique key; ties are broken by key, ascending. */
  key: string;
  /** Workers wanted. */
  demand: number;
  /** Guaranteed even when the capacity cannot hold every minimum. @defaultValue 0 */
  min?: number;
  /** Never more than this. @defaultValue no limit */
  max?: number;
  /** Priority weight: a share of what is left grows with it. @defaultValue 1 */
  weight?: number;
}

/**
 * Shares `capacity` workers among demands (the anchor's FairShareAllocator, plus weights):
 * 1. when every demand (clamped to [min, max]) fits, each gets its demand;
 * 2. otherwise each gets its minimum first (minimums are guarantees, even beyond capacity);
 * 3. what is left is shared in proportion to weight x unmet demand (demand - given), floors
 *    first, then one more each by largest remainder (ties by key), never above min(demand,
 *    max); repeated while capacity is left and someone still wants more.
 * Pure and deterministic: the result does not depend on the order of `demands`.
 */
export function allocateFairShare(
  demands: readonly FairShareDemand[],
  capacity: number,
): Record<string, number> {
  const entries = [...demands]
    .map((d) => ({
      key: d.key,
      demand: Math.max(0, d.demand),
      min: Math.max(0, d.min ?? 0),
      max: d.max ?? Number.POSITIVE_INFINITY,
      weight: d.weight ?? 1,
    }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const result: Record<string, number> = {};
  const clamped = entries.map((e) => Math.min(Math.max(e.demand, e.min), Math.max(e.max, e.min)));
  if (clamped.reduce((sum, n) => sum + n, 0) <= capacity) {
    entries.forEach((e, i) => {
      result[e.key] = clamped[i] as number;
    });
    return result;
  }
  const given = entries.map((e) => e.min);
  const total = () => given.reduce((sum, n) => sum + n, 0);
  const ceiling = entries.map((e) => Math.max(e.min, Math.min(e.demand, e.max)));
  for (let round = 0; round <= entries.length; round++) {
    const left = capacity - total();
    if (left <= 0) break;
    const eligible: { index: number; unmet: number }[] = [];
    entries.forEach((e, i) => {
      if ((given[i] as number) < (ceiling[i] as number)) {
        eligible.push({ index: i, unmet: e.weight * (e.demand - (given[i] as number)) });
      }
    });
    const unmetTotal = eligible.reduce((sum, e) => sum + e.unmet, 0);
    if (eligible.length === 0 || unmetTotal <= 0) break;
    const remainders: { index: number; fraction: number }[] = [];
    for (const { index, unmet } of eligible) {
      const share = (unmet * left) / unmetTotal;
      const whole = Math.floor(share);
      given[index] = (given[index] as number) + whole;
      remainders.push({ index, fraction: share - whole });
    }
    remainders.sort(
      (a, b) =>
        b.fraction - a.fraction ||
        ((entries[a.index] as { key: string }).key < (entries[b.index] as { key: string }).key
          ? -1
          : 1),
    );
    let leftover = capacity - total();
    for (const { index } of remainders) {
      if (leftover <= 0) break;
      if ((given[index] as number) < (ceiling[index] as number)) {
        given[index] = (given[index] as number) + 1;
        leftover--;
      }
    }
    for (const { index } of eligible) {
      given[index] = Math.min(given[index] as number, ceiling[index] as number);
    }
  }
  entries.forEach((e, i) => {
    result[e.key] = given[i] as number;
  });
  return result;
}
