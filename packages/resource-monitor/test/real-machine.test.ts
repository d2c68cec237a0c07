import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { promisify } from 'node:util';
import { resourceSnapshotSchema } from '@qscale/contracts';
import { waitFor } from '@qscale/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { createResourceMonitor, type ResourceMonitor } from '../src/index.js';
import { parseCpusAllowed } from '../src/internal/parse.js';

// The machine these tests run on: real /proc, real /sys, real child processes.

const MiB = 1024 ** 2;
const children: ChildProcess[] = [];
let monitor: ResourceMonitor | null = null;

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  }
  await monitor?.close();
  monitor = null;
});

/** A Node child that runs `body`, prints "ready" and stays alive until killed. */
async function child(body: string): Promise<number> {
  const process_ = spawn(
    process.execPath,
    ['-e', `${body}; console.log('ready'); setInterval(() => {}, 1e6);`],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.push(process_);
  const [chunk] = (await once(process_.stdout, 'data')) as [Buffer];
  expect(chunk.toString()).toContain('ready');
  if (process_.pid === undefined) throw new Error('the child has no PID');
  return process_.pid;
}

async function vmRssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]) * 1024;
}

const getconf = async (name: string) =>
  Number((await promisify(execFile)('getconf', [name])).stdout.trim());

describe('on this machine', () => {
  it('reads limits that agree with what the kernel tells Node and getconf', async () => {
    monitor = createResourceMonitor();
    const limits = await monitor.limits();
    expect(limits.errors).toEqual([]);
    expect(limits.cpu.hostCores).toBe(cpus().length);
    expect(limits.memory.hostBytes).toBe(totalmem());
    expect(limits.pageSizeBytes).toBe(await getconf('PAGESIZE'));
    expect(limits.clockTicksPerSecond).toBe(await getconf('CLK_TCK'));
    // libuv reads the memory cgroup too: where it sees a limit below the host, ours is no
    // larger; ours is never above the host.
    const constrained = process.constrainedMemory?.() ?? 0;
    const limitBytes = limits.memory.limitBytes ?? Number.NaN;
    expect(limitBytes).toBeLessThanOrEqual(totalmem());
    if (constrained > 0 && constrained < totalmem())
      expect(limitBytes).toBeLessThanOrEqual(constrained);
    const limitCores = limits.cpu.limitCores ?? Number.NaN;
    expect(limitCores).toBeGreaterThan(0);
    // libuv asks sched_getaffinity: the CPUs this process may use, its cpuset included.
    expect(limitCores).toBeLessThanOrEqual(availableParallelism());
    expect(limits.cpu.allowedCpus?.length ?? cpus().length).toBe(availableParallelism());
  });

  it("reads a process's cpuset as the kernel writes it (taskset -c 0)", async () => {
    const { stdout } = await promisify(execFile)('taskset', [
      '-c',
      '0',
      'cat',
      '/proc/self/status',
    ]);
    expect(parseCpusAllowed(stdout)).toEqual([0]);
    const all = await readFile('/proc/self/status', 'utf8');
    expect(parseCpusAllowed(all)).toHaveLength(availableParallelism());
  });

  it('gives CPU use from the second snapshot on, within the limit, and a working set', async () => {
    monitor = createResourceMonitor();
    const first = resourceSnapshotSchema.parse(await monitor.snapshot());
    expect(first.cpu.usedCores).toBeNull();
    let spin = 0;
    for (let i = 0; i < 2e7; i++) spin += i;
    expect(spin).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = resourceSnapshotSchema.parse(await monitor.snapshot());
    expect(second.errors).toEqual([]);
    expect(second.cpu.usedCores).toBeGreaterThan(0);
    // Counters are read a few microseconds apart from the clock: allow a sliver above.
    expect(second.cpu.usedCores).toBeLessThanOrEqual((second.cpu.limitCores ?? 0) * 1.05);
    expect(second.memory.usedBytes).toBeGreaterThan(0);
    expect(second.memory.usedBytes).toBeLessThanOrEqual(second.memory.limitBytes ?? 0);
  });

  it('measures the RSS of a real worker process as the kernel reports it', async () => {
    const pid = await child('globalThis.b = Buffer.alloc(96 * 1024 * 1024, 1)');
    monitor = createResourceMonitor();
    const snapshot = await monitor.snapshot([pid]);
    const rssBytes = snapshot.perWorker[String(pid)]?.rssBytes ?? 0;
    expect(rssBytes).toBeGreaterThan(96 * MiB);
    // /proc/PID/status is another file with the same counter, in kB.
    expect(Math.abs(rssBytes - (await vmRssBytes(pid)))).toBeLessThan(2 * MiB);
    expect(snapshot.errors).toEqual([]);
  });

  it('tells a busy worker from an idle one by their CPU deltas', async () => {
    // Spins without a pause: on a loaded host its fair share of the CPU is what it gets, which
    // next to `stress-ng --cpu 4` on 2 cores is about 0.4 cores, so the bar is 0.1.
    const busy = await child(
      'setImmediate(function spin() { for (let i = 0; i < 1e6; i++); setImmediate(spin); })',
    );
    const idle = await child('');
    monitor = createResourceMonitor();
    await monitor.snapshot([busy, idle]);
    let figures: (number | null | undefined)[] = [];
    // Each read measures the CPU used since the read before: the poll interval is the window.
    await waitFor(
      async () => {
        const { perWorker } = await (monitor as ResourceMonitor).snapshot([busy, idle]);
        figures = [perWorker[String(busy)]?.cpuCores, perWorker[String(idle)]?.cpuCores];
        const [busyCores, idleCores] = figures;
        return (busyCores ?? 0) > 0.1 && (idleCores ?? 1) < 0.05;
      },
      {
        timeoutMs: 20_000,
        intervalMs: 500,
        what: 'a busy worker above 0.1 cores and an idle one below 0.05',
      },
    );
    expect(figures[0]).toBeGreaterThan(figures[1] ?? 1);
  });

  it('reports a worker that exited instead of inventing figures for it', async () => {
    const pid = await child('');
    monitor = createResourceMonitor();
    expect(Object.keys((await monitor.snapshot([pid])).perWorker)).toEqual([String(pid)]);
    const process_ = children[0];
    process_?.kill('SIGKILL');
    if (process_) await once(process_, 'exit');
    const after = await monitor.snapshot([pid]);
    expect(after.perWorker).toEqual({});
    expect(after.errors).toEqual([
      { file: `/proc/${pid}/stat`, message: `process ${pid} does not exist: it exited` },
    ]);
  });
});
