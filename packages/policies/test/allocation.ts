/** Allocator entries for the host-allocator tests: one queue, its workers and its decision. */
import type { Decision, QueueSnapshot, ScalingContext } from '@qscale/contracts';
import { context } from '@qscale/testkit';
import type { AllocationEntry } from '../src/allocator.js';

export const T = 1_000_000;

/** One queue's entry: it has `from` workers and its pipeline decided `to`. */
export function entry(
  queue: string,
  from: number,
  to: number,
  figures: Partial<QueueSnapshot> = {},
  overrides: Partial<ScalingContext> = {},
): AllocationEntry {
  const decision: Decision = {
    queue,
    from,
    to,
    recommendation: { workers: to, reason: 'test', terms: {} },
    edits: [],
  };
  const ctx = context({
    now: T,
    slo: { pickupMs: 15_000, percentile: 95 },
    ...overrides,
    queue: { queue, ...figures },
    workers: { running: from },
  });
  return { decision, ctx };
}
export const idle = (queue: string, from: number, to = from) => entry(queue, from, to);
export const busy = (queue: string, from: number, to = from) =>
  entry(queue, from, to, { active: from, arrivalRate: 1 });
export const waiting = (
  queue: string,
  from: number,
  to: number,
  pending: number,
  oldestMs: number,
) => entry(queue, from, to, { pending, oldestPendingAgeMs: oldestMs, arrivalRate: 1 });
export const byQueue = (decisions: Decision[]) =>
  Object.fromEntries(decisions.map((decision) => [decision.queue, decision.to]));
