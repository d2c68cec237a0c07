import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuditError,
  type AuditedConfig,
  auditExitCode,
  baselineFrom,
  findSecrets,
  formatMarkdown,
  formatSarif,
  parseBaseline,
  parseManualAnswers,
  RULES,
  redactSecret,
  runAudit,
} from '../src/index.js';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'qscale-audit-report-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function tree(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(root, name);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

const job = (comment: string) => `<?php

namespace App\\Jobs;

use Illuminate\\Contracts\\Queue\\ShouldQueue;

class PruneImagesJob implements ShouldQueue
{
    public function handle(string $image): void
    {
        ${comment}
        exec("docker image rm $image");
    }
}
`;

/** The same command with a user-controlled operand: traced, critical. */
const controller = (comment: string) => `<?php

namespace App\\Http\\Controllers;

use Illuminate\\Http\\Request;

class ImagesController
{
    public function prune(Request $request): void
    {
        ${comment}
        exec('docker image rm ' . $request->input('image'));
    }
}
`;

describe('confidence', () => {
  it('a value of unknown origin is a review item: listed, not counted by failOn; a traced one is', async () => {
    const review = await runAudit({
      path: await tree('review-only', { 'app/Jobs/PruneImagesJob.php': job('') }),
    });
    const [item] = review.findings.filter((f) => f.ruleId === 'JOB-006');
    expect(item).toMatchObject({ severity: 'high', confidence: 'review', status: 'open' });
    expect(review.summary).toMatchObject({ critical: 0, high: 0, review: 1 });
    // Not failed: its manual review item stays open (a hypothesis without one is 'unknown').
    expect(review.hypotheses.find((h) => h.id === 'S1:JOB-006')).toMatchObject({
      status: 'manual',
      findings: 1,
    });
    const other = review.hypotheses.find((h) => h.id === 'S2:no-shell');
    expect(other?.status).not.toBe('fail');
    expect(other?.status).not.toBe('pass');
    expect(auditExitCode(review, { failOn: 'low' })).toBe(0);

    const traced = await runAudit({
      path: await tree('traced', {
        'app/Jobs/PruneImagesJob.php': job(''),
        'app/Http/Controllers/ImagesController.php': controller(''),
      }),
    });
    const hits = traced.findings.filter((f) => f.ruleId === 'JOB-006');
    expect(hits.map((f) => [f.location.path, f.severity, f.confidence])).toEqual([
      ['app/Http/Controllers/ImagesController.php', 'critical', 'traced'],
      ['app/Jobs/PruneImagesJob.php', 'high', 'review'],
    ]);
    expect(traced.summary).toMatchObject({ critical: 1, review: 1 });
    expect(traced.hypotheses.find((h) => h.id === 'S1:JOB-006')?.status).toBe('fail');
    expect(auditExitCode(traced)).toBe(1);
  });
});

describe('grouping', () => {
  const wrapperCall = (name: string) => `<?php
namespace App\\Jobs;
use Illuminate\\Contracts\\Queue\\ShouldQueue;
class ${name} implements ShouldQueue
{
    public function handle(): void
    {
        instant_remote_process(["docker rm {$this->container}"], $this->server);
    }
}
`;

  // The remote helper is recognised from its body (it runs its commands through Process::run).
  const remoteHelper = `<?php
use Illuminate\\Support\\Facades\\Process;
function instant_remote_process(array $commands, $server): string
{
    $script = implode("\\n", $commands);
    return Process::run("ssh deploy@host 'bash -se' <<'EOF'\\n{$script}\\nEOF")->output();
}
`;

  it('one rule into one sink function is one finding with its places; a baseline accepts each place', async () => {
    const files = Object.fromEntries(
      ['AJob', 'BJob', 'CJob'].map((n) => [`app/Jobs/${n}.php`, wrapperCall(n)]),
    );
    files['app/helpers.php'] = remoteHelper;
    const path = await tree('grouped', files);
    const report = await runAudit({ path });
    const grouped = report.findings.filter((f) => f.places.length > 0);
    expect(grouped).toHaveLength(1);
    const [group] = grouped;
    expect(group?.places.map((p) => p.location.path)).toEqual([
      'app/Jobs/AJob.php',
      'app/Jobs/BJob.php',
      'app/Jobs/CJob.php',
    ]);
    expect(group?.location.path).toBe('app/Jobs/AJob.php');
    expect(group?.message).toMatch(/; 2 more places with the same sink$/);
    expect(report.findings.filter((f) => f.ruleId === group?.ruleId)).toHaveLength(1);
    expect(formatMarkdown(report)).toContain(
      '- Places: app/Jobs/AJob.php:8, app/Jobs/BJob.php:8, app/Jobs/CJob.php:8',
    );
    const sarif = JSON.parse(formatSarif(report));
    const result = sarif.runs[0].results.find(
      (r: { ruleId: string }) => r.ruleId === group?.ruleId,
    );
    expect(result.relatedLocations).toHaveLength(2);

    const accepted = baselineFrom(report, 'reviewed: containers come from our own records');
    expect(accepted.findings.filter((f) => f.ruleId === group?.ruleId)).toHaveLength(3);
    // A fourth place is new: it alone is open again.
    const more = await tree('grouped', { 'app/Jobs/DJob.php': wrapperCall('DJob') });
    const again = await runAudit({ path: more, baseline: accepted });
    const open = again.findings.filter((f) => f.ruleId === group?.ruleId && f.status === 'open');
    expect(open.map((f) => [f.location.path, f.places.length])).toEqual([['app/Jobs/DJob.php', 0]]);
  });
});

