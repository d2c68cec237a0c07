import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { type AuditReport, runAudit } from '../src/index.js';

// Precision and recall on a labelled corpus of minimised reproductions of Coolify's published
// command-injection fixes (test/fixtures/advisories, labels.json: which side is vulnerable, in
// which rule family, read from the code). bench/audit/advisories.ts prints the same figures for
// any build; bench/RESULTS.md records them before and after the project-wide taint.

const CORPUS = fileURLToPath(new URL('./fixtures/advisories/', import.meta.url));
const FAMILIES: Record<string, { rules: readonly string[]; minSeverity: 'high' | 'low' }> = {
  'command-injection': {
    rules: [
      'JOB-006',
      'JOB-006Q',
      'JOB-010',
      'JOB-011',
      'JOB-014',
      'JOB-015',
      'JOB-019',
      'JOB-027',
      'JOB-032',
    ],
    minSeverity: 'high',
  },
  'secret-on-command-line': { rules: ['JOB-030', 'JOB-015C', 'JOB-016'], minSeverity: 'low' },
};

interface Label {
  case: string;
  family: string;
  vulnerable: boolean;
  fixedStillVulnerable?: boolean;
}

const made: string[] = [];
afterAll(async () => {
  await Promise.all(made.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function audit(name: string, side: string): Promise<AuditReport> {
  const dir = await mkdtemp(join(tmpdir(), `qscale-advisory-${name}-`));
  made.push(dir);
  await cp(join(CORPUS, name, side), dir, { recursive: true });
  return runAudit({ path: dir, hostCores: 2 });
}

function flagged(report: AuditReport, family: string): boolean {
  const { rules, minSeverity } = FAMILIES[family] ?? { rules: [], minSeverity: 'high' };
  return report.findings.some(
    (f) =>
      f.status === 'open' &&
      rules.includes(f.ruleId) &&
      (minSeverity === 'low' || f.severity === 'critical' || f.severity === 'high'),
  );
}

describe('labelled corpus of Coolify advisories', () => {
  it('recall and precision per rule family stay at what bench/RESULTS.md records', async () => {
    const labels = JSON.parse(await readFile(join(CORPUS, 'labels.json'), 'utf8')) as {
      cases: Label[];
    };
    const score: Record<string, { tp: number; fn: number; fp: number; tn: number }> = {};
    const misses: string[] = [];
    for (const label of labels.cases) {
      const tally = score[label.family] ?? { tp: 0, fn: 0, fp: 0, tn: 0 };
      score[label.family] = tally;
      for (const side of ['vulnerable', 'fixed'] as const) {
        const positive =
          label.vulnerable && (side === 'vulnerable' || label.fixedStillVulnerable === true);
        const hit = flagged(await audit(label.case, side), label.family);
        if (positive && hit) tally.tp++;
        else if (positive) {
          tally.fn++;
          misses.push(`${label.case} (${side})`);
        } else if (hit) {
          tally.fp++;
          misses.push(`${label.case} (${side}, false positive)`);
        } else tally.tn++;
      }
    }
    const injection = score['command-injection'];
    // 8 vulnerable reproductions: all but the compose health check (not a shell sink) are found;
    // no fixed side and no negative is reported.
    expect(misses).toEqual(['c08-healthcheck-in-compose (vulnerable)']);
    expect(injection).toEqual({ tp: 7, fn: 1, fp: 0, tn: 10 });
    expect(score['secret-on-command-line']).toEqual({ tp: 2, fn: 0, fp: 0, tn: 0 });
  });
});
