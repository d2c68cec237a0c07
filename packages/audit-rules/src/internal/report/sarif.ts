import { createHash } from 'node:crypto';
import type { Log, Result, Run } from 'sarif';
import { RULES, RUNNER_RULES } from '../catalog.js';
import type { AuditReport, Finding } from '../report-shape.js';
import type { Severity } from '../types.js';

const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = {
  critical: 'error',
  high: 'error',
  medium: 'warning',
  low: 'note',
};
// GitHub buckets security-severity: > 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, < 4 low.
const SECURITY_SEVERITY: Record<Severity, string> = {
  critical: '9.5',
  high: '8.0',
  medium: '5.5',
  low: '2.5',
};
const MAX_RESULTS_PER_RULE = 1000;

export interface SarifOptions {
  /** Also emit runtime findings (redis, queue-data, host) against a placeholder file. @defaultValue false */
  includeRuntime?: boolean;
}

const SOURCE_TARGETS = new Set(['laravel-src', 'node-src']);

/**
 * SARIF 2.1.0 for GitHub code scanning: source findings in run `audit-rules/source/`, runtime
 * findings (opt-in) in `audit-rules/runtime/`. Suppressed and baselined findings are left out.
 */
export function formatSarif(report: AuditReport, options: SarifOptions = {}): string {
  const open = report.findings.filter((f) => f.status === 'open');
  const isSource = (f: Finding) =>
    (SOURCE_TARGETS.has(f.target) || f.ruleId.startsWith('AUD-')) &&
    f.location.path !== undefined &&
    f.location.startLine !== undefined;
  const runs = [run(report, 'audit-rules/source/', open.filter(isSource), false)];
  if (options.includeRuntime)
    runs.push(
      run(
        report,
        'audit-rules/runtime/',
        open.filter((f) => !isSource(f)),
        true,
      ),
    );
  const sarif: Log = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs,
  };
  return `${JSON.stringify(sarif, null, 2)}\n`;
}

function run(report: AuditReport, category: string, findings: Finding[], runtime: boolean): Run {
  const descriptors = [
    ...RULES.map((r) => ({
      id: r.id,
      title: r.title,
      severity: r.severity,
      description: r.description,
      fix: r.fix,
      cwe: r.cwe ?? [],
      target: r.target as string,
    })),
    ...RUNNER_RULES.map((r) => ({
      id: r.id,
      title: r.title,
      severity: r.severity,
      description: r.description,
      fix: r.fix,
      cwe: [] as readonly string[],
      target: 'audit',
    })),
  ];
  const index = new Map(descriptors.map((d, i) => [d.id, i]));
  const perRule = new Map<string, number>();
  const results: Result[] = [];
  for (const f of findings) {
    const count = (perRule.get(f.ruleId) ?? 0) + 1;
    perRule.set(f.ruleId, count);
    if (count > MAX_RESULTS_PER_RULE) continue;
    const region: Record<string, number> = {};
    if (f.location.startLine) region.startLine = f.location.startLine;
    if (f.location.startColumn) region.startColumn = f.location.startColumn;
    if (f.location.endLine) region.endLine = f.location.endLine;
    if (f.location.endColumn) region.endColumn = f.location.endColumn;
    const uri = runtime ? '.audit/runtime.txt' : (f.location.path ?? '');
    results.push({
      ruleId: f.ruleId,
      ruleIndex: index.get(f.ruleId) ?? 0,
      // A review item is a note: code scanning lists it without failing a check on it.
      level: f.confidence === 'review' ? 'note' : LEVEL[f.severity],
      message: {
        text: `${f.message}.${runtime ? ` (${f.location.resource ?? f.location.path ?? ''})` : ''}`,
      },
      locations: [
        {
          physicalLocation: {
            artifactLocation: { uri },
            ...(runtime ? { region: { startLine: 1 } } : { region }),
          },
        },
      ],
      // The other places of a grouped finding (same rule, same sink).
      ...(f.places.length > 1 && !runtime
        ? {
            relatedLocations: f.places.slice(1).map((place, index) => ({
              id: index + 1,
              message: { text: place.message },
              physicalLocation: {
                artifactLocation: { uri: place.location.path ?? '' },
                region: { startLine: place.location.startLine ?? 1 },
              },
            })),
          }
        : {}),
      partialFingerprints: {
        primaryLocationLineHash: createHash('sha256')
          .update(f.fingerprint)
          .digest('hex')
          .slice(0, 32),
      },
      properties: {
        // GitHub ranks by security-severity over level: a review item carries none.
        ...(f.confidence === 'review'
          ? {}
          : { 'security-severity': SECURITY_SEVERITY[f.severity] }),
        confidence: f.confidence,
        fingerprint: f.fingerprint,
      },
    });
  }
  return {
    tool: {
      driver: {
        name: 'qscale-audit',
        semanticVersion: report.tool.version,
        informationUri: 'https://github.com/qscale/qscale/tree/main/packages/audit-rules',
        rules: descriptors.map((d) => ({
          id: d.id,
          name: d.id.replace(/[^A-Za-z0-9]/g, ''),
          shortDescription: { text: d.title.slice(0, 1024) },
          fullDescription: { text: d.description },
          help: { text: d.fix, markdown: `**Fix:** ${d.fix}` },
          defaultConfiguration: { level: LEVEL[d.severity] },
          properties: {
            tags: ['security', 'queue', d.target, ...d.cwe].slice(0, 20),
            precision: 'medium',
            'security-severity': SECURITY_SEVERITY[d.severity],
          },
        })),
      },
    },
    automationDetails: { id: category },
    results,
  };
}
