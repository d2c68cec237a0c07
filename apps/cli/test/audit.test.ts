import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@qscale/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const PAIRS = join(REPO, 'packages/audit-rules/test/fixtures/pairs');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

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

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qscale-cli-audit-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function fixture(pair: string, side: 'vulnerable' | 'fixed'): Promise<string> {
  const target = join(dir, `${pair}-${side}`);
  await cp(join(PAIRS, pair, side), target, { recursive: true });
  return target;
}

describe('qscale audit', () => {
  it('on the qscale repository itself: no high or critical finding, exit 0', async () => {
    const run = await qscale(['audit', '--path', '.', '--format', 'json'], REPO);
    const report = JSON.parse(run.stdout);
    const serious = report.findings.filter(
      (f: { status: string; severity: string }) =>
        f.status === 'open' && (f.severity === 'critical' || f.severity === 'high'),
    );
    expect(serious).toEqual([]);
    expect(report.run.targets).toContainEqual({ kind: 'node-src', ref: '.', status: 'scanned' });
    expect(report.scope.nodeFiles).toBeGreaterThan(50);
    expect(run.code).toBe(0);
  });

  it('--remote-sink names a command wrapper the project does not define (a vendor helper)', async () => {
    const path = await fixture('r07-job006q-scheduled-task-quotes', 'vulnerable');
    // Without the helper's body the call is opaque: nothing to trace, nothing reported.
    await rm(join(path, 'app/helpers.php'));
    const ruleIds = (run: Run) =>
      JSON.parse(run.stdout).findings.map((f: { ruleId: string }) => f.ruleId);
    const opaque = await qscale(['audit', '--path', path, '--format', 'json'], dir);
    expect(ruleIds(opaque)).not.toContain('JOB-006');
    const named = await qscale(
      ['audit', '--path', path, '--format', 'json', '--remote-sink', 'instant_remote_process'],
      dir,
    );
    expect(ruleIds(named)).toContain('JOB-006');
    expect(named.code).toBe(1);
  });

  it('a vulnerable tree exits 1 at --fail-on high and 0 at --fail-on critical', async () => {
    const path = await fixture('r03-job002-slack-webhook', 'vulnerable');
    const high = await qscale(['audit', '--path', path], dir);
    expect(high.code).toBe(1);
    expect(high.stdout).toContain(
      '[JOB-002] Secret-bearing job state serialized in plaintext — app/Jobs/SendMessageToSlackJob.php:17',
    );
    const critical = await qscale(['audit', '--path', path, '--fail-on', 'critical'], dir);
    expect(critical.code).toBe(0);
  });

  it('writes SARIF to --output and prints a one-line summary', async () => {
    const path = await fixture('r01-job015-backup-dbname', 'vulnerable');
    const output = join(dir, 'audit.sarif');
    const run = await qscale(
      ['audit', '--path', path, '--format', 'sarif', '--output', output],
      dir,
    );
    expect(run.stdout).toBe(
      `${output}: 1 critical, 0 high, 0 medium, 0 low, 0 to review (origin unknown), 0 suppressed\n`,
    );
    const sarif = JSON.parse(await readFile(output, 'utf8'));
    expect(sarif.runs[0].results.map((r: { ruleId: string }) => r.ruleId)).toEqual(['JOB-015']);
    expect(run.code).toBe(1);
  });

  it('--write-baseline then --baseline accepts the current findings', async () => {
    const path = await fixture('r01-job015-backup-dbname', 'vulnerable');
    const baseline = join(dir, 'baseline.json');
    const first = await qscale(['audit', '--path', path, '--write-baseline', baseline], dir);
    expect(first.code).toBe(1);
    expect(first.stderr).toContain(`wrote 1 finding to ${baseline}`);
    const second = await qscale(
      ['audit', '--path', path, '--baseline', baseline, '--format', 'json'],
      dir,
    );
    expect(JSON.parse(second.stdout).summary).toMatchObject({ critical: 0, suppressed: 1 });
    expect(second.code).toBe(0);
  });

  it('a command of unknown origin is a review item: reported, exit 0 at any --fail-on', async () => {
    const path = await fixture('r09-job014-package-name', 'vulnerable');
    const run = await qscale(
      ['audit', '--path', path, '--format', 'json', '--fail-on', 'low'],
      dir,
    );
    expect(JSON.parse(run.stdout).summary).toMatchObject({ high: 0, review: 1 });
    expect(run.code).toBe(0);
  });

  it('audits a qscale config file loaded by the daemon', async () => {
    const file = join(dir, 'qscale.yml');
    await writeFile(
      file,
      'http: { host: 0.0.0.0 }\nlimits: { maxWorkers: 8 }\nsupervision: { refuseRoot: true }\nqueues:\n  emails:\n    driver: bullmq\n    command: [node, worker.js]\n    user: app\n    recycle: { memory: 512MB }\n',
    );
    const run = await qscale(['audit', '--config', file, '--format', 'json'], dir);
    const report = JSON.parse(run.stdout);
    expect(report.findings.map((f: { ruleId: string }) => f.ruleId)).toEqual(['CFG-001']);
    expect(run.code).toBe(1);
  });

  it('usage and config errors exit 2 with a message naming the problem', async () => {
    const none = await qscale(['audit'], dir);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(
      'nothing to audit: give at least one of --config, --redis, --path, --host',
    );
    const format = await qscale(['audit', '--path', '.', '--format', 'xml'], dir);
    expect(format.code).toBe(2);
    expect(format.stderr).toContain('--format xml: expected one of markdown, json, sarif');
    const missing = await qscale(['audit', '--path', join(dir, 'nope')], dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no such directory');
    const badConfig = join(dir, 'bad.yml');
    await writeFile(badConfig, 'queues:\n  emails:\n    driver: kafka\n');
    const config = await qscale(['audit', '--config', badConfig], dir);
    expect(config.code).toBe(2);
    expect(config.stderr).toContain('queues.emails.driver');
  });

  it('an unreachable Redis is exit 3 (scan incomplete), or 0 with --allow-partial', async () => {
    const port = await freePort();
    const url = `redis://:hunter2-not-shown@127.0.0.1:${port}`;
    const run = await qscale(['audit', '--redis', url, '--format', 'json'], dir);
    expect(run.code).toBe(3);
    expect(run.stdout).not.toContain('hunter2-not-shown');
    expect(JSON.parse(run.stdout).run.targets[0]).toMatchObject({
      kind: 'redis',
      ref: `redis://***@127.0.0.1:${port}`,
      status: 'unreachable',
    });
    const partial = await qscale(['audit', '--redis', url, '--allow-partial'], dir);
    expect(partial.code).toBe(0);
  });

  it('prints progress lines on stderr while parsing a large tree', async () => {
    const path = join(dir, 'large');
    await mkdir(join(path, 'app/Jobs'), { recursive: true });
    for (let i = 0; i < 220; i++) {
      await writeFile(
        join(path, `app/Jobs/Job${i}.php`),
        `<?php\nnamespace App\\Jobs;\nclass Job${i} {}\n`,
      );
    }
    const run = await qscale(['audit', '--path', path], dir);
    expect(run.stderr.split('\n').filter((l) => l.startsWith('scanning: '))).toEqual([
      'scanning: 25/220 PHP files read, 25 parsed',
      'scanning: 75/220 PHP files read, 75 parsed',
      'scanning: 125/220 PHP files read, 125 parsed',
      'scanning: 175/220 PHP files read, 175 parsed',
      'scanning: 220/220 PHP files read, 220 parsed',
    ]);
    expect(run.code).toBe(0);

    // One file with a syntax error (PHP 8.4's `new Builder()->first()` parses): said, and the scan is incomplete.
    await writeFile(join(path, 'app/Jobs/Chain.php'), '<?php\nreturn new Builder()->first(;\n');
    const partial = await qscale(['audit', '--path', path], dir);
    expect(partial.stderr).toContain(
      'scanning: 221/221 PHP files read, 220 parsed, 1 could not be parsed in full',
    );
    expect(partial.code).toBe(3);
  });
});
