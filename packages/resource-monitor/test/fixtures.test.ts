import { resourceSnapshotSchema } from '@qscale/contracts';
import { afterEach, describe, expect, it } from 'vitest';
import { createResourceMonitor, type ResourceMonitor } from '../src/index.js';
import { type FixtureTree, fixtureTree, manualClock, recordingLogger } from './helpers.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

let tree: FixtureTree | null = null;
let monitor: ResourceMonitor | null = null;

async function open(name: string, options: { limitsRefreshMs?: number } = {}) {
  tree = await fixtureTree(name);
  const clock = manualClock();
  const logger = recordingLogger();
  monitor = createResourceMonitor({
    procRoot: tree.procRoot,
    sysRoot: tree.sysRoot,
    logger,
    now: clock.now,
    ...options,
  });
  return { tree, clock, logger, monitor };
}

afterEach(async () => {
  await monitor?.close();
  await tree?.cleanup();
  monitor = null;
  tree = null;
});

const SERVICE = 'sys/fs/cgroup/system.slice/qscale.service';
const SLICE = 'sys/fs/cgroup/system.slice';

describe('cgroup v2 (a systemd service in a slice)', () => {
  it('takes the smallest limit up the tree and reads use where it binds', async () => {
    const { monitor } = await open('cgroup-v2');
    const snapshot = resourceSnapshotSchema.parse(await monitor.snapshot());
    expect(snapshot).toMatchObject({
      source: 'cgroup-v2',
      // cpu.max 150000/100000 on the service; the slice has none.
      cpu: { limitCores: 1.5, usedCores: null },
      // memory.max 1 GiB on the service, 768 MiB on the slice: the slice binds, so its
      // memory.current (600 MiB) minus inactive_file (150 MiB) is the use.
      memory: { limitBytes: 768 * MiB, usedBytes: 450 * MiB },
      pressure: { cpuSomeAvg10: 12.5, memorySomeAvg10: 3.25, memoryFullAvg10: 1.75 },
      errors: [],
    });
    const limits = await monitor.limits();
    expect(limits.cpu.cgroupDir).toMatch(/system\.slice\/qscale\.service$/);
    expect(limits.memory.cgroupDir).toMatch(/system\.slice$/);
    expect(limits).toMatchObject({ pageSizeBytes: 16_384, clockTicksPerSecond: 250 });
  });

  it('computes CPU use from the usage_usec delta between two calls, without waiting', async () => {
    const { tree, clock, monitor } = await open('cgroup-v2');
    await monitor.snapshot();
    await tree.write(`${SERVICE}/cpu.stat`, 'usage_usec 5750000\nuser_usec 1\nsystem_usec 1\n');
    clock.advance(1_000);
    expect((await monitor.snapshot()).cpu.usedCores).toBeCloseTo(0.75, 9);
    await tree.write(`${SERVICE}/cpu.stat`, 'usage_usec 6750000\n');
    clock.advance(4_000);
    expect((await monitor.snapshot()).cpu.usedCores).toBeCloseTo(0.25, 9);
  });

  it('reads limits again only after limitsRefreshMs, and logs the change', async () => {
    const { tree, clock, logger, monitor } = await open('cgroup-v2');
    expect((await monitor.snapshot()).memory.limitBytes).toBe(768 * MiB);
    await tree.write(`${SERVICE}/memory.max`, `${512 * MiB}\n`);
    clock.advance(59_000);
    expect((await monitor.snapshot()).memory.limitBytes).toBe(768 * MiB);
    clock.advance(1_000);
    const after = await monitor.snapshot();
    // Now the service binds: its own memory.current (300 MiB) minus inactive_file (50 MiB).
    expect(after.memory).toEqual({ limitBytes: 512 * MiB, usedBytes: 250 * MiB });
    const reads = logger.lines.filter((line) => line.message === 'resource limits read');
    expect(reads.map((line) => line.fields?.memoryLimitBytes)).toEqual([768 * MiB, 512 * MiB]);
  });

  it('reads per-worker RSS and CPU from /proc/PID/stat with the page size and clock of auxv', async () => {
    const { tree, clock, monitor } = await open('cgroup-v2');
    const first = await monitor.snapshot([4242]);
    // rss 6400 pages of 16 KiB; no CPU figure on the first sighting.
    expect(first.perWorker).toEqual({ '4242': { rssBytes: 100 * MiB, cpuCores: null } });
    const stat = (utime: number, start: number, state = 'S') =>
      `4242 (php (artisan) q) ${state} 1 4242 4242 0 -1 4194560 100 0 0 0 ${utime} 275 0 0 20 0 1 0 ${start} 300000000 6400 18446744073709551615 1 1 0 0\n`;
    await tree.write('proc/4242/stat', stat(600, 123456));
    clock.advance(1_000);
    // (600 + 275) - (500 + 250) = 125 ticks at 250 per second over 1 s.
    expect((await monitor.snapshot([4242])).perWorker['4242']?.cpuCores).toBeCloseTo(0.5, 9);

    // Same PID, another start time: a new process, whose counters start over.
    await tree.write('proc/4242/stat', stat(10, 999999));
    clock.advance(1_000);
    expect((await monitor.snapshot([4242])).perWorker['4242']).toEqual({
      rssBytes: 100 * MiB,
      cpuCores: null,
    });

    await tree.write('proc/4242/stat', stat(20, 999999, 'Z'));
    const zombie = await monitor.snapshot([4242]);
    expect(zombie.perWorker).toEqual({});
    expect(zombie.errors).toEqual([
      {
        file: `${tree.procRoot}/4242/stat`,
        message: 'process 4242 has exited (state Z) and is not reaped yet',
      },
    ]);
  });

  it('leaves out a PID that does not exist and names its file', async () => {
    const { tree, monitor } = await open('cgroup-v2');
    const snapshot = await monitor.snapshot([4242, 5151]);
    expect(Object.keys(snapshot.perWorker)).toEqual(['4242']);
    expect(snapshot.errors).toEqual([
      { file: `${tree.procRoot}/5151/stat`, message: 'process 5151 does not exist: it exited' },
    ]);
  });
});

