// Precision and recall of the source audit, per rule family, on the labelled corpus of advisories
// (packages/audit-rules/test/fixtures/advisories: minimised reproductions of published fixes of
// Coolify and BookStack, labelled from reading the code; labels.json also defines which rules,
// at which severity, count as reporting each family). `--dist` audits with another build
// of @qscale/audit-rules (e.g. the main checkout's, for a before/after comparison).
// Usage: tsx audit/advisories.ts [--dist /path/to/audit-rules/dist/index.js]
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as current from '@qscale/audit-rules';
import { markdownTable } from '../lib/measure.js';

const { values } = parseArgs({ options: { dist: { type: 'string' } } });
const { runAudit } = (values.dist ? await import(values.dist) : current) as typeof current;
const CORPUS = fileURLToPath(
  new URL('../../packages/audit-rules/test/fixtures/advisories/', import.meta.url),
);
interface Family {
  rules: string[];
  /** 'high': only critical and high findings count; 'low': any severity. */
  minSeverity: 'high' | 'low';
  note: string;
}
interface Label {
  case: string;
  app: string | null;
  family: string;
  vulnerable: boolean;
  fixedStillVulnerable?: boolean;
}

const labels = JSON.parse(await readFile(join(CORPUS, 'labels.json'), 'utf8')) as {
  families: Record<string, Family>;
  cases: Label[];
};
const score = new Map<string, { tp: number; fn: number; fp: number; tn: number; traced: number }>();
const detail: Record<string, string>[] = [];
for (const label of labels.cases) {
  const family = labels.families[label.family];
  if (!family) throw new Error(`labels.json: unknown family ${label.family} in ${label.case}`);
  const tally = score.get(label.family) ?? { tp: 0, fn: 0, fp: 0, tn: 0, traced: 0 };
  score.set(label.family, tally);
  for (const side of ['vulnerable', 'fixed'] as const) {
    const dir = await mkdtemp(join(tmpdir(), 'qscale-advisories-'));
    await cp(join(CORPUS, label.case, side), dir, { recursive: true });
    const report = await runAudit({ path: dir, hostCores: 2 });
    await rm(dir, { recursive: true, force: true });
    const hits = report.findings.filter(
      (f) =>
        f.status === 'open' &&
        family.rules.includes(f.ruleId) &&
        (family.minSeverity === 'low' || f.severity === 'critical' || f.severity === 'high'),
    );
    const positive =
      label.vulnerable && (side === 'vulnerable' || label.fixedStillVulnerable === true);
    const hit = hits.length > 0;
    if (positive && hits.some((f) => f.confidence === 'traced')) tally.traced++;
    if (positive) hit ? tally.tp++ : tally.fn++;
    else hit ? tally.fp++ : tally.tn++;
    detail.push({
      case: label.case,
      app: label.app ?? '—',
      family: label.family,
      side,
      vulnerable: positive ? 'yes' : 'no',
      reported: hits.map((f) => `${f.ruleId} ${f.severity} ${f.confidence}`).join(', ') || '—',
    });
  }
}
const ratio = (a: number, b: number) => (b === 0 ? 'n/a' : (a / b).toFixed(2));
process.stdout.write(
  `${markdownTable(
    [...score].map(([family, t]) => ({
      family,
      TP: t.tp,
      FN: t.fn,
      FP: t.fp,
      TN: t.tn,
      precision: ratio(t.tp, t.tp + t.fp),
      recall: ratio(t.tp, t.tp + t.fn),
      'recall, traced only': ratio(t.traced, t.tp + t.fn),
    })),
  )}\n\n${markdownTable(detail)}\n\n${markdownTable(
    Object.entries(labels.families).map(([family, f]) => ({
      family,
      rules: f.rules.join(', '),
      counts: f.minSeverity === 'high' ? 'critical or high' : 'any severity',
      what: f.note,
    })),
  )}\n`,
);
