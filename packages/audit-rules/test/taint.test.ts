import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { type AuditReport, type Finding, runAudit } from '../src/index.js';

// The project-wide taint (issue 13): each pair differs only in what the analysis must see
// across functions, methods, classes or entry points. Every vulnerable side expects a traced
// finding that a function-local analysis cannot produce (it would say "origin unknown", a
// review item), and every fixed side expects silence where the local analysis would leave a
// review item: removing the capability fails one side or the other.

const FIXTURES = fileURLToPath(new URL('./fixtures/taint/', import.meta.url));
const made: string[] = [];

async function audit(pair: string, side: 'vulnerable' | 'fixed'): Promise<AuditReport> {
  const dir = await mkdtemp(join(tmpdir(), `qscale-taint-${pair}-`));
  made.push(dir);
  await cp(join(FIXTURES, pair, side), dir, { recursive: true });
  return runAudit({ path: dir, hostCores: 2 });
}

afterAll(async () => {
  await Promise.all(made.map((dir) => rm(dir, { recursive: true, force: true })));
});

const open = (report: AuditReport, ruleIds: readonly string[]): Finding[] =>
  report.findings.filter((f) => ruleIds.includes(f.ruleId) && f.status === 'open');
const COMMAND_RULES = ['JOB-006', 'JOB-006Q', 'JOB-010', 'JOB-011', 'JOB-019'];

interface Case {
  pair: string;
  rules: readonly string[];
  /** What the vulnerable side reports: rule, severity, confidence, a phrase of the message. */
  vulnerable: { ruleId: string; severity: string; confidence: string; says: RegExp };
  /** The fixed side: no finding of `rules` at all, or none traced (a review item may stay). */
  fixed: 'silent' | 'untraced';
}