describe('a cpuset (CPUs 2 and 3 of the 4)', () => {
  const STATUS = 'proc/self/status';
  const status = (list: string) =>
    `Name:\tqscaled\nCpus_allowed:\tc\nCpus_allowed_list:\t${list}\nMems_allowed_list:\t0\n`;
  /** /proc/stat after cpu2 and cpu3 each ran `busy` of 100 more jiffies, cpu0 and cpu1 idle. */
  const statAfter = (busy2: number, busy3: number) =>
    [
      `cpu  ${10000 + busy2 + busy3} 500 3000 ${80000 + 400 - busy2 - busy3} 1000 200 300 0 0 0`,
      'cpu0 2500 125 750 20100 250 50 75 0 0 0',
      'cpu1 2500 125 750 20100 250 50 75 0 0 0',
      `cpu2 ${2500 + busy2} 125 750 ${20000 + 100 - busy2} 250 50 75 0 0 0`,
      `cpu3 ${2500 + busy3} 125 750 ${20000 + 100 - busy3} 250 50 75 0 0 0`,
      'intr 123456 0 0 0',
      '',
    ].join('\n');

  it('without a quota, the allowed CPUs are the limit and their own lines of /proc/stat the use', async () => {
    const { tree, clock, monitor } = await open('cgroup-v2');
    await tree.write(STATUS, status('2-3'));
    await tree.write(`${SERVICE}/cpu.max`, 'max 100000\n');
    const limits = await monitor.limits();
    expect(limits.cpu).toMatchObject({ source: 'host', limitCores: 2, hostCores: 4 });
    expect(limits.cpu.allowedCpus).toEqual([2, 3]);
    await monitor.snapshot();
    await tree.write('proc/stat', statAfter(80, 70));
    clock.advance(1_000);
    // 150 busy of the 200 jiffies of cpu2 and cpu3: 1.5 of their 2 cores. The aggregate line
    // (150 of 400 over 4 CPUs) would have said 0.75 of 2: half the real load.
    expect((await monitor.snapshot()).cpu).toEqual({ limitCores: 2, usedCores: 1.5 });
  });

  it('a quota below the cpuset binds; one above it does not', async () => {
    const { tree, clock, monitor } = await open('cgroup-v2', { limitsRefreshMs: 1_000 });
    await tree.write(STATUS, status('2-3'));
    // cpu.max 1.5 cores on the service: below the 2 CPUs of the cpuset.
    expect((await monitor.limits()).cpu).toMatchObject({ source: 'cgroup-v2', limitCores: 1.5 });
    await tree.write(`${SERVICE}/cpu.max`, '300000 100000\n');
    clock.advance(1_000);
    expect((await monitor.limits()).cpu).toMatchObject({ source: 'host', limitCores: 2 });
  });

  it('every CPU allowed is no cpuset; an unreadable list is named and the host used', async () => {
    const { tree, clock, monitor } = await open('cgroup-v2', { limitsRefreshMs: 1_000 });
    await tree.write(STATUS, status('0-3'));
    await tree.write(`${SERVICE}/cpu.max`, 'max 100000\n');
    expect((await monitor.limits()).cpu).toMatchObject({ limitCores: 4, allowedCpus: null });
    await tree.write(STATUS, status('2-x'));
    clock.advance(1_000);
    const limits = await monitor.limits();
    expect(limits.cpu).toMatchObject({ limitCores: 4, allowedCpus: null });
    expect(limits.errors).toEqual([
      expect.objectContaining({
        file: expect.stringMatching(/proc\/self\/status$/),
        message: expect.stringContaining('"Cpus_allowed_list:'),
      }),
    ]);
  });
});

