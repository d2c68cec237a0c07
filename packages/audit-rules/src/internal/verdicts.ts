import { createHash } from 'node:crypto';
import { HYPOTHESES, MANUAL_ITEMS, RULES } from './catalog.js';
import type { AuditOptions } from './options.js';
import {
  type AuditReport,
  type Finding,
  type HypothesisResult,
  type HypothesisStatus,
  locationText,
  type ManualResult,
  SEVERITY_ORDER,
  type TargetStatus,
} from './report-shape.js';
import type { Severity } from './types.js';

// The verdicts over an audit's findings: each manual item with its evidence and answer, each
// hypothesis passed, failed or undecided, the summary counts, and the exit code of a report.

/** Each manual item with the findings of its evidence rules and the answer given for them. */
export function manualResults(findings: readonly Finding[], options: AuditOptions): ManualResult[] {
  return MANUAL_ITEMS.map((item): ManualResult => {
    const related = findings.filter((f) => item.evidenceRules.includes(f.ruleId));
    // Hashed over fingerprints, so an answer survives code moving but not new evidence.
    const evidenceHash = `sha256:${createHash('sha256')
      .update(
        related
          .map((f) => f.fingerprint)
          .sort()
          .join('\n'),
      )
      .digest('hex')}`;
    const given = options.manualAnswers?.answers[item.seed] ?? null;
    const fresh = given !== null && given.evidenceHash === evidenceHash;
    return {
      seed: item.seed,
      why: item.why,
      evidence: related.map((f) => `${f.ruleId} ${locationText(f.location)}`),
      evidenceHash,
      checklist: item.checklist,
      answer: fresh ? given : null,
      stale: given !== null && !fresh,
    };
  });
}

/**
 * Each hypothesis from the open findings of the checks covering it, the targets they ran on,
 * the checks that could not decide and the answers to its manual item.
 */
export function hypothesisResults(
  findings: readonly Finding[],
  targets: readonly TargetStatus[],
  unknown: AuditReport['unknown'],
  manual: readonly ManualResult[],
  disabled: ReadonlySet<string>,
): HypothesisResult[] {
  const open = findings.filter((f) => f.status === 'open');
  const ranTargets = new Set(
    targets.filter((t) => t.status !== 'unreachable' && t.status !== 'skipped').map((t) => t.kind),
  );
  const partialTargets = new Set(targets.filter((t) => t.status === 'partial').map((t) => t.kind));
  return HYPOTHESES.map((h): HypothesisResult => {
    const rules = RULES.filter((rule) => rule.covers.includes(h.id));
    const ran = rules.filter((rule) => ranTargets.has(rule.target) && !disabled.has(rule.id));
    const related = open.filter((f) => f.seedRefs.includes(h.id));
    const failing = related.filter((f) => f.confidence === 'traced');
    const item = manual.find((m) => m.seed === h.id);
    const answered = item?.answer?.outcome;
    // Review items (origin unknown) leave a hypothesis undecided, not failed.
    const undecided =
      related.length > failing.length ||
      ran.some(
        (rule) =>
          partialTargets.has(rule.target) || unknown.some((entry) => entry.ruleId === rule.id),
      );
    let status: HypothesisStatus = ran.length === 0 ? 'n/a' : undecided ? 'unknown' : 'pass';
    if (item) status = answered === undefined ? 'manual' : answered === 'fail' ? 'fail' : 'pass';
    if (failing.length > 0) status = 'fail';
    return {
      id: h.id,
      title: h.title,
      status,
      checks: rules.map((r) => r.id),
      findings: related.length,
    };
  });
}

/** Open findings by severity (review items apart), suppressed ones, open manual items, unknowns. */
export function summaryOf(
  findings: readonly Finding[],
  manual: readonly ManualResult[],
  unknown: AuditReport['unknown'],
): AuditReport['summary'] {
  const summary = {
    critical: 0,
    high: 0,
    medium: 0,
    low: 0,
    review: 0,
    manual: manual.filter((m) => m.answer === null).length,
    suppressed: 0,
    unknown: unknown.length,
  };
  for (const finding of findings) {
    if (finding.status !== 'open') summary.suppressed++;
    else if (finding.confidence === 'review') summary.review++;
    else summary[finding.severity]++;
  }
  return summary;
}

/**
 * 3 incomplete (a requested target unreachable or failed, or source files that did not parse)
 * > 1 findings at or above `failOn` > 0. A check that could not decide (NOPERM on a locked
 * server) leaves its hypotheses unknown but is not incomplete: the target was audited.
 */
export function auditExitCode(
  report: AuditReport,
  {
    failOn = 'high',
    allowPartial = false,
    failOnManual = false,
  }: { failOn?: Severity | 'none'; allowPartial?: boolean; failOnManual?: boolean } = {},
): 0 | 1 | 3 {
  if (
    !allowPartial &&
    report.run.targets.some(
      (t) => t.status === 'unreachable' || t.status === 'failed' || (t.unparsed ?? 0) > 0,
    )
  )
    return 3;
  if (
    failOn !== 'none' &&
    report.findings.some(
      (f) =>
        f.status === 'open' &&
        f.confidence === 'traced' &&
        SEVERITY_ORDER[f.severity] <= SEVERITY_ORDER[failOn],
    )
  )
    return 1;
  if (failOnManual && report.manual.some((m) => m.answer === null)) return 1;
  return 0;
}