const cases: Case[] = [
  {
    pair: 't01-wrapper-executes-its-argument',
    rules: COMMAND_RULES,
    vulnerable: { ruleId: 'JOB-006', severity: 'critical', confidence: 'traced', says: /run_step/ },
    fixed: 'silent',
  },
  {
    pair: 't02-escaper-recognised-from-its-body',
    rules: COMMAND_RULES,
    vulnerable: {
      ruleId: 'JOB-019',
      severity: 'critical',
      confidence: 'traced',
      says: /container/,
    },
    fixed: 'silent',
  },
  {
    pair: 't03-command-built-in-another-method',
    rules: COMMAND_RULES,
    vulnerable: { ruleId: 'JOB-010', severity: 'critical', confidence: 'traced', says: /branch/ },
    fixed: 'silent',
  },
  {
    pair: 't04-livewire-unlocked-property',
    rules: COMMAND_RULES,
    vulnerable: { ruleId: 'JOB-006', severity: 'critical', confidence: 'traced', says: /image/ },
    fixed: 'untraced',
  },
  {
    pair: 't05-livewire-method-parameter',
    rules: COMMAND_RULES,
    vulnerable: {
      ruleId: 'JOB-019',
      severity: 'critical',
      confidence: 'traced',
      says: /container/,
    },
    fixed: 'silent',
  },
  {
    pair: 't06-accessor-strips-unsafe-characters',
    rules: COMMAND_RULES,
    vulnerable: { ruleId: 'JOB-011', severity: 'critical', confidence: 'traced', says: /ip/ },
    fixed: 'silent',
  },
  {
    pair: 't07-validation-rule-confines-the-value',
    rules: COMMAND_RULES,
    vulnerable: { ruleId: 'JOB-006', severity: 'critical', confidence: 'traced', says: /name/ },
    fixed: 'silent',
  },
  {
    pair: 't08-weak-shell-safe-validator',
    rules: ['JOB-032', ...COMMAND_RULES],
    vulnerable: {
      ruleId: 'JOB-032',
      severity: 'high',
      confidence: 'traced',
      says: /lets spaces.*\.\..*through/,
    },
    fixed: 'silent',
  },
  {
    pair: 't09-ssrf-from-job-data',
    rules: ['JOB-029'],
    vulnerable: { ruleId: 'JOB-029', severity: 'high', confidence: 'traced', says: /host/ },
    fixed: 'silent',
  },
  {
    pair: 't10-secret-on-the-command-line',
    rules: ['JOB-030'],
    vulnerable: { ruleId: 'JOB-030', severity: 'medium', confidence: 'traced', says: /token/ },
    fixed: 'silent',
  },
  {
    pair: 't11-secret-in-unencrypted-queued-notification',
    rules: ['JOB-031', 'JOB-002'],
    vulnerable: {
      ruleId: 'JOB-031',
      severity: 'high',
      confidence: 'traced',
      says: /\$rootPassword.*ServerReady/,
    },
    fixed: 'silent',
  },
  {
    pair: 't12-job-arguments-from-their-dispatch-sites',
    rules: COMMAND_RULES,
    vulnerable: { ruleId: 'JOB-006', severity: 'critical', confidence: 'traced', says: /folder/ },
    fixed: 'silent',
  },
  {
    // No rule and no default knows the helper's name: its body (ssh script through proc_open) is
    // what makes its callers sinks. The fixed side escapes the value at the call.
    pair: 't13-remote-helper-recognised-from-its-body',
    rules: COMMAND_RULES,
    vulnerable: {
      ruleId: 'JOB-019',
      severity: 'critical',
      confidence: 'traced',
      says: /docker resource name .*user-controlled/,
    },
    fixed: 'silent',
  },
  {
    // A redactor is judged by its body (it masks text), not by its name: the vulnerable helper
    // only tidies whitespace and the command still reaches the log.
    pair: 't14-redactor-recognised-from-its-body',
    rules: ['JOB-009'],
    vulnerable: { ruleId: 'JOB-009', severity: 'medium', confidence: 'traced', says: /redactor/ },
    fixed: 'silent',
  },
  {
    // The helper runs its parameter only inside a retry closure (`use ($script)`): the closure's
    // captured variable is the enclosing function's, so the helper is a sink for its callers.
    pair: 't15-closure-use-runs-the-parameter',
    rules: COMMAND_RULES,
    vulnerable: {
      ruleId: 'JOB-006',
      severity: 'critical',
      confidence: 'traced',
      says: /run by run_with_retries/,
    },
    fixed: 'silent',
  },
  {
    // `Process::path(…)->timeout(…)->run($command)` and `Process::forever()->start(…)`: a
    // configured pending process runs a shell string like `Process::run`.
    pair: 't16-chained-process-facade',
    rules: COMMAND_RULES,
    vulnerable: {
      ruleId: 'JOB-006',
      severity: 'critical',
      confidence: 'traced',
      says: /run by (start_detached|run_in)/,
    },
    fixed: 'silent',
  },
  {
    // `str_replace` in a heredoc builder and in a template filler keeps the caller's value.
    pair: 't17-string-builders-keep-taint',
    rules: COMMAND_RULES,
    vulnerable: {
      ruleId: 'JOB-006',
      severity: 'critical',
      confidence: 'traced',
      says: /^\$request->input\(…\) \(user-controlled\) interpolated/,
    },
    fixed: 'silent',
  },
];

describe('project-wide taint and the rules built on it', () => {
  for (const c of cases) {
    it(`${c.pair}: ${c.vulnerable.ruleId} on the vulnerable side, ${c.fixed} on the fixed side`, async () => {
      const vulnerable = open(await audit(c.pair, 'vulnerable'), c.rules);
      const hit = vulnerable.find((f) => f.ruleId === c.vulnerable.ruleId);
      expect(
        hit && {
          severity: hit.severity,
          confidence: hit.confidence,
          says: c.vulnerable.says.test(hit.message),
        },
        JSON.stringify(vulnerable.map((f) => [f.ruleId, f.message])),
      ).toEqual({
        severity: c.vulnerable.severity,
        confidence: c.vulnerable.confidence,
        says: true,
      });
      const fixed = open(await audit(c.pair, 'fixed'), c.rules);
      const left = c.fixed === 'silent' ? fixed : fixed.filter((f) => f.confidence === 'traced');
      expect(left.map((f) => [f.ruleId, f.message])).toEqual([]);
    });
  }

  it('a wrapper that runs its parameter is judged at its callers, not inside itself', async () => {
    const report = await audit('t01-wrapper-executes-its-argument', 'vulnerable');
    const paths = open(report, COMMAND_RULES).flatMap((f) =>
      (f.places.length > 0 ? f.places : [f]).map((p) => p.location.path),
    );
    expect(paths).toEqual(['app/Http/Controllers/CloneController.php']);
  });
});
