import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `qscale` binary as a user would, in `cwd`, with only `env` set. */
function qscale(args: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '', ...env },
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

const base = (queue: string) => `queues:\n  emails:\n    driver: bullmq\n${queue}`;

// Each of the rejections the issue lists, with the one line `qscale validate` must print.
const rejections: [string, string, string][] = [
  [
    'an unknown key',
    base('    command: [node, w.js]\n    minWorkers: 1\n'),
    'queues.emails.minWorkers: unknown key (did you mean "workers"?); expected one of driver, name, prefix, redis, strategy, slo, workers, command, env, cwd, user, group, stop, spawn, recycle, resources, restart, scaling (qscale.yml:5:5)',
  ],
  [
    'a wrong type',
    base('    command: [node, w.js]\n    workers:\n      max: ten\n'),
    'queues.emails.workers.max: expected a whole number >= 1, got "ten" (qscale.yml:6:12)',
  ],
  [
    'min > max',
    base('    command: [node, w.js]\n    workers: { min: 4, max: 2 }\n'),
    'queues.emails.workers: min (4) is greater than max (2) (qscale.yml:5:14)',
  ],
  [
    'a bad duration',
    base('    command: [node, w.js]\n    slo: { pickup: 30 seconds }\n'),
    'queues.emails.slo.pickup: expected a duration like 500ms, 30s or 5m, got "30 seconds" (qscale.yml:5:20)',
  ],
  [
    'a bad queue name',
    'queues:\n  "emails; rm -rf /":\n    driver: bullmq\n    command: [node, w.js]\n',
    'queues["emails; rm -rf /"]: expected a queue name of letters, digits and . _ : - starting with a letter or digit, got "emails; rm -rf /" (qscale.yml:2:3)',
  ],
  [
    'an empty command',
    base('    command: []\n'),
    'queues.emails.command: expected at least the program to run, got an empty list (qscale.yml:4:14)',
  ],
  [
    'a string command instead of an argv array',
    base('    command: node worker.js --queue emails\n'),
    'queues.emails.command: expected an argv array like [php, artisan, queue:work], got a single string: qscale never runs a shell, so split the command into its arguments (qscale.yml:4:14)',
  ],
  [
    'a missing env var without default',
    base('    command: [node, w.js]\n    env: { API_KEY: "${EMAIL_API_KEY}" }\n'),
    'queues.emails.env.API_KEY: environment variable ${EMAIL_API_KEY} is not set and has no default (write ${NAME:-default}) (qscale.yml:5:21)',
  ],
  [
    'malformed YAML',
    'queues:\n  emails: { driver: bullmq\n',
    'malformed YAML: Flow map in block collection must be sufficiently indented and end with a } (qscale.yml:3:1)',
  ],
];

