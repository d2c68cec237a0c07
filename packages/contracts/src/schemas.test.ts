import { describe, expect, it } from 'vitest';
import { silentLogger } from './logger.js';
import { queueSnapshotSchema } from './queue-snapshot.js';
import { resourceSnapshotSchema } from './resources.js';
import {
  decisionSchema,
  pluginShapeProblems,
  scalingContextSchema,
  workerBoundsSchema,
} from './scaling.js';

const snapshot = {
  queue: 'emails',
  backend: 'bullmq',
  at: 1_767_225_600_000,
  pending: 12,
  delayed: 0,
  active: 3,
  oldestPendingAgeMs: 4_200,
  arrivalRate: 9.5,
  completionRate: 8.75,
  serviceTimeMs: { mean: 310, p95: 900 },
  pickupLatencyMs: { p50: 120, p95: 3_900, p99: 5_100, samples: 812 },
  sources: { pending: 'counter', arrivalRate: 'counter', pickupLatencyMs: 'observed' },
} as const;

describe('QueueSnapshot', () => {
  it('accepts a complete snapshot and one where every figure is unknown', () => {
    expect(queueSnapshotSchema.parse(snapshot)).toEqual(snapshot);
    const unknown = {
      queue: 'reports',
      backend: 'laravel',
      at: 1,
      pending: null,
      delayed: null,
      active: null,
      oldestPendingAgeMs: null,
      arrivalRate: null,
      completionRate: null,
      sources: {},
      error: { code: 'WRONG_TYPE', message: 'queues:reports is a hash, expected a list' },
    };
    expect(queueSnapshotSchema.safeParse(unknown).success).toBe(true);
  });

  it('rejects negative counts, fractional counts, unknown backends and unknown keys', () => {
    expect(queueSnapshotSchema.safeParse({ ...snapshot, pending: -1 }).success).toBe(false);
    expect(queueSnapshotSchema.safeParse({ ...snapshot, active: 1.5 }).success).toBe(false);
    expect(queueSnapshotSchema.safeParse({ ...snapshot, backend: 'resque' }).success).toBe(false);
    expect(queueSnapshotSchema.safeParse({ ...snapshot, depth: 3 }).success).toBe(false);
    expect(
      queueSnapshotSchema.safeParse({ ...snapshot, sources: { pending: 'guess' } }).success,
    ).toBe(false);
  });
});

describe('ScalingContext and Decision', () => {
  const context = {
    now: snapshot.at,
    queue: snapshot,
    history: [],
    workers: { running: 2, starting: 1, stopping: 0, concurrency: 1 },
    slo: { pickupMs: 30_000, percentile: 95 },
    spawnLatencyMs: 1_500,
    tickMs: 2_000,
    bounds: { min: 0, max: 10 },
  };

  it('accepts a well-formed context', () => {
    expect(scalingContextSchema.safeParse(context).success).toBe(true);
  });

  it('rejects percentiles outside (0, 100) and bounds with min above max', () => {
    expect(
      scalingContextSchema.safeParse({ ...context, slo: { pickupMs: 1, percentile: 100 } }).success,
    ).toBe(false);
    const bounds = workerBoundsSchema.safeParse({ min: 5, max: 2 });
    expect(bounds.success).toBe(false);
    expect(bounds.error?.issues[0]?.message).toBe('min must not be greater than max');
  });

  it('keeps every policy edit of a decision', () => {
    const decision = decisionSchema.parse({
      queue: 'emails',
      from: 2,
      to: 4,
      recommendation: { workers: 7, reason: 'backlog drain won', terms: { backlogDrain: 6.2 } },
      edits: [{ policy: 'capacity', from: 7, to: 4, why: 'memory allows 4 more workers' }],
    });
    expect(decision.edits).toHaveLength(1);
  });
});

describe('ResourceSnapshot', () => {
  it('keys per-worker figures by PID and allows unknown figures', () => {
    const parsed = resourceSnapshotSchema.safeParse({
      at: 1,
      source: 'cgroup-v2',
      cpu: { limitCores: 2, usedCores: null },
      memory: { limitBytes: 1_073_741_824, usedBytes: 104_857_600 },
      perWorker: { '4242': { rssBytes: 50_000_000, cpuCores: 0.2 } },
    });
    expect(parsed.success).toBe(true);
    expect(
      resourceSnapshotSchema.safeParse({
        at: 1,
        source: 'host',
        cpu: { limitCores: 2, usedCores: 1 },
        memory: { limitBytes: 1, usedBytes: 1 },
        perWorker: { worker: { rssBytes: 1, cpuCores: 0 } },
      }).success,
    ).toBe(false);
  });
});

describe('pluginShapeProblems', () => {
  it('names every missing piece of a plugin', () => {
    expect(pluginShapeProblems({ name: 'x', create: 3 }, 'recommend')).toEqual([
      '"optionsSchema" must have a safeParse() method, got undefined',
      '"create" must be a function returning { recommend() }, got number',
    ]);
    expect(pluginShapeProblems('predictive', 'recommend')).toEqual([
      'expected an object with name, optionsSchema and create(), got "predictive"',
    ]);
    expect(
      pluginShapeProblems(
        { name: 'ok', optionsSchema: { safeParse: () => ({ success: true }) }, create: () => ({}) },
        'apply',
      ),
    ).toEqual([]);
  });
});

describe('silentLogger', () => {
  it('accepts every level and cannot be reassigned', () => {
    expect(() => silentLogger.error('x', { a: 1 })).not.toThrow();
    expect(Object.isFrozen(silentLogger)).toBe(true);
  });
});