describe('cgroup v1 (a Docker container without a cgroup namespace)', () => {
  it('finds the container cgroup through the mountinfo root and reads quota, limit and use', async () => {
    const { tree, clock, monitor } = await open('cgroup-v1');
    expect(await monitor.snapshot()).toMatchObject({
      source: 'cgroup-v1',
      cpu: { limitCores: 0.5, usedCores: null },
      // usage_in_bytes 256 MiB minus total_inactive_file 64 MiB.
      memory: { limitBytes: 512 * MiB, usedBytes: 192 * MiB },
      pressure: null,
      errors: [],
    });
    await tree.write('sys/fs/cgroup/cpu,cpuacct/cpuacct.usage', '2250000000\n');
    clock.advance(1_000);
    expect((await monitor.snapshot()).cpu.usedCores).toBeCloseTo(0.25, 9);
  });

  it('without mountinfo, finds the hierarchies where they are usually mounted', async () => {
    const { tree, monitor } = await open('cgroup-v1');
    await tree.remove('proc/self/mountinfo');
    expect(await monitor.snapshot()).toMatchObject({
      source: 'cgroup-v1',
      cpu: { limitCores: 0.5 },
      memory: { limitBytes: 512 * MiB, usedBytes: 192 * MiB },
      errors: [],
    });
  });

  it('says so when a controller is listed but not mounted, and uses host figures', async () => {
    const { tree, monitor } = await open('cgroup-v1');
    await tree.remove('sys/fs/cgroup/memory');
    await tree.write(
      'proc/self/mountinfo',
      '32 30 0:28 /docker/3f2a /sys/fs/cgroup/cpu,cpuacct ro,relatime - cgroup cgroup rw,cpu,cpuacct\n',
    );
    const snapshot = await monitor.snapshot();
    expect(snapshot.memory).toEqual({ limitBytes: 8 * GiB, usedBytes: 2 * GiB });
    expect(snapshot.cpu.limitCores).toBe(0.5);
    expect(snapshot.errors).toEqual([
      {
        file: `${tree.procRoot}/self/cgroup`,
        message: `lists the cgroup v1 memory controller, but no memory hierarchy is mounted under ${tree.sysRoot}/fs/cgroup; using host figures`,
      },
    ]);
  });
});

