import { hostCapacitySchema, type ResourceSnapshot, type WorkerResources } from '@qscale/contracts';
import { describe, expect, it } from 'vitest';
import { type CapacityLimits, capacity, median } from './capacity.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

function resources(
  cpu: { limitCores: number | null; usedCores: number | null },
  memory: { limitBytes: number | null; usedBytes: number | null },
  perWorker: Record<string, WorkerResources> = {},
): ResourceSnapshot {
  return { at: 1, source: 'cgroup-v2', cpu, memory, pressure: null, perWorker, errors: [] };
}

function limits(overrides: Partial<CapacityLimits> = {}): CapacityLimits {
  return {
    maxWorkers: 1_000,
    cpu: { maxPercent: 85, perWorkerCores: null },
    memory: { maxPercent: 85, perWorkerBytes: null },
    ...overrides,
  };
}

describe('capacity', () => {
  it('subtracts current use once: 16 GiB at 50 % leaves room for 44 workers of 128 MiB, not 22', () => {
    const result = capacity({
      resources: resources(
        { limitCores: 64, usedCores: 0 },
        { limitBytes: 16 * GiB, usedBytes: 8 * GiB },
      ),
      perWorker: [
        { queue: 'emails', runningPids: [], resources: { cpuCores: 0.1, memoryBytes: 128 * MiB } },
      ],
      limits: limits(),
    });
    expect(hostCapacitySchema.parse(result)).toEqual({
      maxWorkers: 44,
      limiter: 'memory',
      // 85 % of 64 cores; 85 % of 16 GiB minus the 8 GiB in use.
      headroom: { cpuCores: 54.4, memoryBytes: 16 * GiB * 0.85 - 8 * GiB },
      perQueue: {
        emails: {
          cpuCoresPerWorker: 0.1,
          cpuFrom: 'queue-config',
          memoryBytesPerWorker: 128 * MiB,
          memoryFrom: 'queue-config',
          maxWorkers: 44,
        },
      },
    });
  });

  it("uses the container's limits and use, counting the workers already running once", () => {
    const perWorker = {
      '11': { rssBytes: 60 * MiB, cpuCores: 0.1 },
      '12': { rssBytes: 64 * MiB, cpuCores: 0.1 },
    };
    const result = capacity({
      // A 0.5-core, 512 MiB container using 0.2 cores and 200 MiB (its two workers included).
      resources: resources(
        { limitCores: 0.5, usedCores: 0.2 },
        { limitBytes: 512 * MiB, usedBytes: 200 * MiB },
        perWorker,
      ),
      perWorker: [{ queue: 'q', runningPids: [11, 12] }],
      limits: limits(),
    });
    // CPU: (0.425 - 0.2) / 0.1 = 2 more; memory: (435.2 - 200) / 62 MiB = 3 more.
    expect(result).toMatchObject({ maxWorkers: 4, limiter: 'cpu' });
    expect(result.headroom.cpuCores).toBeCloseTo(0.225, 9);
    expect(result.perQueue?.q).toMatchObject({
      cpuFrom: 'measured',
      memoryBytesPerWorker: 62 * MiB,
    });
  });

  it('prefers the median of running workers, then the queue config, then limits, then the default', () => {
    const perWorker = {
      '1': { rssBytes: 100 * MiB, cpuCores: 0.2 },
      '2': { rssBytes: 300 * MiB, cpuCores: null },
      '3': { rssBytes: 200 * MiB, cpuCores: null },
      '4': { rssBytes: 900 * MiB, cpuCores: 0.4 },
    };
    const result = capacity({
      resources: resources(
        { limitCores: 8, usedCores: 1 },
        { limitBytes: 16 * GiB, usedBytes: 4 * GiB },
        perWorker,
      ),
      perWorker: [
        // PID 5 is not in the snapshot (it exited): it is not a sample.
        { queue: 'measured', runningPids: [1, 2, 3, 4, 5] },
        {
          queue: 'first-sighting',
          runningPids: [2, 3],
          resources: { cpuCores: 0.75, memoryBytes: null },
        },
        {
          queue: 'configured',
          runningPids: [],
          resources: { cpuCores: 0.5, memoryBytes: 256 * MiB },
        },
        { queue: 'global', runningPids: [] },
      ],
      limits: limits({
        cpu: { maxPercent: 85, perWorkerCores: 0.3 },
        memory: { maxPercent: 85, perWorkerBytes: null },
      }),
    });
    const costs = Object.fromEntries(
      Object.entries(result.perQueue ?? {}).map(([queue, cost]) => [
        queue,
        [cost.cpuCoresPerWorker, cost.cpuFrom, cost.memoryBytesPerWorker / MiB, cost.memoryFrom],
      ]),
    );
    expect(costs).toEqual({
      // CPU: median of the two known figures; memory: median of four RSS figures.
      measured: [0.30000000000000004, 'measured', 250, 'measured'],
      // No CPU figure yet (first sighting): the queue's configured CPU; measured memory.
      'first-sighting': [0.75, 'queue-config', 250, 'measured'],
      configured: [0.5, 'queue-config', 256, 'queue-config'],
      global: [0.3, 'limits-config', 128, 'default'],
    });
  });

  it('floors a cost measured near zero: an idle worker still costs 0.01 cores and 16 MiB', () => {
    const result = capacity({
      resources: resources(
        { limitCores: 1, usedCores: 0 },
        { limitBytes: 100 * GiB, usedBytes: 0 },
        { '7': { rssBytes: 1 * MiB, cpuCores: 0 } },
      ),
      perWorker: [{ queue: 'idle', runningPids: [7] }],
      limits: limits(),
    });
    expect(result.perQueue?.idle).toMatchObject({
      cpuCoresPerWorker: 0.01,
      cpuFrom: 'measured',
      memoryBytesPerWorker: 16 * MiB,
    });
    // 0.85 / 0.01 = 85 more (exactly, despite floating point) next to the one running.
    expect(result).toMatchObject({ maxWorkers: 86, limiter: 'cpu' });
  });

  it('sheds workers when memory is over its budget, but only holds when CPU is', () => {
    const queue = {
      queue: 'q',
      runningPids: [],
      liveWorkers: 10,
      resources: { cpuCores: 0.5, memoryBytes: 512 * MiB },
    };
    const overMemory = capacity({
      resources: resources(
        { limitCores: 4, usedCores: 1 },
        { limitBytes: 8 * GiB, usedBytes: 8 * GiB },
      ),
      perWorker: [queue],
      limits: limits(),
    });
    // 85 % of 8 GiB is 6.8 GiB: 1.2 GiB over, 3 workers of 512 MiB must go.
    expect(overMemory).toMatchObject({ maxWorkers: 7, limiter: 'memory' });
    expect(overMemory.headroom.memoryBytes).toBeCloseTo(-1.2 * GiB, 0);

    const overCpu = capacity({
      resources: resources(
        { limitCores: 4, usedCores: 4 },
        { limitBytes: 8 * GiB, usedBytes: 1 * GiB },
      ),
      perWorker: [queue],
      limits: limits(),
    });
    expect(overCpu).toMatchObject({ maxWorkers: 10, limiter: 'cpu' });
    expect(overCpu.headroom.cpuCores).toBeCloseTo(-0.6, 9);
  });

  it('lets CPU use limit nothing when cpu.enforce is false; memory still does', () => {
    const queue = {
      queue: 'q',
      runningPids: [],
      liveWorkers: 10,
      resources: { cpuCores: 0.5, memoryBytes: 256 * MiB },
    };
    const saturated = resources(
      { limitCores: 4, usedCores: 4 },
      { limitBytes: 8 * GiB, usedBytes: 4 * GiB },
    );
    const relaxed = limits({ cpu: { maxPercent: 85, perWorkerCores: null, enforce: false } });
    const result = capacity({ resources: saturated, perWorker: [queue], limits: relaxed });
    // 85 % of 8 GiB minus 4 GiB is 2.8 GiB: 11 more workers of 256 MiB.
    expect(result).toMatchObject({ maxWorkers: 21, limiter: 'memory' });
    expect(result.perQueue?.q?.maxWorkers).toBe(21);
    const unknownCpu = capacity({
      resources: resources({ limitCores: null, usedCores: null }, saturated.memory),
      perWorker: [queue],
      limits: relaxed,
    });
    expect(unknownCpu.unknown).toBeUndefined();
    expect(capacity({ resources: saturated, perWorker: [queue], limits: limits() })).toMatchObject({
      maxWorkers: 10,
      limiter: 'cpu',
    });
  });

  it('holds at the current workers for a resource whose figures are unknown, and says which', () => {
    const result = capacity({
      resources: resources(
        { limitCores: 2, usedCores: null },
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
    // CPU fits floor(8.5) = 8, memory floor(8.5) = 8.
    expect(capacity({ ...input, limits: limits({ maxWorkers: 5 }) })).toMatchObject({
      maxWorkers: 5,
      limiter: 'config',
    });
    expect(capacity({ ...input, limits: limits({ maxWorkers: 8 }) })).toMatchObject({
      maxWorkers: 8,
      limiter: 'config',
    });
    expect(capacity({ ...input, limits: limits({ maxWorkers: 9 }) })).toMatchObject({
      maxWorkers: 8,
      limiter: 'memory',
    });
  });

  it('prices the host total at the current mix of workers and gives each queue its own ceiling', () => {
    const result = capacity({
      resources: resources(
        { limitCores: 100, usedCores: 0 },
        { limitBytes: 2_000 * MiB, usedBytes: 700 * MiB },
      ),
      perWorker: [
        {
          queue: 'light',
          runningPids: [],
          liveWorkers: 3,
          resources: { cpuCores: 0.1, memoryBytes: 100 * MiB },
        },
        {
          queue: 'heavy',
          runningPids: [],
          liveWorkers: 1,
          resources: { cpuCores: 0.1, memoryBytes: 400 * MiB },
        },
      ],
      limits: limits({ maxWorkers: 12, memory: { maxPercent: 100, perWorkerBytes: null } }),
    });
    // 1300 MiB of room at a mix of (3 x 100 + 1 x 400) / 4 = 175 MiB: 7 more than the 4 running.
    expect(result).toMatchObject({ maxWorkers: 11, limiter: 'memory' });
    // light alone: 3 + 13 = 16, capped by the 12 configured minus heavy's 1; heavy alone: 1 + 3.
    expect(result.perQueue?.light?.maxWorkers).toBe(11);
    expect(result.perQueue?.heavy?.maxWorkers).toBe(4);
  });

  it('prices a host with no queues at the configured or default cost', () => {
    const result = capacity({
      resources: resources({ limitCores: 1, usedCores: 0 }, { limitBytes: 1 * GiB, usedBytes: 0 }),
      perWorker: [],
      limits: limits({ memory: { maxPercent: 50, perWorkerBytes: 64 * MiB } }),
    });
    // CPU 0.85 / 0.2 = 4; memory 512 / 64 = 8.
    expect(result).toMatchObject({ maxWorkers: 4, limiter: 'cpu', perQueue: {} });
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
    expect(() => capacity({ ...input, limits: limits({ maxWorkers: 1.5 }) })).toThrow(
      'capacity: limits.maxWorkers: expected a whole number >= 0, got 1.5',
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

describe('median', () => {
  it('is the middle value, or the mean of the two middle ones', () => {
    expect(median([])).toBeNull();
    expect(median([5])).toBe(5);
    expect(median([9, 1, 5])).toBe(5);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});