describe('secrets in development data', () => {
  it("a seeder's or factory's credential is low; a live cloud key is critical wherever it is", async () => {
    const url = "'redis://admin:devpass123@redis.internal:6379'";
    const aws = `'AKIA${'Q'.repeat(16)}'`;
    const path = await tree('dev-secrets', {
      'database/seeders/ServerSeeder.php': `<?php\n$redis = ${url};\n`,
      'database/factories/KeyFactory.php': `<?php\n$key = ${aws};\n`,
      'app/Services/Redis.php': `<?php\n$redis = ${url};\n`,
    });
    const report = await runAudit({ path });
    const secrets = report.findings
      .filter((f) => f.ruleId === 'SEC-001')
      .map((f) => [f.location.path, f.severity]);
    expect(secrets).toEqual(
      expect.arrayContaining([
        ['database/seeders/ServerSeeder.php', 'low'],
        ['database/factories/KeyFactory.php', 'critical'],
        ['app/Services/Redis.php', 'high'],
      ]),
    );
  });
});

describe('a partial parse', () => {
  it('is never a pass: hypotheses its checks cover are unknown, progress counts the failure, exit 3', async () => {
    const path = await tree('partial-parse', {
      'app/Jobs/CleanJob.php': `<?php
namespace App\\Jobs;
use Illuminate\\Contracts\\Queue\\ShouldQueue;
class CleanJob implements ShouldQueue { public function handle(): void {} }
`,
      // PHP 8.4 drops the parentheses around \`new\`: parsed in full.
      'app/Support/Chain.php': '<?php\nreturn new Builder()->where("a")->first();\n',
      // A plain syntax error: the line is set aside, the file parses in part.
      'app/Support/Broken.php': '<?php\nfunction (\n',
      // Nesting deeper than the parser can follow: nothing of it is read.
      'app/Support/Deep.php': `<?php\n${'('.repeat(5000)}`,
    });
    const progress: { phase: string; done: number; total: number; failed?: number }[] = [];
    const report = await runAudit({ path, onProgress: (p) => progress.push(p) });
    const laravel = report.run.targets.find((t) => t.kind === 'laravel-src');
    expect(laravel?.status).toBe('partial');
    expect(laravel?.error).toBe(
      '1 PHP file(s) could not be parsed, 1 PHP file(s) parsed only in part',
    );
    expect(laravel?.unparsed).toBe(2);
    expect(report.notes.filter((n) => n.startsWith('not parsed: '))).toEqual([
      expect.stringMatching(/^not parsed: app\/Support\/Deep\.php: /),
    ]);
    expect(report.notes.filter((n) => n.startsWith('partly parsed: '))).toEqual([
      "partly parsed: app/Support/Broken.php: parsed in part, line 2: syntax error, expecting ')'",
    ]);
    expect(progress.filter((p) => p.phase === 'index').at(-1)).toMatchObject({
      done: 4,
      total: 4,
      failed: 2,
    });
    const sourceRules = new Set(RULES.filter((r) => r.target === 'laravel-src').map((r) => r.id));
    const touched = report.hypotheses.filter((h) => h.checks.some((id) => sourceRules.has(id)));
    expect(touched.length).toBeGreaterThan(0);
    for (const h of touched) expect(h.status, h.id).not.toBe('pass');
    expect(touched.some((h) => h.status === 'unknown')).toBe(true);
    expect(auditExitCode(report)).toBe(3);
    expect(auditExitCode(report, { allowPartial: true })).toBe(0);
  });

  it('a tree that parses completely passes what it passes and exits 0', async () => {
    const path = await tree('complete-parse', {
      'app/Jobs/CleanJob.php': `<?php
namespace App\\Jobs;
use Illuminate\\Contracts\\Queue\\ShouldQueue;
class CleanJob implements ShouldQueue { public function handle(): void {} }
`,
    });
    const report = await runAudit({ path });
    expect(report.run.targets.find((t) => t.kind === 'laravel-src')?.status).toBe('scanned');
    expect(report.hypotheses.some((h) => h.status === 'pass')).toBe(true);
    expect(report.hypotheses.some((h) => h.status === 'unknown')).toBe(false);
    expect(auditExitCode(report)).toBe(0);
  });
});