describe('unlimited cgroups (v1 hybrid, as on the development sandbox)', () => {
  it('treats the v1 unlimited value and a -1 quota as no limit, and uses the host', async () => {
    const { tree, clock, monitor } = await open('unlimited');
    expect(await monitor.snapshot()).toMatchObject({
      source: 'host',
      cpu: { limitCores: 4, usedCores: null },
      // MemTotal 8 GiB minus MemAvailable 6 GiB.
      memory: { limitBytes: 8 * GiB, usedBytes: 2 * GiB },
      // The host's /proc/pressure, not the controller-less v2 tree's.
      pressure: { cpuSomeAvg10: 12.5, memorySomeAvg10: 3.25, memoryFullAvg10: 1.75 },
      errors: [],
    });
    // 200 busy and 200 idle jiffies: half of 4 CPUs.
    await tree.write('proc/stat', 'cpu  10100 500 3100 80200 1000 200 300 0 0 0\ncpu0 1\n');
    clock.advance(2_000);
    expect((await monitor.snapshot()).cpu.usedCores).toBeCloseTo(2, 9);
  });

  it('treats a limit above the host as no limit', async () => {
    const { tree, monitor } = await open('cgroup-v2');
    await tree.write(`${SLICE}/memory.max`, 'max\n');
    await tree.write(`${SERVICE}/memory.max`, `${16 * GiB}\n`);
    await tree.write(`${SERVICE}/cpu.max`, '800000 100000\n');
    expect(await monitor.snapshot()).toMatchObject({
      source: 'host',
      cpu: { limitCores: 4 },
      memory: { limitBytes: 8 * GiB, usedBytes: 2 * GiB },
    });
  });
});

describe('host only (no cgroup)', () => {
  it('uses /proc/stat and /proc/meminfo, and has no pressure without PSI', async () => {
    const { monitor } = await open('host-only');
    expect(await monitor.snapshot([])).toEqual({
      at: expect.any(Number),
      source: 'host',
      cpu: { limitCores: 4, usedCores: null },
      memory: { limitBytes: 8 * GiB, usedBytes: 2 * GiB },
      pressure: null,
      perWorker: {},
      errors: [],
    });
  });
});

