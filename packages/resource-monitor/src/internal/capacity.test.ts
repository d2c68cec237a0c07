import {
  hostCapacitySchema,
  type Pressure,
  type ResourceSnapshot,
  type WorkerResources,
} from '@qscale/contracts';
import { describe, expect, it } from 'vitest';
import { type CapacityLimits, capacity } from './capacity.js';
import { createWorkerCostTracker } from './worker-costs.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

function resources(
  cpu: { limitCores: number | null; usedCores: number | null },
  memory: { limitBytes: number | null; usedBytes: number | null },
  perWorker: Record<string, WorkerResources> = {},
  pressure: Pressure | null = null,
): ResourceSnapshot {
  return { at: 1, source: 'cgroup-v2', cpu, memory, pressure, perWorker, errors: [] };
}

function limits(overrides: Partial<CapacityLimits> = {}): CapacityLimits {
  return {
    maxWorkers: 1_000,
    cpu: { maxPercent: 85, perWorkerCores: null },
    memory: { maxPercent: 85, perWorkerBytes: null },
    ...overrides,
  };
}

/** `n` workers with PIDs from `first`, each with the same figures. */
function workers(first: number, n: number, figures: WorkerResources) {
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [String(first + i), figures]));
}

const pidsOf = (perWorker: Record<string, WorkerResources>) => Object.keys(perWorker).map(Number);