describe('suppressions', () => {
  it('an inline reason suppresses; a reasonless comment suppresses nothing and is itself reported (AUD-001)', async () => {
    const withReason = await runAudit({
      path: await tree('inline-ok', {
        'app/Jobs/PruneImagesJob.php': job(
          '// qscale-audit-ignore JOB-006: $image comes from a fixed list',
        ),
      }),
    });
    expect(
      withReason.findings
        .filter((f) => f.ruleId === 'JOB-006')
        .map((f) => [f.status, f.suppression?.reason]),
    ).toEqual([['suppressed', '$image comes from a fixed list']]);
    const bare = await runAudit({
      path: await tree('inline-bare', {
        'app/Jobs/PruneImagesJob.php': job('// qscale-audit-ignore JOB-006'),
      }),
    });
    expect(bare.findings.filter((f) => f.ruleId === 'JOB-006').map((f) => f.status)).toEqual([
      'open',
    ]);
    expect(bare.findings.filter((f) => f.ruleId === 'AUD-001').map((f) => f.location)).toEqual([
      { path: 'app/Jobs/PruneImagesJob.php', startLine: 11, startColumn: 1 },
    ]);
  });

  it('a baseline accepts findings by fingerprint; an entry without a reason is reported (AUD-002)', async () => {
    const path = await tree('baseline', {
      'app/Http/Controllers/ImagesController.php': controller(''),
    });
    const first = await runAudit({ path });
    expect(auditExitCode(first)).toBe(1);
    const accepted = baselineFrom(first, 'images are pruned from a constant list');
    const second = await runAudit({ path, baseline: accepted });
    expect(second.findings.find((f) => f.ruleId === 'JOB-006')).toMatchObject({
      status: 'baselined',
      suppression: { kind: 'baseline', reason: 'images are pruned from a constant list' },
    });
    expect(auditExitCode(second)).toBe(0);
    const reasonless = {
      version: 1 as const,
      findings: accepted.findings.map((f) => ({ ...f, reason: ' ' })),
    };
    const third = await runAudit({
      path,
      baseline: reasonless,
      baselinePath: 'audit-baseline.json',
    });
    expect(third.findings.find((f) => f.ruleId === 'JOB-006')?.status).toBe('open');
    expect(third.findings.filter((f) => f.ruleId === 'AUD-002')).toHaveLength(1);
  });

  it('a malformed baseline names the file, the entry and the field', () => {
    expect(() =>
      parseBaseline(
        '{"version":1,"findings":[{"fingerprint":"abc","ruleId":"JOB-006","reason":"x"}]}',
        'b.json',
      ),
    ).toThrow(
      new AuditError(
        'AUDIT_BASELINE_INVALID',
        'b.json: findings.0.fingerprint: expected sha256:<64 hex digits>',
      ),
    );
    expect(() => parseBaseline('nope', 'b.json')).toThrow(/^b\.json: not JSON/);
  });
});

