import { type AuditReport, type Finding, locationText } from '../report-shape.js';
import { summaryLines } from './summary.js';

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/**
 * The report in the audit plan's structure, after a summary in plain words: scope, hypotheses,
 * findings by hypothesis, manual review, fixes, notes.
 */
export function formatMarkdown(report: AuditReport): string {
  const out: string[] = [];
  const sha = report.run.gitSha ? report.run.gitSha.slice(0, 12) : 'no git';
  out.push(
    `# Backend Jobs & Queues Security Audit — ${report.scope.project ?? 'runtime'} (${sha}, ${report.run.startedAt.slice(0, 10)})`,
    '',
  );
  const open = report.findings.filter((f) => f.status === 'open');
  // Traced findings first (most severe first), then the review items: the ids follow that order.
  const traced = open.filter((f) => f.confidence === 'traced');
  const review = open.filter((f) => f.confidence === 'review');
  const ids = new Map(
    [...traced, ...review].map((f, i) => [f.fingerprint, `F-${String(i + 1).padStart(3, '0')}`]),
  );
  out.push(...summaryLines(report, ids));
  out.push('## Scope', '');
  for (const target of report.run.targets) {
    out.push(
      `- ${target.kind}: ${target.ref} — ${target.status}${target.error ? ` (${target.error})` : ''}`,
    );
  }
  if (report.run.targets.length === 0) out.push('- no target given');
  if (report.scope.phpFiles > 0 || report.scope.nodeFiles > 0) {
    out.push(
      `- Files: ${report.scope.phpFiles} PHP, ${report.scope.nodeFiles} JS/TS; ${report.scope.queuedClasses} queued classes`,
    );
  }
  if (report.scope.keyFiles.length > 0)
    out.push(`- Key files: ${report.scope.keyFiles.join(', ')}`);
  const categories = Object.entries(report.scope.jobCategories);
  if (categories.length > 0)
    out.push(`- Job categories: ${categories.map(([name, n]) => `${name} ${n}`).join(', ')}`);
  if (report.scope.queueSample) {
    const s = report.scope.queueSample;
    out.push(
      `- Queue sample: ${s.keysScanned} keys, ${s.items} items${s.truncated ? ' (truncated)' : ''}`,
    );
  }
  out.push(
    '',
    '## Hypotheses',
    '',
    '| ID | Hypothesis | Result | Checks | Findings |',
    '| --- | --- | --- | --- | --- |',
  );
  for (const h of report.hypotheses) {
    out.push(
      `| ${h.id} | ${cell(h.title)} | ${h.status} | ${h.checks.join(', ') || '—'} | ${h.findings} |`,
    );
  }
  out.push('', '## Findings', '');
  const titles = new Map(report.hypotheses.map((h) => [h.id as string, h.title]));
  // Each traced finding under the first hypothesis it bears on; hypotheses by their worst finding.
  const byHypothesis = new Map<string, Finding[]>();
  for (const f of traced) {
    const key = f.seedRefs[0] ?? OTHER;
    byHypothesis.set(key, [...(byHypothesis.get(key) ?? []), f]);
  }
  if (traced.length === 0) out.push('Nothing to fix with a traced path from untrusted input.', '');
  for (const [id, list] of byHypothesis) {
    const title = id === OTHER ? OTHER : `${id} ${titles.get(id) ?? ''}`.trim();
    out.push(`### ${title} — ${list.length === 1 ? '1 finding' : `${list.length} findings`}`, '');
    for (const f of list) out.push(...findingLines(f, ids));
  }
  // Last: a value of unknown origin reaches a sink; read them once the rest is done.
  out.push('### Review items (origin unknown)', '');
  if (review.length === 0) out.push('None.', '');
  for (const f of review) out.push(...findingLines(f, ids));
  out.push(
    '## Manual review required',
    '',
    '| Seed ID | Why manual | Evidence collected | Checklist | Reviewer | Date | Outcome |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const m of report.manual) {
    const evidence =
      m.evidence.length === 0
        ? 'none found'
        : `${m.evidence.slice(0, 5).join('; ')}${m.evidence.length > 5 ? `; +${m.evidence.length - 5} more` : ''}`;
    const a = m.answer;
    const state = a
      ? `answered ${a.date}`
      : m.stale
        ? 're-opened: the evidence changed since the answer'
        : '';
    const why = state ? `${m.why} (${state})` : m.why;
    const outcome = a ? `${a.outcome}${a.notes ? `: ${a.notes}` : ''}` : '';
    out.push(
      `| ${m.seed} | ${cell(why)} | ${cell(evidence)} | ${cell(m.checklist.join('; '))} | ${cell(a?.reviewer ?? '')} | ${a?.date ?? ''} | ${cell(outcome)} |`,
    );
  }
  out.push(
    '',
    '## Fixes',
    '',
    '| ID | Description | Status | PR/commit |',
    '| --- | --- | --- | --- |',
  );
  if (traced.length === 0) out.push('| — | nothing to fix | — | — |');
  for (const f of traced)
    out.push(`| ${ids.get(f.fingerprint)} | ${cell(`[${f.ruleId}] ${f.message}`)} | open |  |`);
  if (review.length > 0)
    out.push(
      `| — | ${review.length === 1 ? '1 review item' : `${review.length} review items`} (origin unknown), listed under Findings | to read |  |`,
    );
  out.push('', '## Auditor notes', '');
  out.push(
    `- Tool: ${report.tool.name} ${report.tool.version}, rules ${report.tool.rulesVersion}; run ${report.run.startedAt} → ${report.run.finishedAt}`,
  );
  out.push(
    `- Summary: ${report.summary.critical} critical, ${report.summary.high} high, ${report.summary.medium} medium, ${report.summary.low} low; ${report.summary.review} to review (origin unknown); ${report.summary.suppressed} suppressed (inline or baseline); ${report.summary.manual} manual items`,
  );
  const suppressed = report.findings.filter((f) => f.status !== 'open');
  for (const f of suppressed)
    out.push(
      `- Suppressed ${f.ruleId} at ${locationText(f.location)} (${f.suppression?.kind}): ${f.suppression?.reason}`,
    );
  for (const u of report.unknown) out.push(`- Unknown: ${u.ruleId} (${u.target}): ${u.reason}`);
  for (const e of report.errors) out.push(`- Error: ${e.ruleId ?? e.target}: ${e.message}`);
  for (const note of report.notes) out.push(`- ${note}`);
  return `${out.join('\n')}\n`;
}