describe('capacity', () => {
  it('does not count a busy host against workers that hardly use the CPU and hardly wait', () => {
    // 2 cores fully busy (other processes 1.95), PSI 100 %: the old count left no room at all.
    const sleepers = workers(100, 2, { rssBytes: 64 * MiB, cpuCores: 0.012, cpuWaitCores: 0.004 });
    const result = capacity({
      resources: resources(
        { limitCores: 2, usedCores: 2 },
        { limitBytes: 16 * GiB, usedBytes: 2 * GiB },
        sleepers,
        { cpuSomeAvg10: 100, memorySomeAvg10: 0, memoryFullAvg10: 0 },
      ),
      perWorker: [{ queue: 'emails', runningPids: pidsOf(sleepers) }],
      limits: limits({ maxWorkers: 16 }),
    });
    // CPU: (1.70 − 2 × 0.004) / 0.012 = 141; the configured 16 binds first.
    expect(hostCapacitySchema.parse(result)).toMatchObject({ maxWorkers: 16, limiter: 'config' });
    expect(result.perQueue?.emails).toMatchObject({ maxWorkers: 16, cpuFrom: 'measured' });
    expect(result.perQueue?.emails?.why).toBe('config: limits.maxWorkers 16');
  });

  it('limits workers that burn CPU by CPU, naming budget, wait and cost', () => {
    const burners = workers(200, 2, { rssBytes: 50 * MiB, cpuCores: 0.8, cpuWaitCores: 0.1 });
    const result = capacity({
      resources: resources(
        { limitCores: 2, usedCores: 1.9 },
        { limitBytes: 16 * GiB, usedBytes: 2 * GiB },
        burners,
        { cpuSomeAvg10: 35, memorySomeAvg10: 0, memoryFullAvg10: 0 },
      ),
      perWorker: [{ queue: 'crunch', runningPids: pidsOf(burners) }],
      limits: limits(),
    });
    // (1.70 − 0.20) / 0.80 = 1.875 → 1, below the 2 running: CPU holds at 2.
    expect(result).toMatchObject({ maxWorkers: 2, limiter: 'cpu' });
    expect(result.perQueue?.crunch?.why).toBe(
      'cpu: 1.70 cores budget (85% of 2.00 cores) − 0.20 cores the workers waited for a CPU; host 1.90 cores busy, PSI cpu some 35%, not counted as such = 1.50 cores free / 0.80 cores per worker = 1, held at the 2 live workers (CPU over its room slows them; fewer would not go faster)',
    );
  });

  it('never holds a queue at zero workers by CPU: its first worker shares the CPU', () => {
    const busy = workers(700, 4, { rssBytes: 64 * MiB, cpuCores: 0.3, cpuWaitCores: 0.5 });
    const result = capacity({
      resources: resources(
        { limitCores: 2, usedCores: 2 },
        { limitBytes: 16 * GiB, usedBytes: 2 * GiB },
        busy,
      ),
      perWorker: [
        { queue: 'emails', runningPids: pidsOf(busy) },
        { queue: 'reports', runningPids: [] },
      ],
      limits: limits(),
    });
    // (1.70 − 4 × 0.5 − 4 × 0.3) / 0.2 < 0, yet reports may start one; emails holds its 4.
    expect(result.perQueue?.reports).toMatchObject({ maxWorkers: 1, limiter: 'cpu' });
    expect(result.perQueue?.reports?.why).toMatch(
      /= 0, at least 1 \(CPU is shared fairly: one worker per queue always makes progress\)$/,
    );
    expect(result.perQueue?.emails?.maxWorkers).toBe(4);
    expect(result.maxWorkers).toBe(5);
  });

  it('limits memory-hungry workers by memory, counting only other processes as used', () => {
    const hungry = workers(300, 3, { rssBytes: 200 * MiB, cpuCores: 0.01, cpuWaitCores: 0 });
    const result = capacity({
      // 4 GiB at 50 %: 2048 MiB budget; 1100 MiB in use, 600 of it the workers: others 500.
      resources: resources(
        { limitCores: 8, usedCores: 0.5 },
        { limitBytes: 4 * GiB, usedBytes: 1_100 * MiB },
        hungry,
      ),
      perWorker: [{ queue: 'images', runningPids: pidsOf(hungry) }],
      limits: limits({ memory: { maxPercent: 50, perWorkerBytes: null } }),
    });
    // (2048 − 500) / 200 = 7.74 → 7.
    expect(result).toMatchObject({ maxWorkers: 7, limiter: 'memory' });
    expect(result.perQueue?.images?.why).toBe(
      'memory: 2.0 GiB budget (50% of 4.0 GiB) − 500 MiB used by other processes = 1.5 GiB free / 200 MiB per worker = 7',
    );
    expect(result.headroom.memoryBytes).toBe(2_048 * MiB - 500 * MiB - 600 * MiB);
  });

  it('sheds workers when memory is over its room', () => {
    const hungry = workers(300, 5, { rssBytes: 300 * MiB, cpuCores: 0.01, cpuWaitCores: 0 });
    const result = capacity({
      resources: resources(
        { limitCores: 8, usedCores: 0.5 },
        { limitBytes: 2 * GiB, usedBytes: 2 * GiB },
        hungry,
      ),
      perWorker: [{ queue: 'images', runningPids: pidsOf(hungry) }],
      limits: limits({ memory: { maxPercent: 100, perWorkerBytes: null } }),
    });
    // Others use 2048 − 1500 = 548 MiB; (2048 − 548) / 300 = 5; at 85 % it would be 4.
    expect(result.maxWorkers).toBe(5);
    const tighter = capacity({
      resources: resources(
        { limitCores: 8, usedCores: 0.5 },
        { limitBytes: 2 * GiB, usedBytes: 2 * GiB },
        hungry,
      ),
      perWorker: [{ queue: 'images', runningPids: pidsOf(hungry) }],
      limits: limits(),
    });
    expect(tighter).toMatchObject({ maxWorkers: 3, limiter: 'memory' });
  });

  it('uses the configured cost until a worker is measured, and says so', () => {
    const result = capacity({
      resources: resources(
        { limitCores: 2, usedCores: 1.5 },
        { limitBytes: 16 * GiB, usedBytes: 1 * GiB },
      ),
      perWorker: [
        { queue: 'a', runningPids: [], resources: { cpuCores: 0.5, memoryBytes: 256 * MiB } },
      ],
      limits: limits(),
    });
    // No worker runs: nothing to measure contention by; 1.70 / 0.5 = 3.
    expect(result).toMatchObject({ maxWorkers: 3, limiter: 'cpu' });
    expect(result.perQueue?.a).toMatchObject({
      cpuFrom: 'queue-config',
      memoryFrom: 'queue-config',
    });
    expect(result.why).toBe(
      'cpu: 1.70 cores budget (85% of 2.00 cores) (no worker measured for contention yet); host 1.50 cores busy, not counted as such = 1.70 cores free / 0.50 cores per worker (configured in queues.*.resources until measured) = 3',
    );
  });

  it('falls back to other processes × PSI where the kernel reports no run-queue wait', () => {
    const noSchedstat = workers(400, 2, { rssBytes: 64 * MiB, cpuCores: 0.1 });
    const result = capacity({
      resources: resources(
        { limitCores: 2, usedCores: 1.2 },
        { limitBytes: 16 * GiB, usedBytes: 1 * GiB },
        noSchedstat,
        { cpuSomeAvg10: 50, memorySomeAvg10: 0, memoryFullAvg10: 0 },
      ),
      perWorker: [{ queue: 'q', runningPids: pidsOf(noSchedstat) }],
      limits: limits(),
    });
    // Others 1.2 − 0.2 = 1.0 × 50 % = 0.5: (1.70 − 0.5) / 0.1 = 12.
    expect(result).toMatchObject({ maxWorkers: 12, limiter: 'cpu' });
    expect(result.why).toContain(
      '− 0.50 cores contended by other processes (1.00 cores × PSI cpu some 50%)',
    );
  });

  it('gives each queue its own ceiling, net of what the other queues cost', () => {
    const light = workers(500, 3, { rssBytes: 100 * MiB, cpuCores: 0.01, cpuWaitCores: 0 });
    const heavy = workers(600, 1, { rssBytes: 400 * MiB, cpuCores: 0.01, cpuWaitCores: 0 });
    const result = capacity({
      resources: resources(
        { limitCores: 100, usedCores: 0 },
        { limitBytes: 2_000 * MiB, usedBytes: 700 * MiB },
        { ...light, ...heavy },
      ),
      perWorker: [
        { queue: 'light', runningPids: pidsOf(light) },
        { queue: 'heavy', runningPids: pidsOf(heavy) },
      ],
      limits: limits({ maxWorkers: 12, memory: { maxPercent: 100, perWorkerBytes: null } }),
    });
    // Others 0; 2000 MiB at a mix of 175 MiB: 11.
    expect(result).toMatchObject({ maxWorkers: 11, limiter: 'memory' });
    // light: (2000 − 400) / 100 = 16, capped by 12 − 1; heavy: (2000 − 300) / 400 = 4.
    expect(result.perQueue?.light?.maxWorkers).toBe(11);
    expect(result.perQueue?.heavy?.maxWorkers).toBe(4);
    expect(result.perQueue?.heavy?.why).toBe(
      'memory: 2.0 GiB budget (100% of 2.0 GiB) − 0 MiB used by other processes − 300 MiB for 3 workers of other queues = 1.7 GiB free / 400 MiB per worker = 4',
    );
  });

  it('lets CPU limit nothing when cpu.enforce is false; memory still does', () => {
    const result = capacity({
      resources: resources({ limitCores: 1, usedCores: 1 }, { limitBytes: GiB, usedBytes: 0 }),
      perWorker: [
        { queue: 'q', runningPids: [], resources: { cpuCores: 1, memoryBytes: 64 * MiB } },
      ],
      limits: limits({ cpu: { maxPercent: 85, perWorkerCores: null, enforce: false } }),
    });
    expect(result).toMatchObject({ maxWorkers: 13, limiter: 'memory' });
  });

  it('holds at the current workers for a resource whose figures are unknown, and says which', () => {
    const result = capacity({
      resources: resources(
        { limitCores: null, usedCores: null },
        { limitBytes: null, usedBytes: 1 * GiB },
      ),
      perWorker: [
        { queue: 'a', runningPids: [], liveWorkers: 3 },
        { queue: 'b', runningPids: [], liveWorkers: 2 },
      ],
      limits: limits(),
    });
    expect(hostCapacitySchema.parse(result)).toMatchObject({
      maxWorkers: 5,
      limiter: 'memory',
      headroom: { cpuCores: 0, memoryBytes: 0 },
      unknown: ['cpu', 'memory'],
    });
    expect(result.perQueue?.a?.maxWorkers).toBe(3);
  });

  it('reports the configured cap when it binds first, also on a tie', () => {
    const input = {
      resources: resources(
        { limitCores: 10, usedCores: 0 },
        { limitBytes: 10 * GiB, usedBytes: 0 },
      ),
      perWorker: [
        { queue: 'q', runningPids: [], resources: { cpuCores: 1, memoryBytes: 1 * GiB } },
      ],
    };
    expect(capacity({ ...input, limits: limits({ maxWorkers: 8 }) })).toMatchObject({
      maxWorkers: 8,
      limiter: 'config',
    });
    expect(capacity({ ...input, limits: limits({ maxWorkers: 9 }) })).toMatchObject({
      maxWorkers: 8,
      limiter: 'memory',
    });
  });

  it('rejects limits out of range, naming them', () => {
    const input = {
      resources: resources({ limitCores: 1, usedCores: 0 }, { limitBytes: GiB, usedBytes: 0 }),
      perWorker: [],
    };
    expect(() =>
      capacity({ ...input, limits: limits({ cpu: { maxPercent: 0, perWorkerCores: null } }) }),
    ).toThrow(
      'capacity: limits.cpu.maxPercent: expected a percentage above 0 and at most 100, got 0',
    );
    expect(() =>
      capacity({
        ...input,
        perWorker: [{ queue: 'q', runningPids: [], liveWorkers: -1 }],
        limits: limits(),
      }),
    ).toThrow('capacity: perWorker[q].liveWorkers: expected a whole number >= 0, got -1');
  });
});