describe('manual review answers', () => {
  it('a fresh answer closes the item; new evidence re-opens it', async () => {
    const path = await tree('manual', { 'app/Jobs/PruneImagesJob.php': job('') });
    const first = await runAudit({ path });
    const item = first.manual.find((m) => m.seed === 'S1:JOB-006');
    expect(item?.evidence).toEqual(['JOB-006 app/Jobs/PruneImagesJob.php:12']);
    expect(first.hypotheses.find((h) => h.id === 'S1:JOB-004')?.status).toBe('manual');
    const answers = parseManualAnswers(
      `version: 1\nanswers:\n  S1:JOB-004:\n    reviewer: dana\n    date: 2026-11-20\n    outcome: accepted-risk\n    notes: single-tenant\n    evidenceHash: "${first.manual.find((m) => m.seed === 'S1:JOB-004')?.evidenceHash}"\n  S1:JOB-006:\n    reviewer: dana\n    date: 2026-11-20\n    outcome: pass\n    evidenceHash: "sha256:${'0'.repeat(64)}"\n`,
      'audit-manual.yml',
    );
    const second = await runAudit({ path, manualAnswers: answers });
    const job004 = second.manual.find((m) => m.seed === 'S1:JOB-004');
    expect(job004).toMatchObject({
      answer: { reviewer: 'dana', outcome: 'accepted-risk' },
      stale: false,
    });
    expect(second.hypotheses.find((h) => h.id === 'S1:JOB-004')?.status).toBe('pass');
    expect(second.manual.find((m) => m.seed === 'S1:JOB-006')).toMatchObject({
      answer: null,
      stale: true,
    });
    expect(formatMarkdown(second)).toContain('(answered 2026-11-20) | none found |');
    expect(second.summary.manual).toBe(first.summary.manual - 1);
    expect(auditExitCode(second, { failOn: 'none', failOnManual: true })).toBe(1);
  });

  it('a malformed answers file names the seed and the field', () => {
    expect(() =>
      parseManualAnswers(
        'version: 1\nanswers:\n  S1:JOB-004:\n    reviewer: dana\n    date: soon\n    outcome: pass\n    evidenceHash: x\n',
        'm.yml',
      ),
    ).toThrow('m.yml: answers.S1:JOB-004.date: expected a date like 2026-11-22');
  });
});

describe('redaction', () => {
  it('shows 4 characters, the length and a sha256 prefix, never the value', () => {
    expect(redactSecret(['sk', 'live', '1234567890abcdef'].join('_'))).toMatch(
      /^sk_l… \(24 chars, sha256:[0-9a-f]{12}\)$/,
    );
    expect(
      findSecrets(`REDIS_URL=redis://app:${'hunter2hunter2'}@10.1.2.3:6379`).map(
        (s) => s.patternId,
      ),
    ).toEqual(['url-credentials']);
    expect(findSecrets('redis://user:pass@host and redis://app:${REDIS_PASSWORD}@host')).toEqual(
      [],
    );
  });
});

describe('evidence', () => {
  it('a literal password on a command line is redacted in the evidence and every format', async () => {
    const password = ['Hunter2', 'Literal', 'Pw'].join('');
    const path = await tree('argv-password', {
      'app/Jobs/DumpJob.php': `<?php\nnamespace App\\Jobs;\nclass DumpJob\n{\n    public function handle(): void\n    {\n        exec('mysqldump -u root -p${password} app > /backups/app.sql');\n    }\n}\n`,
    });
    const report = await runAudit({ path });
    const [hit] = report.findings.filter((f) => f.ruleId === 'JOB-015C');
    expect(hit?.evidence).toMatch(/-p\[Hunt… \(16 chars, sha256:[0-9a-f]{12}\)\] app/);
    for (const text of [JSON.stringify(report), formatMarkdown(report), formatSarif(report)]) {
      expect(text).not.toContain(password);
    }
  });
});

const config = (overrides: Partial<AuditedConfig> = {}): AuditedConfig => ({
  redis: { url: 'redis://10.0.0.9:6379', username: null, password: null, tls: null },
  http: { enabled: true, host: '0.0.0.0', port: 9730, token: null },
  limits: { maxWorkers: 64 },
  supervision: { refuseRoot: false },
  queues: [
    {
      name: 'emails',
      driver: 'laravel',
      backendName: '-oProxyCommand=id',
      redis: { url: 'redis://10.0.0.9:6379', username: null, password: null, tls: null },
      workers: { min: 0, max: 10 },
      command: ['php', 'artisan', 'queue:work', '--tries=0'],
      env: {},
      user: null,
      stop: { graceMs: 30_000 },
      recycle: { maxRssBytes: null, maxLifetimeMs: null },
      scaling: { cooldownMs: 0 },
    },
  ],
  ...overrides,
});

