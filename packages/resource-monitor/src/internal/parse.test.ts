import { describe, expect, it } from 'vitest';
import {
  parseAuxv,
  parseCfsQuota,
  parseCpuMax,
  parseCpusAllowed,
  parseKeyed,
  parseLimitBytes,
  parseMeminfo,
  parseMountinfo,
  parsePidStat,
  parsePressure,
  parseProcCgroup,
  parseProcStatTimes,
  parseProcStatTimesOf,
} from './parse.js';

describe('cpusets', () => {
  it('reads Cpus_allowed_list ranges and single CPUs, sorted and distinct', () => {
    const status = (list: string) => `Name:\tqscaled\nCpus_allowed_list:\t${list}\nVmRSS:\t1 kB\n`;
    expect(parseCpusAllowed(status('0-3,8,10-11'))).toEqual([0, 1, 2, 3, 8, 10, 11]);
    expect(parseCpusAllowed(status('5'))).toEqual([5]);
    expect(parseCpusAllowed(status('3,1-2,2'))).toEqual([1, 2, 3]);
    expect(() => parseCpusAllowed(status('3-1'))).toThrow(
      /Cpus_allowed_list: 0-3,8.*found "Cpus_allowed_list:\\t3-1"/,
    );
    expect(() => parseCpusAllowed(status('a'))).toThrow(/expected a line "Cpus_allowed_list/);
    expect(() => parseCpusAllowed('Name:\tqscaled\n')).toThrow(/found none/);
  });

  it('sums the /proc/stat lines of the allowed CPUs only', () => {
    const stat = [
      'cpu  400 0 0 400 0 0 0 0 0 0',
      'cpu0 10 0 0 190 0 0 0 0 0 0',
      'cpu1 90 0 10 100 0 0 0 0 0 0',
      'cpu2 300 0 0 110 0 0 0 0 0 0',
      'intr 1 2 3',
    ].join('\n');
    expect(parseProcStatTimesOf(stat, [1, 2])).toEqual({ busy: 400, total: 610 });
    expect(() => parseProcStatTimesOf(stat, [1, 7])).toThrow(/"cpu7 \.\.\." line/);
  });
});

describe('limits', () => {
  it('reads cpu.max as cores, with "max" and an optional burst field', () => {
    expect(parseCpuMax('max 100000\n')).toBeNull();
    expect(parseCpuMax('150000 100000\n')).toBe(1.5);
    expect(parseCpuMax('50000 100000 10000\n')).toBe(0.5);
    expect(() => parseCpuMax('150000\n')).toThrow(
      'expected "$MAX $PERIOD" such as "max 100000" or "50000 100000", found "150000"',
    );
    expect(() => parseCpuMax('100 0')).toThrow('with a period above 0, found "100 0"');
  });

  it('reads the v1 CFS quota, -1 meaning none', () => {
    expect(parseCfsQuota('-1\n', '100000\n')).toBeNull();
    expect(parseCfsQuota('250000\n', '100000\n')).toBe(2.5);
    expect(() => parseCfsQuota('-5', '100000')).toThrow('expected microseconds or -1, found "-5"');
  });

  it('treats "max" and anything at or above 2^60 as unlimited memory', () => {
    expect(parseLimitBytes('max\n')).toBeNull();
    expect(parseLimitBytes('9223372036854771712\n')).toBeNull();
    expect(parseLimitBytes(`${2 ** 60}`)).toBeNull();
    expect(parseLimitBytes(`${2 ** 60 - 2 ** 20}`)).toBe(2 ** 60 - 2 ** 20);
    expect(parseLimitBytes('536870912\n')).toBe(536_870_912);
    expect(() => parseLimitBytes('')).toThrow(
      'expected a byte count or "max", found an empty file',
    );
    expect(() => parseLimitBytes('x'.repeat(200))).toThrow(`found "${'x'.repeat(80)}…"`);
  });
});

describe('/proc/self/cgroup and mountinfo', () => {
  it('separates the v2 line from v1 controllers, skipping named hierarchies', () => {
    const parsed = parseProcCgroup(
      '12:memory:/docker/3f2a\n4:cpu,cpuacct:/docker/3f2a\n1:name=systemd:/docker/3f2a\n0::/\n',
    );
    expect(parsed.unifiedPath).toBe('/');
    expect(Object.fromEntries(parsed.v1Paths)).toEqual({
      memory: '/docker/3f2a',
      cpu: '/docker/3f2a',
      cpuacct: '/docker/3f2a',
    });
    expect(parseProcCgroup('0::/system.slice/a:b.service\n').unifiedPath).toBe(
      '/system.slice/a:b.service',
    );
    expect(() => parseProcCgroup('')).toThrow('found an empty file');
    expect(() => parseProcCgroup('0::/\nmemory:/x\n')).toThrow('found "memory:/x" on line 2');
  });

  it('keeps the cgroup mounts of mountinfo, their root, and unescapes their paths', () => {
    const mounts = parseMountinfo(
      [
        '27 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
        '31 30 0:27 /docker/3f2a /sys/fs/cgroup/memory ro,nosuid master:9 - cgroup cgroup rw,memory',
        '32 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct',
        '33 30 0:29 / /mnt/my\\040cgroups rw - cgroup2 cgroup2 rw,nsdelegate',
        '',
      ].join('\n'),
    );
    expect(mounts).toEqual([
      {
        version: 1,
        root: '/docker/3f2a',
        mountPoint: '/sys/fs/cgroup/memory',
        controllers: new Set(['memory']),
      },
      {
        version: 1,
        root: '/',
        mountPoint: '/sys/fs/cgroup/cpu,cpuacct',
        controllers: new Set(['cpu', 'cpuacct']),
      },
      { version: 2, root: '/', mountPoint: '/mnt/my cgroups', controllers: new Set() },
    ]);
    expect(() => parseMountinfo('31 30 0:27 /\n')).toThrow('found "31 30 0:27 /" on line 1');
  });
});

describe('usage files', () => {
  it('reads keyed files and says which line is wrong', () => {
    expect(parseKeyed('usage_usec 5000000\nnr_throttled 3\n').get('usage_usec')).toBe(5_000_000);
    expect(() => parseKeyed('usage_usec 1\nbroken\n')).toThrow(
      'expected "key value" lines, found "broken" on line 2',
    );
  });

  it('reads meminfo in bytes and requires MemTotal and MemAvailable', () => {
    const meminfo = parseMeminfo('MemTotal: 1024 kB\nMemAvailable: 512 kB\nHugePages_Total: 0\n');
    expect([meminfo.get('MemTotal'), meminfo.get('MemAvailable')]).toEqual([1_048_576, 524_288]);
    expect(meminfo.get('HugePages_Total')).toBe(0);
    expect(() => parseMeminfo('MemTotal: 1024 kB\n')).toThrow(
      'expected a "MemAvailable: N kB" line',
    );
  });

  it('counts busy and total jiffies of the cpu line, guest time once', () => {
    // user nice system idle iowait irq softirq steal guest guest_nice
    expect(parseProcStatTimes('cpu  100 10 50 800 20 5 5 10 40 0\ncpu0 1\n')).toEqual({
      busy: 180,
      total: 1_000,
    });
    expect(() => parseProcStatTimes('intr 1 2 3\n')).toThrow('found "intr 1 2 3"');
  });

  it('reads PSI avg10 figures, the full line being optional', () => {
    expect(parsePressure('some avg10=1.50 avg60=0.00 avg300=0.00 total=9\n')).toEqual({
      someAvg10: 1.5,
      fullAvg10: null,
    });
    expect(
      parsePressure(
        'some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=2.25 avg60=1 avg300=0 total=1\n',
      ),
    ).toEqual({ someAvg10: 0, fullAvg10: 2.25 });
  });
});

describe('/proc/PID/stat', () => {
  it('counts fields from the last parenthesis, whatever the command name holds', () => {
    const stat =
      '77 (a) b (c) R 1 77 77 0 -1 4194560 1 0 0 0 300 45 0 0 20 0 1 0 9876 1000 512 18446744073709551615\n';
    expect(parsePidStat(stat)).toEqual({
      state: 'R',
      cpuTicks: 345,
      startTicks: 9876,
      rssPages: 512,
    });
    expect(() => parsePidStat('77 (a) R 1 2 3\n')).toThrow(
      'with at least 24 fields, found "77 (a) R 1 2 3"',
    );
  });
});

describe('/proc/self/auxv', () => {
  const words = (pairs: [number, number][], bytes: 4 | 8) => {
    const buffer = Buffer.alloc(bytes * 2 * (pairs.length + 1));
    pairs.forEach(([type, value], index) => {
      const at = index * 2 * bytes;
      if (bytes === 8) {
        buffer.writeBigUInt64LE(BigInt(type), at);
        buffer.writeBigUInt64LE(BigInt(value), at + 8);
      } else {
        buffer.writeUInt32LE(type, at);
        buffer.writeUInt32LE(value, at + 4);
      }
    });
    return buffer;
  };

  it('finds the page size and clock tick rate, on 64- and 32-bit layouts', () => {
    const pairs: [number, number][] = [
      [33, 1],
      [6, 65_536],
      [17, 100],
      [11, 0],
    ];
    expect(parseAuxv(words(pairs, 8), 8, true)).toEqual({
      pageSizeBytes: 65_536,
      clockTicksPerSecond: 100,
    });
    expect(parseAuxv(words(pairs, 4), 4, true)).toEqual({
      pageSizeBytes: 65_536,
      clockTicksPerSecond: 100,
    });
    // Entries after AT_NULL are not read.
    expect(() =>
      parseAuxv(
        words(
          [
            [0, 0],
            [6, 4096],
            [17, 100],
          ],
          8,
        ),
        8,
        true,
      ),
    ).toThrow('expected AT_PAGESZ (6) and AT_CLKTCK (17) entries, found 64 bytes without them');
  });
});