describe('createWorkerCostTracker', () => {
  const at = (ms: number, perWorker: Record<string, WorkerResources>): ResourceSnapshot => ({
    ...resources({ limitCores: 2, usedCores: 1 }, { limitBytes: GiB, usedBytes: 0 }, perWorker),
    at: ms,
  });

  it('smooths the mean per worker over time with the half-life, and keeps it at zero workers', () => {
    const tracker = createWorkerCostTracker({ halfLifeMs: 10_000 });
    const first = tracker.observe(
      at(0, {
        '1': { rssBytes: 100, cpuCores: 0.2, cpuWaitCores: 0 },
        '2': { rssBytes: 300, cpuCores: 0.4, cpuWaitCores: 0.1 },
      }),
      [{ queue: 'q', runningPids: [1, 2] }],
    );
    expect(first.q).toEqual({
      cpuCores: 0.30000000000000004,
      memoryBytes: 200,
      cpuWaitCores: 0.05,
    });
    // One half-life later a mean of 0.9 moves the estimate halfway.
    const second = tracker.observe(
      at(10_000, { '1': { rssBytes: 400, cpuCores: 0.9, cpuWaitCores: 0.05 } }),
      [{ queue: 'q', runningPids: [1] }],
    );
    expect(second.q?.cpuCores).toBeCloseTo(0.6, 9);
    expect(second.q?.memoryBytes).toBeCloseTo(300, 9);
    const idle = tracker.observe(at(12_000, {}), [{ queue: 'q', runningPids: [] }]);
    expect(idle.q?.cpuCores).toBeCloseTo(0.6, 9);
    expect(tracker.observe(at(13_000, {}), []).q).toBeUndefined();
  });

  it('rejects a negative half-life', () => {
    expect(() => createWorkerCostTracker({ halfLifeMs: -1 })).toThrow(
      'halfLifeMs: expected a number of milliseconds >= 0, got -1',
    );
  });
});
