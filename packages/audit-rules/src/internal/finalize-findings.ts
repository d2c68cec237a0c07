import { createHash } from 'node:crypto';
import { RUNNER_RULES } from './catalog.js';
import { groupRepeated } from './grouping.js';
import type { AuditOptions } from './options.js';
import type { ProjectTree } from './project.js';
import { type Finding, locationText, SEVERITY_ORDER } from './report-shape.js';
import type { AnyRule, Location, RawFinding } from './types.js';

// What the rules' raw findings become in the report: a fingerprint stable across line shifts and
// runs, an inline (`qscale-audit-ignore RULE: reason`) or baseline suppression, the runner's own
// findings for suppressions without a reason (AUD-001, AUD-002), grouping and report order.

const INLINE =
  /(?:\/\/|#|\/\*|\*|<!--|;)\s*(?:qscale-audit-ignore\s+([A-Z][A-Z0-9]*-\d+[A-Z]?)|audit-ignore\[([A-Z][A-Z0-9]*-\d+[A-Z]?)\])\s*(?::\s*(.*?))?\s*(?:\*\/|-->)?\s*$/;

export async function finalize(
  raw: { rule: AnyRule; finding: RawFinding }[],
  tree: ProjectTree | null,
  options: AuditOptions,
  redisRef: string,
): Promise<Finding[]> {
  const occurrences = new Map<string, number>();
  const out: Finding[] = [];
  const baseline = new Map(
    (options.baseline?.findings ?? []).map((entry) => [entry.fingerprint, entry]),
  );
  const reasonless = new Set<string>();
  for (const { rule, finding } of raw) {
    const { location } = finding;
    const base =
      location.path && location.startLine !== undefined && tree
        ? `${rule.id}\0${location.path}\0${(finding.evidence ?? finding.message).replace(/\s+/g, ' ').trim()}`
        : `${rule.id}\0${location.path ?? redisRef}\0${finding.key ?? location.resource ?? finding.message}`;
    const index = occurrences.get(base) ?? 0;
    occurrences.set(base, index + 1);
    const fingerprint = `sha256:${createHash('sha256').update(`${base}\0${index}`).digest('hex')}`;
    let suppression: Finding['suppression'] = null;
    if (tree && location.path && location.startLine !== undefined) {
      const text = await tree.read(location.path);
      const lines = text?.split('\n') ?? [];
      for (const at of [location.startLine, location.startLine - 1, location.startLine - 2]) {
        const match = INLINE.exec(lines[at - 1] ?? '');
        const id = match?.[1] ?? match?.[2];
        if (!match || id !== rule.id) continue;
        const reason = (match[3] ?? '').trim();
        if (reason) suppression = { kind: 'inline', reason };
        else reasonless.add(`${location.path}:${at}`);
        break;
      }
    }
    const accepted = baseline.get(fingerprint);
    if (!suppression && accepted?.reason.trim())
      suppression = { kind: 'baseline', reason: accepted.reason.trim() };
    const severity = options.severity?.[rule.id] ?? finding.severity ?? rule.severity;
    out.push({
      fingerprint,
      ruleId: rule.id,
      title: rule.title,
      severity,
      confidence: finding.confidence ?? 'traced',
      target: rule.target,
      status: suppression ? (suppression.kind === 'inline' ? 'suppressed' : 'baselined') : 'open',
      seedRefs: rule.covers,
      cwe: rule.cwe ?? [],
      location,
      message: finding.message,
      evidence: finding.evidence ?? null,
      remediation: rule.fix,
      suppression,
      group: finding.group ?? null,
      places: [],
    });
  }
  const [aud001, aud002] = RUNNER_RULES;
  for (const where of reasonless) {
    const [path = '', line = '1'] = where.split(/:(?=\d+$)/);
    out.push(
      runnerFinding(
        aud001,
        { path, startLine: Number(line), startColumn: 1 },
        'a qscale-audit-ignore comment has no reason, so it suppresses nothing',
        `${where}`,
      ),
    );
  }
  for (const entry of options.baseline?.findings ?? []) {
    if (entry.reason.trim()) continue;
    out.push(
      runnerFinding(
        aud002,
        { path: options.baselinePath ?? 'baseline', resource: entry.fingerprint },
        `baseline entry ${entry.fingerprint.slice(0, 19)}… (${entry.ruleId}) has no reason, so it suppresses nothing`,
        entry.fingerprint,
      ),
    );
  }
  return groupRepeated(out).sort(
    (a, b) =>
      SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] ||
      a.ruleId.localeCompare(b.ruleId) ||
      locationText(a.location).localeCompare(locationText(b.location)),
  );
}

function runnerFinding(
  rule: (typeof RUNNER_RULES)[number] | undefined,
  location: Location,
  message: string,
  key: string,
): Finding {
  const id = rule?.id ?? 'AUD-000';
  return {
    fingerprint: `sha256:${createHash('sha256').update(`${id}\0${key}`).digest('hex')}`,
    ruleId: id,
    title: rule?.title ?? 'Suppression problem',
    severity: 'low',
    confidence: 'traced',
    target: 'laravel-src',
    status: 'open',
    seedRefs: [],
    cwe: [],
    location,
    message,
    evidence: null,
    remediation: rule?.fix ?? '',
    suppression: null,
    group: null,
    places: [],
  };
}
