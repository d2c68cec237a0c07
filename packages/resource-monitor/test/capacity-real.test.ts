import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import type { ResourceSnapshot } from '@qscale/contracts';
import { waitFor } from '@qscale/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CapacityLimits,
  capacity,
  createResourceMonitor,
  createWorkerCostTracker,
  type MeasuredCost,
  type ResourceMonitor,
} from '../src/index.js';

// Real processes and real /proc, on a machine other work keeps busy: the capacity of workers
// that sleep, that burn CPU and that hold memory, priced at what they are measured to cost.

const MiB = 1024 ** 2;
const children: ChildProcess[] = [];
let monitor: ResourceMonitor | null = null;

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      // stress-ng's hogs are its children: its own group goes.
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      await once(child, 'exit');
    }
  }
  await monitor?.close();
  monitor = null;
});

/** A Node worker that runs `body` after printing "ready" (in its own process group). */
async function worker(body: string): Promise<number> {
  const child = spawn(process.execPath, ['-e', `console.log('ready'); ${body}`], {
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  children.push(child);
  const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
  expect(chunk.toString()).toContain('ready');
  if (child.pid === undefined) throw new Error('the worker has no PID');
  return child.pid;
}

/** `stress-ng --cpu N`: other processes keeping N CPUs busy, once it says its hogs run. */
async function stressCpu(hogs: number): Promise<void> {
  const child = spawn('stress-ng', ['--cpu', String(hogs), '--timeout', '300s'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.push(child);
  let said = '';
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', (chunk: Buffer) => {
      said += chunk.toString();
    });
  }
  await waitFor(() => /dispatching hogs/.test(said), {
    timeoutMs: 30_000,
    what: 'stress-ng to dispatch its hogs',
  });
}

/** Snapshots every half second until the tracker has `readings` CPU figures of the queue. */
async function measure(
  pids: number[],
  readings = 6,
): Promise<{ snapshot: ResourceSnapshot; measured: MeasuredCost }> {
  monitor = createResourceMonitor();
  const tracker = createWorkerCostTracker({ halfLifeMs: 2_000 });
  let snapshot = await monitor.snapshot(pids);
  let measured: MeasuredCost | undefined;
  let seen = 0;
  await waitFor(
    async () => {
      // Rates over a few ms are mostly rounding of clock ticks: read at tick-like intervals.
      if (Date.now() - snapshot.at < 400) return false;
      snapshot = await (monitor as ResourceMonitor).snapshot(pids);
      measured = tracker.observe(snapshot, [{ queue: 'q', runningPids: pids }]).q;
      if (Object.values(snapshot.perWorker).some((w) => w.cpuCores !== null)) seen++;
      return seen >= readings && snapshot.cpu.usedCores !== null;
    },
    { timeoutMs: 60_000, intervalMs: 100, what: `${readings} CPU readings of the workers` },
  );
  if (!measured) throw new Error('nothing measured');
  return { snapshot, measured };
}

const limits = (overrides: Partial<CapacityLimits> = {}): CapacityLimits => ({
  maxWorkers: 64,
  cpu: { maxPercent: 85, perWorkerCores: null },
  memory: { maxPercent: 85, perWorkerBytes: null },
  ...overrides,
});

describe('capacity of real workers on this machine', () => {
  it('does not cut workers that mostly sleep next to stress-ng --cpu 2', async () => {
    await stressCpu(2);
    // A job loop that waits on a timer, as a queue worker waits on Redis.
    const pids = await Promise.all(
      [1, 2, 3].map(() => worker('setInterval(() => JSON.stringify({ job: Date.now() }), 100)')),
    );
    const { snapshot, measured } = await measure(pids);
    const result = capacity({
      resources: snapshot,
      perWorker: [{ queue: 'q', runningPids: pids, measured }],
      limits: limits({ maxWorkers: 16 }),
    });
    // The host is busy (stress-ng's 2 hogs alone fill both CPUs): the old count left no room.
    expect(snapshot.cpu.usedCores).toBeGreaterThan(1);
    expect(measured.cpuWaitCores).not.toBeNull();
    // A recommendation of 12 stands: the limit is the configured 16, not the CPU.
    expect(result.perQueue?.q?.maxWorkers).toBe(16);
    expect(result.limiter).toBe('config');
  }, 120_000);

  it('limits workers that burn CPU by CPU, naming the cost', async () => {
    const pids = await Promise.all([1, 2].map(() => worker('for (;;) {}')));
    const { snapshot, measured } = await measure(pids);
    const result = capacity({
      resources: snapshot,
      perWorker: [{ queue: 'q', runningPids: pids, measured }],
      limits: limits(),
    });
    expect(result.perQueue?.q?.cpuFrom).toBe('measured');
    // A busy loop is always runnable: what it does not run, it waits (other work shares the
    // CPUs). About a core of demand each, on a 1.70-core budget: no room for a third, and
    // CPU holds the two it has.
    const demand = pids.map((pid) => {
      const worker = snapshot.perWorker[String(pid)];
      return (worker?.cpuCores ?? 0) + (worker?.cpuWaitCores ?? 0);
    });
    expect(Math.max(...demand)).toBeGreaterThan(0.6);
    expect(result.limiter).toBe('cpu');
    const why = result.perQueue?.q?.why ?? '';
    const figures =
      /^cpu: 1\.70 cores budget \(85% of 2\.00 cores\) − (\d+\.\d+) cores the workers waited for a CPU; .* = (-?\d+\.\d+) cores free \/ (\d+\.\d+) cores per worker = (\d+)/.exec(
        why,
      );
    expect(figures, why).not.toBeNull();
    const [, waited, free, cost, fit] = (figures ?? []).map(Number) as number[];
    // The figures named are the ones used: the wait is counted, free / cost gives the count,
    // and CPU holds the two running (never sheds them).
    expect(waited).toBeGreaterThan(0);
    // (The figures are rounded to hundredths in the text: a tolerance either side.)
    const ratio = (free ?? 0) / (cost ?? 1);
    expect(fit).toBeGreaterThanOrEqual(Math.max(Math.floor(ratio - 0.1), 0));
    expect(fit).toBeLessThanOrEqual(Math.max(Math.floor(ratio + 0.1), 0));
    expect(result.perQueue?.q?.maxWorkers).toBe(Math.max(fit ?? 0, 2));
    expect(result.perQueue?.q?.maxWorkers).toBeLessThan(64);
  }, 120_000);

  it('limits workers that hold 200 MB each by memory, counting only other processes as used', async () => {
    const pids = await Promise.all(
      [1, 2].map(() =>
        worker('globalThis.held = Buffer.alloc(200 * 1024 * 1024, 1); setInterval(() => {}, 1e6)'),
      ),
    );
    await waitFor(
      async () => {
        monitor ??= createResourceMonitor();
        const snapshot = await monitor.snapshot(pids);
        return pids.every((pid) => (snapshot.perWorker[String(pid)]?.rssBytes ?? 0) > 200 * MiB);
      },
      { timeoutMs: 60_000, what: 'both workers to hold 200 MB' },
    );
    await monitor?.close();
    const { snapshot, measured } = await measure(pids, 2);
    // A memory budget 1000 MiB above what other processes use now: room for 4 workers of
    // ~245 MiB (200 MB and Node itself), whatever this machine's size.
    const ours = pids.reduce(
      (sum, pid) => sum + (snapshot.perWorker[String(pid)]?.rssBytes ?? 0),
      0,
    );
    const others = (snapshot.memory.usedBytes ?? 0) - ours;
    const limitBytes = snapshot.memory.limitBytes ?? 0;
    const maxPercent = ((others + 1_000 * MiB) / limitBytes) * 100;
    const result = capacity({
      resources: snapshot,
      perWorker: [{ queue: 'q', runningPids: pids, measured }],
      limits: limits({ memory: { maxPercent, perWorkerBytes: null } }),
    });
    const cost = result.perQueue?.q?.memoryBytesPerWorker ?? 0;
    expect(cost).toBeGreaterThan(200 * MiB);
    expect(result.limiter).toBe('memory');
    expect(result.perQueue?.q?.maxWorkers).toBe(Math.floor((1_000 * MiB) / cost + 1e-9));
    expect(result.perQueue?.q?.why).toMatch(
      /^memory: .* used by other processes = 1000 MiB free \/ \d+ MiB per worker = \d$/,
    );
  }, 120_000);
});
