import { describe, expect, it } from 'vitest';
import {
  groupDisciplineSchema,
  groupRecommendationSchema,
  groupScalingContextSchema,
} from './groups.js';

describe('group schemas', () => {
  it('accepts the three disciplines and rejects bad weights or kinds', () => {
    expect(groupDisciplineSchema.safeParse({ kind: 'priority' }).success).toBe(true);
    expect(groupDisciplineSchema.safeParse({ kind: 'round-robin' }).success).toBe(true);
    expect(groupDisciplineSchema.safeParse({ kind: 'weighted', weights: [3, 1] }).success).toBe(
      true,
    );
    expect(groupDisciplineSchema.safeParse({ kind: 'weighted', weights: [1, 0] }).success).toBe(
      false,
    );
    expect(groupDisciplineSchema.safeParse({ kind: 'weighted', weights: [] }).success).toBe(false);
    expect(groupDisciplineSchema.safeParse({ kind: 'fifo' }).success).toBe(false);
  });

  it('needs at least one member in a context', () => {
    const result = groupScalingContextSchema.safeParse({
      now: 1,
      group: 'web',
      discipline: { kind: 'priority' },
      members: [],
      workers: { running: 0, starting: 0, stopping: 0, concurrency: 1 },
      bounds: { min: 0, max: 1 },
      spawnLatencyMs: 0,
    });
    expect(result.success).toBe(false);
  });

  it('a recommendation carries every member with its need, reason and terms', () => {
    const recommendation = {
      workers: 4,
      reason: '4 workers, set by queue "default"',
      terms: { 'need:high': 2, 'need:default': 4 },
      members: [
        { queue: 'high', workers: 2, reason: 'r', terms: { sharingCost: 0 } },
        { queue: 'default', workers: 4, reason: 'r', terms: { sharingCost: 1 } },
      ],
    };
    expect(groupRecommendationSchema.parse(recommendation)).toEqual(recommendation);
    expect(
      groupRecommendationSchema.safeParse({ ...recommendation, members: [{ queue: 'high' }] })
        .success,
    ).toBe(false);
    expect(groupRecommendationSchema.safeParse({ ...recommendation, extra: 1 }).success).toBe(
      false,
    );
  });
});
