import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const EXAMPLES = fileURLToPath(new URL('../../../examples/', import.meta.url));
const AS_ROOT = process.getuid?.() === 0;

/** Whether `program` is on this PATH, as qscaled looks it up for a worker. */
async function onPath(program: string): Promise<boolean> {
  for (const folder of (process.env.PATH ?? '').split(delimiter)) {
    if (!folder) continue;
    const found = await access(join(folder, program), constants.X_OK).then(
      () => true,
      () => false,
    );
    if (found) return true;
  }
  return false;
}

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
    'queues.emails.minWorkers: unknown key (did you mean "workers"?); expected one of driver, name, prefix, redis, strategy, slo, workers, command, env, cwd, user, group, stop, spawn, recycle, resources, laravel, celery, restart, scaling (qscale.yml:5:5)',
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
    'a queue whose keys cannot share a Redis Cluster slot',
    `redis: { url: "redis://10.0.0.1:7000", cluster: true }\n${base('    command: [node, w.js]\n')}`,
    `queues.emails.prefix: BullMQ's keys of queue "emails" (bull:emails:wait, bull:emails:active, bull:emails:<job id>, ...) do not share a hash slot on Redis Cluster: use a prefix with a hash tag, e.g. "{bull}", as BullMQ requires on a cluster (qscale.yml:3:3)`,
  ],
  [
    'a driver Redis Cluster cannot serve',
    'redis: { url: "redis://10.0.0.1:7000", cluster: true }\nqueues:\n  jobs:\n    driver: sidekiq\n    command: [sidekiq]\n',
    'queues.jobs.driver: Sidekiq is not supported on Redis Cluster: its global keys (queues, processes, schedule, retry, stat:*) cannot share a hash slot with a queue (qscale.yml:4:13)',
  ],
  [
    'a Sentinel block next to a url',
    `redis:\n  url: redis://h:6379\n  sentinel: { masterName: m, sentinels: ["h:26379"], password: "s3nt1nel-pw" }\n${base('    command: [node, w.js]\n')}`,
    'redis.url: set either url or sentinel, not both (the Sentinels name the master) (qscale.yml:2:8)',
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

  it('validate lists a worker group with its member queues, their SLOs and weights', async () => {
    const file = join(dir, 'groups.yml');
    await writeFile(
      file,
      `queues:
  high: { driver: sidekiq, slo: { pickup: 5s } }
  default: { driver: sidekiq, slo: { pickup: 1m, percentile: 99 } }
  mail: { driver: bullmq, command: [node, mail.js] }
groups:
  web:
    queues: [high, default]
    weights: { high: 3 }
    command: [sidekiq, -q, "high,3", -q, "default,1"]
    workers: { max: 6 }
`,
    );
    const result = await qscale(['validate', '--schema-only', '--config', file], dir);
    expect(result).toMatchObject({
      code: 0,
      stdout: [
        `${file} is valid: 3 queues in 2 pools (1 worker group)`,
        '  mail: bullmq, 0-10 workers, p95 pickup <= 30s, strategy predictive',
        '  web: sidekiq group (weighted), 0-6 workers, strategy predictive, serving high (weight 3) p95 pickup <= 5s; default (weight 1) p99 pickup <= 1m',
        '',
      ].join('\n'),
    });
  });

  it('init writes a commented example that validate accepts', async () => {
    const init = await qscale(['init'], dir);
    expect(init).toMatchObject({ code: 0, stderr: '' });
    expect(init.stdout).toContain('wrote qscale.yml');
    expect(await readFile(join(dir, 'qscale.yml'), 'utf8')).toMatch(/^# qscale configuration/);

    const valid = [
      'qscale.yml is valid: 2 queues',
      '  emails: bullmq, 1-12 workers, p95 pickup <= 10s, strategy predictive',
      '  reports: laravel, 0-4 workers, p99 pickup <= 5m, strategy predictive',
      '',
    ].join('\n');
    const schemaOnly = await qscale(['validate', '--schema-only'], dir);
    expect(schemaOnly).toMatchObject({ code: 0, stdout: valid });
    // Without --schema-only, what qscaled would refuse on this host: php missing for the
    // Laravel queue, root refused for a queue without a user.
    const rootRefused = (queue: string, at: string) =>
      `queues.${queue}.user: workers would run as root and supervision.refuseRoot is on: set user (and group) here or under defaults to the account the workers run as, or start qscaled as that account (qscale.yml:${at})`;
    const expected = [
      ...(AS_ROOT ? [rootRefused('emails', '44:5')] : []),
      ...(!(await onPath('php'))
        ? [
            `queues.reports.command: command "php" was not found on the worker's PATH (${process.env.PATH}); give an absolute path or set env.PATH (qscale.yml:59:14)`,
          ]
        : AS_ROOT
          ? [rootRefused('reports', '53:5')]
          : []),
    ];
    const validate = await qscale(['validate'], dir);
    expect(validate.stdout).toBe(expected.length === 0 ? valid : `${expected.join('\n')}\n`);
    expect(validate.code).toBe(expected.length === 0 ? 0 : 1);

    // The example practises what the audit preaches: no finding in it, at any severity.
    const audit = await qscale(['audit', '--config', 'qscale.yml', '--format', 'json'], dir);
    expect(audit.code).toBe(0);
    const findings = (JSON.parse(audit.stdout) as { findings: { ruleId: string }[] }).findings;
    // Its 16 workers are within the 8 per CPU the audit allows from 2 CPUs up.
    const sized = availableParallelism() >= 2;
    expect(findings.filter((finding) => sized || finding.ruleId !== 'AUT-001')).toEqual([]);
  }, 120_000);

  it('init refuses to overwrite a file unless --force is given', async () => {
    const again = await qscale(['init', '--config', 'qscale.yml'], dir);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(
      'qscale init: qscale.yml already exists; pass --force to overwrite it\n',
    );
    expect((await qscale(['init', '--force'], dir)).code).toBe(0);
    const nowhere = await qscale(['init', '-c', 'no/such/folder/q.yml'], dir);
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

  it('refuses a worker program that does not exist, with the line qscaled refuses it with', async () => {
    await writeFile(
      join(dir, 'missing.yml'),
      base('    command: [/nonexistent/qscale-worker, --queue, emails]\n'),
    );
    const problem = `queues.emails.command: command "/nonexistent/qscale-worker" is not an executable file (resolved from ${dir}) (missing.yml:4:14)`;
    const run = await qscale(['validate', '-c', 'missing.yml'], dir);
    expect(run).toEqual({ code: 1, stdout: `${problem}\n`, stderr: 'missing.yml: 1 problem\n' });
    const json = await qscale(['validate', '-c', 'missing.yml', '--json'], dir);
    expect(JSON.parse(json.stdout)).toMatchObject({ valid: false, error: 'CONFIG_UNUSABLE' });
    // The daemon runs the same check, and says the same.
    const start = await qscale(['start', '--config', 'missing.yml'], dir);
    expect(start.code).toBe(1);
    expect(start.stderr).toBe(
      `${problem}\nqscaled: missing.yml is not a usable configuration; nothing was started\n`,
    );
    // --schema-only checks the file alone (for CI, or a machine that is not the host).
    expect((await qscale(['validate', '-c', 'missing.yml', '--schema-only'], dir)).code).toBe(0);
  }, 120_000);

  it('examples/bullmq is refused as root exactly as qscaled refuses it, and says how to fix it', async () => {
    const file = join(EXAMPLES, 'bullmq', 'qscale.yml');
    const run = await qscale(['validate', '-c', file], dir);
    if (!AS_ROOT) {
      expect(run.code).toBe(0);
      return;
    }
    const refusal = (queue: string, at: string) =>
      `queues.${queue}.user: workers would run as root and supervision.refuseRoot is on: set user (and group) here or under defaults to the account the workers run as, or start qscaled as that account (${file}:${at})`;
    const lines = [refusal('emails', '30:5'), refusal('thumbnails', '35:5')];
    expect(run).toEqual({
      code: 1,
      stdout: `${lines.join('\n')}\n`,
      stderr: `${file}: 2 problems\n`,
    });
    const start = await qscale(['start', '--config', file], dir);
    expect(start.code).toBe(1);
    expect(start.stderr).toBe(
      `${lines.join('\n')}\nqscaled: ${file} is not a usable configuration; nothing was started\n`,
    );
  }, 120_000);

  it('accepts one anchor shared by many queues; refuses an alias bomb in one line', async () => {
    const queues = Array.from({ length: 120 }, (_, index) =>
      index === 0
        ? '  q0: &worker\n    driver: bullmq\n    command: [node, w.js]\n'
        : `  q${index}: *worker\n`,
    );
    await writeFile(join(dir, 'shared.yml'), `queues:\n${queues.join('')}`);
    const shared = await qscale(['validate', '-c', 'shared.yml', '--json'], dir);
    expect(shared.code).toBe(0);
    expect((JSON.parse(shared.stdout) as { queues: string[] }).queues).toHaveLength(120);

    const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (const name of 'bcdefghi') {
      const previous = String.fromCharCode(name.charCodeAt(0) - 1);
      levels.push(`${name}: &${name} [${Array(10).fill(`*${previous}`).join(', ')}]`);
    }
    await writeFile(join(dir, 'bomb.yml'), `${levels.join('\n')}\nqueues: {}\n`);
    const bomb = await qscale(['validate', '-c', 'bomb.yml'], dir);
    expect(bomb).toEqual({
      code: 1,
      stdout:
        'the file expands to more than 100000 values once its aliases (*name) are expanded; refused as an alias bomb (bomb.yml)\n',
      stderr: 'bomb.yml: 1 problem\n',
    });
  }, 120_000);

  it('usage errors exit 2 and say what was wrong', async () => {
    const flag = await qscale(['validate', '--confgi', 'x'], dir);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toBe(
      [
        'qscale validate: unknown option --confgi (did you mean --config?)',
        'usage: qscale validate [--config FILE] [--schema-only] [--json]',
        '(qscale validate --help: every option, its default and examples)',
        '',
      ].join('\n'),
    );
    const command = await qscale(['valdiate'], dir);
    expect(command).toMatchObject({ code: 2, stdout: '' });
    expect(command.stderr).toBe(
      'qscale: unknown command "valdiate"; run qscale --help for the list\n',
    );
    const nothing = await qscale([], dir);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain('commands:');
    const extra = await qscale(['validate', 'a.yml'], dir);
    expect(extra).toMatchObject({ code: 2 });
    expect(extra.stderr).toContain('unexpected argument "a.yml"');
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
    expect(help.stdout).toMatch(/validate +check a configuration, and that qscaled can start it/);
    const commandHelp = await qscale(['validate', '--help'], dir);
    expect(commandHelp.stdout).toContain(
      'usage: qscale validate [--config FILE] [--schema-only] [--json]',
    );
    expect(commandHelp.stdout).toContain('(default: qscale.yml)');
    const version = await qscale(['--version'], dir);
    expect(version.stdout).toMatch(/^qscale \d+\.\d+\.\d+\n$/);
  });
});