describe('autoscaler-config rules', () => {
  it('flag an exposed API, root workers, remote Redis without auth/TLS, bad names and short grace', async () => {
    const report = await runAudit({ config: config(), configPath: 'qscale.yml', hostCores: 2 });
    expect(report.findings.map((f) => `${f.ruleId} ${f.message}`).sort()).toEqual([
      'AUT-001 limits.maxWorkers 64 is above 16 (2 cores × 8)',
      'AUT-001 queue emails: scaling cooldown 0 lets a burst flap workers up and down',
      'AUT-002 queue emails: stop grace 30s is shorter than the job timeout 60s (queue:work default); --tries=0 retries failing jobs forever; no --memory and no recycle.memory: a leaking worker is never restarted',
      'AUT-003 queue emails: "-oProxyCommand=id" may be read as options or split into several arguments',
      'CFG-001 the status API listens on 0.0.0.0:9730 without a bearer token',
      'CFG-002 queues emails have no user and supervision.refuseRoot is off',
      'CFG-003 redis: Redis at 10.0.0.9 without a password',
      'CFG-004 redis: Redis at 10.0.0.9 in plaintext',
      'CFG-005 queue emails: workers are never recycled',
    ]);
  });

  it('a hardened config has no finding', async () => {
    const hardened = config({
      redis: { url: 'rediss://qscale:pw@10.0.0.9:6380', username: null, password: null, tls: null },
      http: { enabled: true, host: '127.0.0.1', port: 9730, token: null },
      limits: { maxWorkers: 12 },
      supervision: { refuseRoot: true },
    });
    const [queue] = hardened.queues;
    const report = await runAudit({
      config: {
        ...hardened,
        queues: [
          {
            ...queue,
            backendName: 'emails',
            redis: hardened.redis,
            user: 'app',
            command: ['php', 'artisan', 'queue:work', '--timeout=50', '--tries=3', '--memory=256'],
            stop: { graceMs: 70_000 },
            scaling: { cooldownMs: 10_000 },
          },
        ],
      },
      hostCores: 2,
    });
    expect(report.findings).toEqual([]);
  });

  it('a config object of the wrong shape is an error naming the fields', async () => {
    await expect(runAudit({ config: { queues: 'x' }, configPath: 'broken.yml' })).rejects.toThrow(
      /^broken\.yml: not a resolved qscale configuration \(redis: .*queues: /,
    );
  });
});

describe('report formats', () => {
  it('markdown follows the plan after a plain summary: scope, hypotheses, findings by hypothesis, manual review, fixes, notes', async () => {
    const report = await runAudit({
      path: await tree('md', {
        'app/Jobs/PruneImagesJob.php': job(''),
        'app/Http/Controllers/ImagesController.php': controller(''),
      }),
    });
    const text = formatMarkdown(report);
    const headings = text.split('\n').filter((l) => /^##? /.test(l) || /^### /.test(l));
    expect(headings.slice(1)).toEqual([
      '## Summary',
      '## Scope',
      '## Hypotheses',
      '## Findings',
      '### S1:JOB-006 Deployment commands are built safely — 1 finding',
      '### Review items (origin unknown)',
      '## Manual review required',
      '## Fixes',
      '## Auditor notes',
    ]);
    expect(text).toContain('| S1:JOB-006 | Deployment commands are built safely | fail |');
    expect(text).toMatch(
      /\| F-001 \| \[JOB-006\] \$request->input\(…\) \(user-controlled\) interpolated unescaped into a command run by exec \| open \|/,
    );
    const review = text.slice(text.indexOf('### Review items (origin unknown)'));
    expect(review.slice(0, review.indexOf('## Manual review'))).toContain(
      '$image (origin unknown) interpolated unescaped into a command run by exec',
    );
    // The summary says what to fix first and what only needs reading, before any detail.
    const summary = text.slice(text.indexOf('## Summary'), text.indexOf('## Scope'));
    expect(summary).toContain('- **1 finding to fix**: 1 critical.');
    expect(summary).toMatch(
      /- Fix first:\n {2}- F-001 critical: .* \(JOB-006\) — app\/Http\/Controllers\/ImagesController\.php:\d+/,
    );
    expect(summary).toContain('- 1 review item: a value of unknown origin reaches a sink');
    expect(summary).not.toContain('incomplete');
    // The fixes table lists what to fix; the review items are one line.
    expect(text).toContain(
      '| — | 1 review item (origin unknown), listed under Findings | to read |  |',
    );
  });

  it('the summary says when the scan is incomplete and when there is nothing to fix', async () => {
    const path = await tree('md-partial', {
      'app/Jobs/PruneImagesJob.php': '<?php\nnamespace App\\Jobs;\nreturn $x = (;\n',
    });
    const text = formatMarkdown(await runAudit({ path }));
    const summary = text.slice(text.indexOf('## Summary'), text.indexOf('## Scope'));
    expect(summary).toContain('- **Nothing to fix** with a traced path from untrusted input.');
    expect(summary).toMatch(/- \*\*The scan is incomplete\*\*: laravel-src .* partial/);
  });

  it('SARIF 2.1.0 as GitHub reads it: rules, ruleIndex, levels, security-severity, fingerprints; runtime only on request', async () => {
    const report = await runAudit({
      path: await tree('sarif', {
        'app/Jobs/PruneImagesJob.php': job(''),
        'app/Http/Controllers/ImagesController.php': controller(''),
      }),
      config: config(),
      hostCores: 2,
    });
    const sarif = JSON.parse(formatSarif(report));
    expect(sarif.version).toBe('2.1.0');
    expect(sarif.$schema).toBe('https://json.schemastore.org/sarif-2.1.0.json');
    expect(sarif.runs).toHaveLength(1);
    const [run] = sarif.runs;
    expect(run.automationDetails).toEqual({ id: 'audit-rules/source/' });
    expect(run.tool.driver.rules).toHaveLength(RULES.length + 2);
    for (const rule of run.tool.driver.rules) {
      expect(rule.shortDescription.text.length).toBeLessThanOrEqual(1024);
      expect(rule.help.text.length).toBeGreaterThan(0);
      expect(Number(rule.properties['security-severity'])).not.toBe(9);
    }
    expect(run.results).toHaveLength(2);
    const [result, review] = run.results;
    expect(run.tool.driver.rules[result.ruleIndex].id).toBe(result.ruleId);
    expect(result).toMatchObject({
      ruleId: 'JOB-006',
      level: 'error',
      locations: [
        {
          physicalLocation: {
            artifactLocation: { uri: 'app/Http/Controllers/ImagesController.php' },
            region: { startLine: 12 },
          },
        },
      ],
      properties: { 'security-severity': '9.5', confidence: 'traced' },
    });
    // A review item is a note without a security-severity: code scanning lists it, ranks it low.
    expect(review).toMatchObject({
      ruleId: 'JOB-006',
      level: 'note',
      locations: [
        { physicalLocation: { artifactLocation: { uri: 'app/Jobs/PruneImagesJob.php' } } },
      ],
      properties: { confidence: 'review' },
    });
    expect(review.properties['security-severity']).toBeUndefined();
    expect(result.partialFingerprints.primaryLocationLineHash).toMatch(/^[0-9a-f]{32}$/);
    const withRuntime = JSON.parse(formatSarif(report, { includeRuntime: true }));
    expect(
      withRuntime.runs.map((r: { automationDetails: { id: string } }) => r.automationDetails.id),
    ).toEqual(['audit-rules/source/', 'audit-rules/runtime/']);
    expect(withRuntime.runs[1].results.length).toBe(
      report.findings.filter((f) => f.target === 'autoscaler-config').length,
    );
  });

  it('every rule has an id, a title, covers at least one seed and says how to fix', () => {
    const ids = RULES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(RULES.length).toBeGreaterThanOrEqual(40);
    for (const rule of RULES) {
      expect(rule.covers.length).toBeGreaterThan(0);
      expect(rule.fix.length).toBeGreaterThan(10);
    }
  });

  it('bad options are errors that name the option', async () => {
    await expect(runAudit({ path: join(root, 'does-not-exist') })).rejects.toThrow(
      /: no such directory$/,
    );
    await expect(runAudit({ config: config(), sampleKeys: 0 })).rejects.toThrow(
      'option sampleKeys: expected a whole number >= 1, got 0',
    );
    await expect(runAudit({ redis: { url: 'http://127.0.0.1:6379' } })).rejects.toThrow(
      /unsupported scheme http:/,
    );
    await expect(runAudit({ config: config(), disable: ['JOB-999'] })).rejects.toThrow(
      /^unknown rule id "JOB-999"; expected one of AUT-001, /,
    );
  });
});