describe('malformed files', () => {
  it('marks each figure unknown and names the file and what it held', async () => {
    const { tree, logger, monitor } = await open('malformed');
    const snapshot = resourceSnapshotSchema.parse(await monitor.snapshot([4242]));
    const app = `${tree.sysRoot}/fs/cgroup/app`;
    expect(snapshot).toMatchObject({
      source: 'cgroup-v2',
      cpu: { limitCores: null, usedCores: null },
      memory: { limitBytes: 2 * GiB, usedBytes: null },
      pressure: { cpuSomeAvg10: null, memorySomeAvg10: null, memoryFullAvg10: null },
      perWorker: {},
    });
    expect(snapshot.errors).toEqual(
      expect.arrayContaining([
        {
          file: `${tree.procRoot}/self/auxv`,
          message:
            'expected AT_PAGESZ (6) and AT_CLKTCK (17) entries, found 20 bytes without them; assuming 4096-byte pages and 100 clock ticks per second',
        },
        {
          file: `${app}/cpu.max`,
          message:
            'expected "$MAX $PERIOD" such as "max 100000" or "50000 100000", found "lots 100000"',
        },
        { file: `${app}/memory.current`, message: 'expected a byte count, found "12abc"' },
        {
          file: `${app}/cpu.pressure`,
          message: 'expected "some avg10=N avg60=N avg300=N total=N", found "pressure is high"',
        },
        {
          file: `${tree.procRoot}/4242/stat`,
          message:
            'expected "PID (COMMAND) STATE PPID ..." with at least 24 fields, found "garbage"',
        },
      ]),
    );
    expect(snapshot.errors).toHaveLength(5);
    // Each problem is logged once, not every tick.
    await monitor.snapshot([4242]);
    const warnings = logger.lines.filter((line) => line.level === 'warn');
    expect(warnings.map((line) => line.fields?.file)).toEqual([
      `${tree.procRoot}/self/auxv`,
      `${app}/cpu.max`,
      `${app}/memory.current`,
      `${app}/cpu.pressure`,
    ]);

    await tree.write('sys/fs/cgroup/app/memory.current', '1000\n');
    expect((await monitor.snapshot()).errors).toContainEqual({
      file: `${app}/memory.stat`,
      message: 'expected a "inactive_file" line, found no such line in "anon 1"',
    });
  });

  it('a malformed /proc/self/cgroup leaves both limits unknown instead of assuming the host', async () => {
    const { tree, monitor } = await open('cgroup-v2');
    await tree.write('proc/self/cgroup', 'this is not a cgroup file\n');
    const snapshot = await monitor.snapshot();
    expect(snapshot).toMatchObject({
      cpu: { limitCores: null, usedCores: null },
      memory: { limitBytes: null, usedBytes: null },
    });
    expect(snapshot.errors).toEqual([
      {
        file: `${tree.procRoot}/self/cgroup`,
        message:
          'expected "hierarchy-ID:controller-list:cgroup-path" lines such as "0::/system.slice/app.service", found "this is not a cgroup file" on line 1',
      },
    ]);
  });

  it('roots that do not exist give unknown figures, not an exception', async () => {
    const monitor = createResourceMonitor({
      procRoot: '/nonexistent/proc',
      sysRoot: '/nonexistent/sys',
    });
    const snapshot = await monitor.snapshot();
    await monitor.close();
    expect(snapshot).toMatchObject({
      cpu: { limitCores: null, usedCores: null },
      memory: { limitBytes: null, usedBytes: null },
      pressure: null,
    });
    expect(snapshot.errors).toContainEqual({
      file: '/nonexistent/proc/meminfo',
      message: 'cannot be read: does not exist',
    });
  });
});

describe('the monitor object', () => {
  it('rejects bad options and bad PIDs with errors naming them', async () => {
    expect(() => createResourceMonitor({ procRoot: 'proc' })).toThrow(
      'procRoot: expected an absolute directory path such as /proc, got "proc"',
    );
    expect(() => createResourceMonitor({ limitsRefreshMs: -1 })).toThrow(
      'limitsRefreshMs: expected a number of milliseconds >= 0, got -1',
    );
    const { monitor } = await open('host-only');
    await expect(monitor.snapshot([12, 0])).rejects.toMatchObject({
      code: 'RESOURCE_OPTIONS_INVALID',
      message: 'snapshot(pids): expected process IDs (whole numbers above 0), got 0',
    });
  });

  it('refuses to work after close', async () => {
    const { monitor } = await open('host-only');
    await monitor.snapshot();
    await monitor.close();
    await expect(monitor.snapshot()).rejects.toMatchObject({
      name: 'ResourceMonitorError',
      code: 'RESOURCE_MONITOR_CLOSED',
    });
  });

  it('runs overlapping calls one after another, so each delta has one previous sample', async () => {
    const { tree, clock, monitor } = await open('cgroup-v1');
    await monitor.snapshot();
    await tree.write('sys/fs/cgroup/cpu,cpuacct/cpuacct.usage', '2500000000\n');
    clock.advance(1_000);
    const [a, b] = await Promise.all([monitor.snapshot(), monitor.snapshot()]);
    // The second call sees no time pass since the first: no rate rather than a wrong one.
    expect([a.cpu.usedCores, b.cpu.usedCores]).toEqual([0.5, null]);
  });
});