const OTHER = 'Other findings';

function findingLines(f: Finding, ids: ReadonlyMap<string, string>): string[] {
  const out = [
    `#### ${ids.get(f.fingerprint)} [${f.ruleId}] ${f.title} — ${locationText(f.location)}`,
    '',
  ];
  out.push(
    `- Severity: ${f.severity}${f.confidence === 'review' ? ' (review: origin unknown, not counted by --fail-on)' : ''}; seeds: ${f.seedRefs.join(', ') || '—'}${f.cwe.length > 0 ? `; ${f.cwe.join(', ')}` : ''}`,
  );
  out.push(`- ${f.message}`);
  if (f.places.length > 0) out.push(`- Places: ${placesText(f)}`);
  if (f.evidence) out.push(`- Evidence (redacted): \`${f.evidence.replace(/`/g, "'")}\``);
  out.push(`- Fix: ${f.remediation}`, `- Fingerprint: ${f.fingerprint}`, '');
  return out;
}

/** The places of a grouped finding, the first twenty by name. */
function placesText(finding: Finding): string {
  const shown = finding.places.slice(0, PLACES_SHOWN).map((p) => locationText(p.location));
  const rest = finding.places.length - shown.length;
  return `${shown.join(', ')}${rest > 0 ? ` and ${rest} more (all in the JSON report)` : ''}`;
}

const PLACES_SHOWN = 20;