describe('qscale validate and init (the built binary)', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'qscale-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('init writes a commented example that validate accepts', async () => {
    const init = await qscale(['init'], dir);
    expect(init).toMatchObject({ code: 0, stderr: '' });
    expect(init.stdout).toContain('wrote qscale.yml');
    expect(await readFile(join(dir, 'qscale.yml'), 'utf8')).toMatch(/^# qscale configuration/);

    const validate = await qscale(['validate'], dir);
    expect(validate.code).toBe(0);
    expect(validate.stdout).toBe(
      [
        'qscale.yml is valid: 2 queues',
        '  emails: bullmq, 1-12 workers, p95 pickup <= 10s, strategy predictive',
        '  reports: laravel, 0-4 workers, p99 pickup <= 5m, strategy predictive',
        '',
      ].join('\n'),
    );

    // The example practises what the audit preaches: no finding in it, at any severity.
    const audit = await qscale(['audit', '--config', 'qscale.yml', '--format', 'json'], dir);
    expect(audit.code).toBe(0);
    const findings = (JSON.parse(audit.stdout) as { findings: { ruleId: string }[] }).findings;
    // Its 16 workers are within the 8 per CPU the audit allows from 2 CPUs up.
    const sized = availableParallelism() >= 2;
    expect(findings.filter((finding) => sized || finding.ruleId !== 'AUT-001')).toEqual([]);
  });

  it('init refuses to overwrite a file unless --force is given', async () => {
    const again = await qscale(['init', 'qscale.yml'], dir);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(
      'qscale init: qscale.yml already exists; pass --force to overwrite it\n',
    );
    expect((await qscale(['init', '--force'], dir)).code).toBe(0);
    const nowhere = await qscale(['init', 'no/such/folder/q.yml'], dir);
    expect(nowhere.stderr).toContain('cannot be created: its folder does not exist');
  });

  it.each(rejections)(
    'rejects %s with one line naming it, exit code 1',
    async (_what, text, expected) => {
      await writeFile(join(dir, 'qscale.yml'), text);
      const run = await qscale(['validate', '--config', 'qscale.yml'], dir);
      expect(run.code).toBe(1);
      expect(run.stdout).toBe(`${expected}\n`);
      expect(run.stderr).toBe('qscale.yml: 1 problem\n');
    },
  );

  it('reports the problems as JSON with --json', async () => {
    await writeFile(join(dir, 'bad.yml'), base('    command: []\n    slo: { percentile: 100 }\n'));
    const run = await qscale(['validate', '-c', 'bad.yml', '--json'], dir);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toEqual({
      valid: false,
      file: 'bad.yml',
      error: 'CONFIG_INVALID',
      problems: [
        {
          path: 'queues.emails.command',
          message: 'expected at least the program to run, got an empty list',
          line: 4,
          column: 14,
        },
        {
          path: 'queues.emails.slo.percentile',
          message: 'expected a percentile above 0 and below 100, e.g. 95, got 100',
          line: 5,
          column: 24,
        },
      ],
    });
    await writeFile(join(dir, 'good.yml'), base('    command: [node, w.js]\n'));
    const good = await qscale(['validate', '-c', 'good.yml', '--json'], dir);
    expect(JSON.parse(good.stdout)).toEqual({
      valid: true,
      file: 'good.yml',
      queues: ['emails'],
      warnings: [],
      problems: [],
    });
  });

  it('substitutes environment variables from the environment it runs in', async () => {
    await writeFile(
      join(dir, 'env.yml'),
      base('    command: [node, w.js]\n    env: { API_KEY: "${EMAIL_API_KEY}" }\n'),
    );
    const run = await qscale(['validate', '-c', 'env.yml'], dir, { EMAIL_API_KEY: 'k-123' });
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain('k-123');
  });

  it('a missing or unreadable file is a clear one-line failure, never a stack trace', async () => {
    const missing = await qscale(['validate', '-c', 'nope.yml'], dir);
    expect(missing).toEqual({
      code: 1,
      stdout: 'no such file (create one with `qscale init`) (nope.yml)\n',
      stderr: 'nope.yml: 1 problem\n',
    });
    const folder = await qscale(['validate', '-c', '.'], dir);
    expect(folder.code).toBe(1);
    expect(folder.stdout).toBe('is a directory, expected a YAML or JSON file (.)\n');
    for (const run of [missing, folder]) expect(run.stdout + run.stderr).not.toMatch(/\n\s+at /);
  });

  it('usage errors exit 2 and say what was wrong', async () => {
    const flag = await qscale(['validate', '--confgi', 'x'], dir);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toBe(
      "qscale validate: Unknown option '--confgi'\nusage: qscale validate [--config FILE] [--json]\n",
    );
    const command = await qscale(['valdiate'], dir);
    expect(command).toMatchObject({ code: 2, stdout: '' });
    expect(command.stderr).toBe(
      'qscale: unknown command "valdiate"; run qscale --help for the list\n',
    );
    const nothing = await qscale([], dir);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain('commands:');
    const extra = await qscale(['init', 'a.yml', 'b.yml'], dir);
    expect(extra).toMatchObject({ code: 2 });
    expect(extra.stderr).toContain('unexpected argument "b.yml"');
  });

  it('stops quietly when its reader goes away (qscale ... | head -1)', async () => {
    await writeFile(join(dir, 'good.yml'), base('    command: [node, w.js]\n'));
    const child = spawn(process.execPath, [BIN, 'validate', '-c', 'good.yml'], { cwd: dir });
    child.stdout.destroy(); // the pipe closes before the first write
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    const code = await new Promise((resolve) => child.once('close', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('answers --help and --version', async () => {
    const help = await qscale(['--help'], dir);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/validate +check a configuration file/);
    const commandHelp = await qscale(['validate', '--help'], dir);
    expect(commandHelp.stdout).toContain('usage: qscale validate [--config FILE] [--json]');
    const version = await qscale(['--version'], dir);
    expect(version.stdout).toMatch(/^qscale \d+\.\d+\.\d+\n$/);
  });
});
