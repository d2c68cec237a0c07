import { type AuditReport, type Finding, locationText } from '../report-shape.js';

/** How many traced findings the summary names as the ones to fix first. */
const FIX_FIRST = 5;

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/**
 * The report's opening, in plain words: what needs fixing and in what order, what only needs
 * reading, what a person must answer, and whether the scan saw everything. `ids` are the
 * findings' report ids (F-001, ...).
 */
export function summaryLines(report: AuditReport, ids: ReadonlyMap<string, string>): string[] {
  const open = report.findings.filter((f) => f.status === 'open');
  const traced = open.filter((f) => f.confidence === 'traced');
  const review = open.length - traced.length;
  const out: string[] = ['## Summary', ''];
  if (traced.length === 0) {
    out.push('- **Nothing to fix** with a traced path from untrusted input.');
  } else {
    const bySeverity = (['critical', 'high', 'medium', 'low'] as const)
      .map((severity) => [severity, traced.filter((f) => f.severity === severity).length] as const)
      .filter(([, n]) => n > 0)
      .map(([severity, n]) => `${n} ${severity}`);
    out.push(`- **${plural(traced.length, 'finding')} to fix**: ${bySeverity.join(', ')}.`);
    out.push('- Fix first:');
    for (const f of traced.slice(0, FIX_FIRST)) out.push(`  - ${firstLine(f, ids)}`);
    if (traced.length > FIX_FIRST)
      out.push(`  - and ${traced.length - FIX_FIRST} more, by hypothesis under Findings.`);
  }
  if (review > 0) {
    out.push(
      `- ${plural(review, 'review item')}: a value of unknown origin reaches a sink; read ${review === 1 ? 'it' : 'them'} once the rest is done (not counted by --fail-on).`,
    );
  }
  const counts = new Map<string, number>();
  for (const h of report.hypotheses) counts.set(h.status, (counts.get(h.status) ?? 0) + 1);
  const states = (['fail', 'unknown', 'manual', 'pass'] as const)
    .filter((status) => counts.has(status))
    .map((status) => `${counts.get(status)} ${HYPOTHESIS_WORDS[status]}`);
  if (states.length > 0) out.push(`- Hypotheses: ${states.join(', ')}.`);
  const unanswered = report.manual.filter((m) => !m.answer).length;
  if (unanswered > 0) {
    out.push(
      `- ${plural(unanswered, 'check needs', 'checks need')} a person's answer (Manual review required).`,
    );
  }
  const incomplete = report.run.targets.filter((t) => t.status !== 'scanned');
  if (incomplete.length > 0) {
    out.push(
      `- **The scan is incomplete**: ${incomplete.map((t) => `${t.kind} ${t.ref} ${t.status}${t.error ? ` (${t.error})` : ''}`).join('; ')}. What it could not see is not a pass.`,
    );
  }
  out.push('');
  return out;
}

const HYPOTHESIS_WORDS = {
  fail: 'fail',
  unknown: 'undecided',
  manual: 'for a person to answer',
  pass: 'pass',
} as const;

function firstLine(f: Finding, ids: ReadonlyMap<string, string>): string {
  return `${ids.get(f.fingerprint)} ${f.severity}: ${f.title} (${f.ruleId}) — ${locationText(f.location)}`;
}
