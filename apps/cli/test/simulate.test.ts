import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `qscale` binary as a user would, in `cwd`. */
function qscale(args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
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

const smallTrace = {
  name: 'two-minutes',
  durationMs: 120_000,
  queues: [
    {
      name: 'emails',
      arrivals: { kind: 'poisson', rate: 5 },
      service: { kind: 'exponential', meanMs: 500 },
      workers: { min: 0, max: 10, initial: 3 },
    },
  ],
};

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qscale-simulate-'));
  await writeFile(join(dir, 'trace.json'), JSON.stringify(smallTrace));
  const bad = {
    ...smallTrace,
    queues: [{ ...smallTrace.queues[0], arrivals: { kind: 'poisson', rate: -2 } }],
  };
  await writeFile(join(dir, 'bad.json'), JSON.stringify(bad));
  await mkdir(join(dir, 'node_modules', 'two-workers'), { recursive: true });
  await writeFile(
    join(dir, 'node_modules', 'two-workers', 'package.json'),
    JSON.stringify({ name: 'two-workers', type: 'module', exports: './index.js' }),
  );
  await writeFile(
    join(dir, 'node_modules', 'two-workers', 'index.js'),
    `export default {
  name: 'two-workers',
  optionsSchema: { safeParse: (input) => ({ success: true, data: input }) },
  create: () => ({ recommend: () => ({ workers: 2, reason: 'always two', terms: {} }) }),
};`,
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('qscale simulate (the built binary)', () => {
  it('compares strategies side by side on a scenario', async () => {
    const run = await qscale(
      ['simulate', '--scenario', 'anchor-steady-state', '--compare', 'hpa,horizon'],
      dir,
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('anchor-steady-state: 5m simulated, tick 5s, seed 1');
    expect(run.stdout).toContain('queue default (SLO: p95 pickup <= 30s)');
    expect(run.stdout).toMatch(/│\s+│\s+predictive │\s+hpa │\s+horizon │/);
    expect(run.stdout).toMatch(/picked up within SLO\s+│\s+\d+\.\d\d% │/);
    expect(run.stdout).toContain('worker-seconds');
  });

  it('prints JSON with every run, and the same numbers for the same seed', async () => {
    const args = [
      'simulate',
      '--trace',
      'trace.json',
      '--compare',
      'littles-law',
      '--json',
      '--seed',
      '4',
    ];
    const first = await qscale(args, dir);
    expect(first.code).toBe(0);
    const report = JSON.parse(first.stdout);
    expect(report).toMatchObject({ trace: 'two-minutes', seed: 4, chart: null });
    expect(report.runs.map((r: { strategy: string }) => r.strategy)).toEqual([
      'predictive',
      'littles-law',
    ]);
    expect(report.runs[0].queues[0]).toMatchObject({ queue: 'emails' });
    expect(report.runs[0].queues[0].series).toBeUndefined();
    expect((await qscale(args, dir)).stdout).toBe(first.stdout);
  });

  it('writes an SVG chart or a self-contained HTML page', async () => {
    const svg = await qscale(['simulate', '--trace', 'trace.json', '--chart', 'out.svg'], dir);
    expect(svg.code).toBe(0);
    expect(svg.stdout).toContain('chart written to out.svg');
    const content = await readFile(join(dir, 'out.svg'), 'utf8');
    expect(content.startsWith('<svg')).toBe(true);
    expect(content).toContain('workers (running + starting)');
    const html = await qscale(
      ['simulate', '--trace', 'trace.json', '--compare', 'hpa', '--chart', 'out.html'],
      dir,
    );
    expect(html.code).toBe(0);
    expect(await readFile(join(dir, 'out.html'), 'utf8')).toMatch(
      /<!doctype html>[\s\S]*<svg[\s\S]*<table>/,
    );
  });

  it('runs a strategy package installed next to the trace', async () => {
    const run = await qscale(
      ['simulate', '--trace', 'trace.json', '--strategy', 'two-workers', '--json'],
      dir,
    );
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).runs[0].queues[0].peakWorkers).toBe(3); // the 3 initial ones
  });

  it('runs a worker group and, with --separate, the same queues on a pool each', async () => {
    const run = await qscale(
      ['simulate', '--scenario', 'laravel-priority-group', '--separate', '--json'],
      dir,
    );
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as {
      runs: {
        strategy: string;
        total: { workerSeconds: number };
        queues: { queue: string; group: string | null; sloAttainment: number }[];
        groups: { group: string; members: { queue: string; decidingTicks: number }[] }[];
      }[];
    };
    const [grouped, separate] = report.runs;
    expect(report.runs.map((r) => r.strategy)).toEqual([
      'predictive',
      'predictive (separate pools)',
    ]);
    expect(grouped?.queues.map((q) => [q.queue, q.group])).toEqual([
      ['high', 'web'],
      ['default', 'web'],
    ]);
    expect(separate?.queues.every((q) => q.group === null)).toBe(true);
    expect(separate?.groups).toEqual([]);
    expect(grouped?.groups[0]?.members.map((m) => m.queue)).toEqual(['high', 'default']);
    for (const q of grouped?.queues ?? []) expect(q.sloAttainment).toBeGreaterThanOrEqual(0.99);
    expect(grouped?.total.workerSeconds).toBeLessThan(separate?.total.workerSeconds ?? 0);

    const text = await qscale(['simulate', '--scenario', 'sidekiq-weighted-group'], dir);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('group sidekiq (weighted: critical, default, low;');
    expect(text.stdout).toMatch(/critical: mean need \/ ticks deciding\s+│\s+\d+\.\d \/ \d+ │/);
  });

  it('refuses --separate for a trace without groups (exit 2)', async () => {
    const run = await qscale(['simulate', '--trace', 'trace.json', '--separate'], dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('trace "two-minutes" has no worker groups');
  });

  it('lists the scenarios', async () => {
    const run = await qscale(['simulate', '--list', '--json'], dir);
    const list = JSON.parse(run.stdout) as { name: string; origin: string }[];
    expect(list.filter((s) => s.origin === 'anchor')).toHaveLength(12);
    expect(list.map((s) => s.name)).toContain('cold-start');
    expect(list.filter((s) => (s as { groups?: boolean }).groups).map((s) => s.name)).toEqual([
      'laravel-priority-group',
      'sidekiq-weighted-group',
    ]);
  });

  it('explains a bad trace with the JSON path and the value (exit 1)', async () => {
    const run = await qscale(['simulate', '--trace', 'bad.json'], dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('bad.json is not a valid workload trace');
    expect(run.stderr).toContain(
      'queues[0].arrivals.rate: expected jobs per second (a number >= 0), got -2',
    );
  });

  it.each([
    [['simulate'], 'give exactly one of --scenario NAME or --trace FILE'],
    [['simulate', '--scenario', 'spike', '--trace', 'trace.json'], 'give exactly one of'],
    [
      ['simulate', '--scenario', 'spikes'],
      '--scenario spikes: unknown scenario; expected one of steady, spike',
    ],
    [
      ['simulate', '--scenario', 'spike', '--seed', '1.5'],
      '--seed 1.5: expected a whole number >= 0',
    ],
    [
      ['simulate', '--scenario', 'spike', '--chart', 'x.png'],
      '--chart x.png: expected a file name ending in .svg or .html',
    ],
    [
      ['simulate', '--scenario', 'spike', '--strategy', 'predictve'],
      '--strategy predictve: not a built-in strategy',
    ],
  ])('exits 2 on a command line it cannot run: %j', async (args, message) => {
    const run = await qscale(args, dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stderr).toContain('usage: qscale simulate');
  });

  it('reports progress on stderr for long runs', async () => {
    const long = {
      ...smallTrace,
      name: 'a-quiet-week',
      durationMs: 7 * 24 * 3_600_000,
      tickMs: 600_000,
      queues: [{ ...smallTrace.queues[0], arrivals: { kind: 'poisson', rate: 0.01 } }],
    };
    await writeFile(join(dir, 'long.json'), JSON.stringify(long));
    const run = await qscale(['simulate', '--trace', 'long.json'], dir);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('simulating predictive on a-quiet-week (1/1)');
    expect(run.stderr).toContain('predictive: 50% of 168h simulated');
  });
});
