import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostCapacitySchema, resourceSnapshotSchema } from '@qscale/contracts';
import { capacity } from '@qscale/resource-monitor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built `qscale` binary as a user would, in `cwd`; `pinnedTo` runs it through
 * `taskset -c` on those CPUs (a cpuset the kernel enforces).
 */
function qscale(args: string[], cwd: string, pinnedTo?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const argv = [process.execPath, BIN, ...args];
    const [file, ...rest] = pinnedTo ? ['taskset', '-c', pinnedTo, ...argv] : argv;
    const child = spawn(file as string, rest, {
      cwd,
      env: { PATH: process.env.PATH ?? '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const MiB = 1024 ** 2;
const queue = (name: string, extra = '') =>
  `  ${name}:\n    driver: bullmq\n    command: [node, w.js]\n${extra}`;

describe('qscale resources (the built binary, on this machine)', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'qscale-cli-resources-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('--json gives the limits and a snapshot with CPU use measured over a second', async () => {
    const run = await qscale(['resources', '--json'], dir);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const output = JSON.parse(run.stdout);
    expect(output.config).toBeNull();
    expect(output.capacity).toBeNull();
    const snapshot = resourceSnapshotSchema.parse(output.snapshot);
    expect(snapshot.cpu.usedCores).not.toBeNull();
    expect(snapshot.memory.limitBytes).toBeLessThanOrEqual(totalmem());
    expect(output.limits.cpu.hostCores).toBe(cpus().length);
    expect(output.limits.memory.hostBytes).toBe(totalmem());
  });

  it('prints what it read and where the limits come from', async () => {
    const run = await qscale(['resources'], dir);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^source {4}(host \(no cgroup limit applies\)|cgroup v[12])$/);
    expect(lines[1]).toMatch(/^cpu {7}\d+\.\d\d of \d+\.\d\d cores used \(\d+%\) +limit: /);
    expect(lines[2]).toMatch(
      /^memory {4}[\d.]+ [KMGT]?i?B of [\d.]+ [KMGT]i?B used \(\d+%\) +limit: /,
    );
    expect(lines[3]).toMatch(/^pressure {2}(cpu|not available)/);
  });

  it('pinned to CPU 0 (taskset), takes that cpuset as the CPU limit where no quota is lower', async () => {
    const run = await qscale(['resources', '--json'], dir, '0');
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const { limits, snapshot } = JSON.parse(run.stdout);
    expect(snapshot.cpu.limitCores).toBeLessThanOrEqual(1);
    expect(limits.cpu.allowedCpus).toEqual(cpus().length > 1 ? [0] : null);
    const text = await qscale(['resources'], dir, '0');
    if (cpus().length > 1 && limits.cpu.source === 'host') {
      expect(text.stdout).toContain(`limit: CPUs 0 of the host's ${cpus().length} (cpuset)`);
    }
  });

  it('with --config, prints the capacity the configuration allows', async () => {
    await writeFile(
      join(dir, 'capped.yml'),
      `limits: { maxWorkers: 3 }\nqueues:\n${queue('emails', '    resources: { cpu: 0.01, memory: 16MiB }\n')}`,
    );
    const run = await qscale(['resources', '--config', 'capped.yml'], dir);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    // How many fit depends on how busy this machine is; the costs come from the file.
    expect(run.stdout).toMatch(
      /\ncapacity under capped\.yml: [0-3] workers? \(limited by (config|cpu|memory)\)\n {2}headroom {2}-?\d+\.\d\d cores, -?[\d.]+ [KMGT]?i?B \(85% \/ 85% of the limits, less the workers' wait for a CPU \/ other processes' memory, less what the workers cost\)\n {2}why {7}(config: limits\.maxWorkers 3|(cpu|memory): .* = \d+.*)\n/,
    );
    expect(run.stdout).toMatch(
      /\n {2}emails {2}0\.01 cores \(queue-config\), 16\.0 MiB \(queue-config\) per worker: up to [0-3] workers? alone\n$/,
    );

    // The JSON capacity is what the library computes from the same snapshot and the file.
    const json = await qscale(['resources', '-c', 'capped.yml', '--json'], dir);
    const output = JSON.parse(json.stdout);
    expect(output.capacity).toEqual(
      capacity({
        resources: resourceSnapshotSchema.parse(output.snapshot),
        perWorker: [
          {
            queue: 'emails',
            runningPids: [],
            resources: { cpuCores: 0.01, memoryBytes: 16 * MiB },
          },
        ],
        limits: {
          maxWorkers: 3,
          cpu: { maxPercent: 85, perWorkerCores: null },
          memory: { maxPercent: 85, perWorkerBytes: null },
        },
      }),
    );

    // Workers of a terabyte each: not one fits in this machine's memory, however idle it is.
    await writeFile(
      join(dir, 'huge.yml'),
      `limits: { memory: { perWorker: 1024GiB } }\nqueues:\n${queue('reports')}`,
    );
    const huge = await qscale(['resources', '-c', 'huge.yml', '--json'], dir);
    expect(huge.code).toBe(0);
    const hugeOutput = JSON.parse(huge.stdout);
    expect(hugeOutput.config).toBe('huge.yml');
    expect(hostCapacitySchema.parse(hugeOutput.capacity)).toMatchObject({
      maxWorkers: 0,
      limiter: 'memory',
      perQueue: {
        reports: {
          memoryBytesPerWorker: 1024 * 1024 * MiB,
          memoryFrom: 'limits-config',
          cpuFrom: 'default',
          maxWorkers: 0,
        },
      },
    });
  });

  it('an invalid configuration is reported like validate does, exit code 1', async () => {
    await writeFile(
      join(dir, 'bad.yml'),
      `queues:\n${queue('emails', '    resources: { cpu: -1 }\n')}`,
    );
    const run = await qscale(['resources', '-c', 'bad.yml'], dir);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe(
      'queues.emails.resources.cpu: expected a number of CPU cores above 0, e.g. 0.25, got -1 (bad.yml:5:23)\n',
    );
    expect(run.stderr).toBe('bad.yml: 1 problem\n');
  });

  it('usage errors exit 2, and the command is listed in --help', async () => {
    const flag = await qscale(['resources', '--watch'], dir);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toBe(
      [
        'qscale resources: unknown option --watch',
        'usage: qscale resources [--config FILE] [--json]',
        '(qscale resources --help: every option, its default and examples)',
        '',
      ].join('\n'),
    );
    expect((await qscale(['resources', 'extra'], dir)).stderr).toContain(
      'unexpected argument "extra"',
    );
    const help = await qscale(['--help'], dir);
    expect(help.stdout).toMatch(/\n {2}resources +CPU and memory \(cgroup or host\)/);
  });
});
