import { execFileSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { type AuditReport, type Finding, runAudit } from '../src/index.js';

const PAIRS = fileURLToPath(new URL('./fixtures/pairs/', import.meta.url));
const made: string[] = [];

/** Copies one side of a pair to a fresh directory (optionally a git repo) and audits it. */
async function audit(
  pair: string,
  side: 'vulnerable' | 'fixed',
  git = false,
): Promise<AuditReport> {
  const dir = await mkdtemp(join(tmpdir(), `qscale-audit-${pair}-`));
  made.push(dir);
  await cp(join(PAIRS, pair, side), dir, { recursive: true });
  if (git) {
    execFileSync('git', ['init', '-q'], { cwd: dir });
    execFileSync('git', ['add', '--', '.'], { cwd: dir });
  }
  return runAudit({ path: dir, hostCores: 2 });
}

const open = (report: AuditReport, ruleId: string): Finding[] =>
  report.findings.filter((f) => f.ruleId === ruleId && f.status === 'open');

afterAll(async () => {
  await Promise.all(made.map((dir) => rm(dir, { recursive: true, force: true })));
});

// Each row: the fixture pair (catalogue §3 R1-R16 plus pairs for the other rules), the rule that
// must fire on the vulnerable side and stay silent on the fixed side, and the severity expected.
const pairs: [pair: string, ruleId: string, severity: string][] = [
  ['r01-job015-backup-dbname', 'JOB-015', 'critical'],
  ['r02-job016-s3-secret', 'JOB-006Q', 'critical'],
  ['r03-job002-slack-webhook', 'JOB-002', 'high'],
  ['r04-job019-container-names', 'JOB-019', 'critical'],
  ['r05-job010-rollback-ref', 'JOB-010', 'high'],
  ['r06-job011-ssh-user-host', 'JOB-011', 'critical'],
  ['r07-job006q-scheduled-task-quotes', 'JOB-006Q', 'critical'],
  ['r08-job006q-sentinel-env', 'JOB-006Q', 'critical'],
  ['r09-job014-package-name', 'JOB-014', 'high'],
  ['r10-job022-redis-no-password', 'JOB-022', 'high'],
  ['r11-hzn002-horizon-memory-zero', 'HZN-002', 'medium'],
  ['r13-job026-cron-from-input', 'JOB-026', 'medium'],
  ['r14-node001-exec-job-data', 'NODE-001', 'critical'],
  ['r15-job013-curl-pipe-sh', 'JOB-013', 'medium'],
  ['r16-job001-raw-request', 'JOB-001', 'medium'],
  ['r17-node002-shell-true', 'NODE-002', 'high'],
  ['r18-node003-bullmq-defaults', 'NODE-003', 'medium'],
  ['r19-node004-secret-in-job-data', 'NODE-004', 'high'],
  ['r20-job015c-password-in-argv', 'JOB-015C', 'medium'],
  ['r21-hzn001-horizon-gate', 'HZN-001', 'high'],
  ['r22-job007h-host-key-checking', 'JOB-007H', 'medium'],
  ['r23-job005-exception-leaks', 'JOB-005', 'medium'],
  ['r24-job024-unbounded-retries', 'JOB-024', 'medium'],
  ['r25-que002-cache-shares-queue-db', 'QUE-002', 'medium'],
  ['r26-job002m-model-without-serializesmodels', 'JOB-002M', 'medium'],
  ['r28-job004-auth-in-handle', 'JOB-004', 'medium'],
  ['r29-job028-policy-returns-true', 'JOB-028', 'high'],
  ['r30-job008-dockerfile-secret-arg', 'JOB-008', 'high'],
  ['r31-job020-compose-docker-socket', 'JOB-020', 'high'],
  ['r32-job007-git-token-in-url', 'JOB-007', 'medium'],
  ['r33-job009-unredacted-command-log', 'JOB-009', 'medium'],
  ['r34-job017-unguarded-restore', 'JOB-017', 'medium'],
  ['r35-job018-key-file-left-behind', 'JOB-018', 'medium'],
  ['r36-job027-schedule-exec', 'JOB-027', 'critical'],
  ['r37-que001-redis-without-tls', 'QUE-001', 'medium'],
  ['r38-que003-app-key', 'QUE-003', 'critical'],
  ['r39-que004-retry-after-below-timeout', 'QUE-004', 'medium'],
  ['r40-job003-file-in-payload', 'JOB-003', 'low'],
  ['r41-job025-no-failed-handler', 'JOB-025', 'medium'],
  ['r42-sec001n-redis-url-in-source', 'SEC-001N', 'high'],
  ['r43-job021-docker-run-without-limits', 'JOB-021', 'low'],
  ['r44-hzn003-long-retention', 'HZN-003', 'low'],
  ['r45-job029-guzzle-and-guard-in-own-class', 'JOB-029', 'high'],
  ['r46-job002-model-held-as-id', 'JOB-002', 'high'],
];

describe('vulnerable/fixed fixture pairs', () => {
  it.each(pairs)('%s: %s fires on the vulnerable side only', async (pair, ruleId, severity) => {
    const vulnerable = await audit(pair, 'vulnerable');
    const fixed = await audit(pair, 'fixed');
    const hits = open(vulnerable, ruleId);
    expect(hits.length).toBeGreaterThan(0);
    expect(hits.map((f) => f.severity)).toContain(severity);
    expect(hits.every((f) => f.location.path && f.location.startLine)).toBe(true);
    expect(open(fixed, ruleId)).toEqual([]);
  });

  it('SEC-001: a committed .env.production with a webhook and a password is reported, redacted', async () => {
    const vulnerable = await audit('r27-sec001-committed-env', 'vulnerable', true);
    const fixed = await audit('r27-sec001-committed-env', 'fixed', true);
    const messages = open(vulnerable, 'SEC-001').map((f) => f.message);
    expect(messages).toEqual(
      expect.arrayContaining([
        '.env.production is committed to git: every secret in it is in the history',
        expect.stringMatching(
          /^REDIS_PASSWORD has a literal value in a committed env file: 9f2c… \(24 chars, sha256:[0-9a-f]{12}\)$/,
        ),
        expect.stringMatching(/^SLACK_WEBHOOK_URL has a literal value/),
      ]),
    );
    const text = JSON.stringify(vulnerable);
    expect(text).not.toContain('9f2c7e1b4a6d8e0f3c5b7a9d');
    expect(text).not.toContain('Zq8vN3kL5pR7tY9wX2cV4bM6');
    expect(open(fixed, 'SEC-001')).toEqual([]);
  });
});

describe('what the pairs pin down beyond the rule id', () => {
  it('JOB-029: a Guzzle request() and a request in a method of its own are reported; a check in the caller or in its own class silences both', async () => {
    const vulnerable = await audit('r45-job029-guzzle-and-guard-in-own-class', 'vulnerable');
    const fixed = await audit('r45-job029-guzzle-and-guard-in-own-class', 'fixed');
    expect(
      open(vulnerable, 'JOB-029')
        .map((f) => f.location.path)
        .sort(),
    ).toEqual(['app/Jobs/DeliverHookJob.php', 'app/Jobs/NotifyUrlJob.php']);
    expect(open(fixed, 'JOB-029')).toEqual([]);
  });
  it("SEC-001: a committed .env.staging is reported; the CI run's .ci/.env.ci is a template", async () => {
    const committed = await audit('r48-sec001-ci-env', 'vulnerable', true);
    const ci = await audit('r48-sec001-ci-env', 'fixed', true);
    expect(open(committed, 'SEC-001').map((f) => f.message)).toEqual(
      expect.arrayContaining([
        '.env.staging is committed to git: every secret in it is in the history',
        expect.stringMatching(/^DB_PASSWORD has a literal value in a committed env file/),
      ]),
    );
    expect(open(ci, 'SEC-001')).toEqual([]);
  });
  it('SEC-001: a credential URL is high; one whose password is its user name is a low development default', async () => {
    const real = await audit('r47-sec001-user-name-as-password', 'vulnerable', true);
    const defaults = await audit('r47-sec001-user-name-as-password', 'fixed', true);
    expect(open(real, 'SEC-001').map((f) => f.severity)).toEqual(['high']);
    const [low, ...rest] = open(defaults, 'SEC-001');
    expect(rest).toEqual([]);
    expect(low?.severity).toBe('low');
    expect(low?.message).toMatch(
      /^url-credentials found in a committed file: .*the user name as its password/,
    );
    expect(JSON.stringify(defaults)).not.toContain('app-test@');
  });

  it('R1: the user-editable database name is named in the message, and the escaped form is silent on every command rule', async () => {
    const vulnerable = await audit('r01-job015-backup-dbname', 'vulnerable');
    const [hit] = open(vulnerable, 'JOB-015');
    expect(hit?.message).toContain('$db->postgres_user (user-controlled)');
    expect(hit?.location).toMatchObject({ path: 'app/Jobs/DatabaseBackupJob.php' });
    const fixed = await audit('r01-job015-backup-dbname', 'fixed');
    const commandRules = [
      'JOB-006',
      'JOB-006Q',
      'JOB-010',
      'JOB-011',
      'JOB-014',
      'JOB-015',
      'JOB-019',
    ];
    expect(fixed.findings.filter((f) => commandRules.includes(f.ruleId))).toEqual([]);
  });

  it('R2: escaping the S3 secret leaves JOB-016 at medium (credentials still in argv); {$uuid} never fires', async () => {
    const vulnerable = await audit('r02-job016-s3-secret', 'vulnerable');
    const fixed = await audit('r02-job016-s3-secret', 'fixed');
    expect(open(vulnerable, 'JOB-016').map((f) => f.severity)).toEqual(['critical']);
    expect(open(vulnerable, 'JOB-016')[0]?.message).not.toContain('$uuid');
    expect(open(fixed, 'JOB-016').map((f) => f.severity)).toEqual(['medium']);
  });

  it('R3: a private promoted property still fires; an int *Id and $shouldBeEncrypted do not', async () => {
    const vulnerable = await audit('r03-job002-slack-webhook', 'vulnerable');
    expect(open(vulnerable, 'JOB-002')[0]?.message).toBe(
      'SendMessageToSlackJob::$webhookUrl (private) is serialized into the queue payload in plaintext',
    );
    const fixed = await audit('r03-job002-slack-webhook', 'fixed');
    expect(fixed.findings.filter((f) => f.ruleId === 'JOB-002')).toEqual([]);
  });

  it('R4: $containerName from docker ps output is a medium review item, the user-named volume is critical', async () => {
    const report = await audit('r04-job019-container-names', 'vulnerable');
    const bySeverity = Object.fromEntries(
      open(report, 'JOB-019').map((f) => [f.severity, f.message]),
    );
    expect(bySeverity.medium).toContain('$containerName');
    expect(bySeverity.critical).toContain('$storage->name');
  });

  it('R8: the fixed Sentinel still mounts docker.sock, and the inline reason suppresses JOB-020', async () => {
    const fixed = await audit('r08-job006q-sentinel-env', 'fixed');
    const sentinel = fixed.findings.filter((f) => f.ruleId === 'JOB-020');
    expect(sentinel).toHaveLength(1);
    expect(sentinel[0]).toMatchObject({
      status: 'suppressed',
      suppression: {
        kind: 'inline',
        reason: 'monitoring agent, needs the docker socket and the host PID namespace',
      },
    });
    expect(fixed.summary.suppressed).toBe(1);
  });

  it('R11: Horizon memory 0 on Laravel 12 says the memory check is disabled', async () => {
    const report = await audit('r11-hzn002-horizon-memory-zero', 'vulnerable');
    const messages = open(report, 'HZN-002').map((f) => f.message);
    expect(messages).toContain(
      'Horizon defaults.supervisor-1: memory 0 disables the worker memory check (Laravel >= 12): leaks grow unbounded',
    );
    expect(messages).toContain(
      'Horizon defaults.supervisor-1: tries 0 retries failing jobs forever',
    );
  });

  it('R14: exec on job data is critical, and the fixed worker uses execFile without findings', async () => {
    const report = await audit('r14-node001-exec-job-data', 'vulnerable');
    expect(open(report, 'NODE-001')[0]?.message).toBe(
      'exec() runs a shell on a command built at run time from job or request data',
    );
  });

  it('a fingerprint survives the finding moving to another line', async () => {
    const report = await audit('r09-job014-package-name', 'vulnerable');
    const dir = made.at(-1) as string;
    const file = join(dir, 'app/Actions/Server/UpdatePackage.php');
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace('<?php\n', '<?php\n\n// moved down by two lines\n'));
    const moved = await runAudit({ path: dir, hostCores: 2 });
    const [before] = open(report, 'JOB-014');
    const [after] = open(moved, 'JOB-014');
    expect(after?.location.startLine).toBe((before?.location.startLine ?? 0) + 2);
    expect(after?.fingerprint).toBe(before?.fingerprint);
  });

  it('fingerprints are stable across runs and independent of the directory the tree sits in', async () => {
    const first = await audit('r04-job019-container-names', 'vulnerable');
    const second = await audit('r04-job019-container-names', 'vulnerable');
    expect(first.findings.map((f) => f.fingerprint)).toEqual(
      second.findings.map((f) => f.fingerprint),
    );
    expect(new Set(first.findings.map((f) => f.fingerprint)).size).toBe(first.findings.length);
  });
});
