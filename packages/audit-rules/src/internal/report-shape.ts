import type { ManualAnswer } from './manual.js';
import type { Confidence, Location, SeedId, Severity, Target } from './types.js';

// The shape of an audit report, as runAudit returns it and the formatters (report/*.ts) read
// it: findings with their places, target states, manual items and hypotheses, and the versions
// of the tool and its rules. Kept apart from the run so that a formatter imports no runner.

export const TOOL_VERSION = '0.1.0';
export const RULES_VERSION = '2026.11';

export type FindingStatus = 'open' | 'suppressed' | 'baselined';

export interface Finding {
  /** `sha256:<hex>`: stable across line shifts (source) and runs (runtime). */
  fingerprint: string;
  ruleId: string;
  title: string;
  severity: Severity;
  /** `review` findings (origin unknown) are read, not counted by `failOn`. */
  confidence: Confidence;
  target: Target;
  status: FindingStatus;
  seedRefs: readonly SeedId[];
  cwe: readonly string[];
  location: Location;
  message: string;
  /** Redacted excerpt; never a secret. */
  evidence: string | null;
  remediation: string;
  suppression: { kind: 'inline' | 'baseline'; reason: string } | null;
  /** The sink function repeated findings are grouped by (see groupRepeated). */
  group: string | null;
  /** Every place of a grouped finding, `location` first; empty for a finding of one place. */
  places: Occurrence[];
}

/** One place of a grouped finding, with its own fingerprint (what baselines accept). */
export interface Occurrence {
  fingerprint: string;
  location: Location;
  message: string;
  evidence: string | null;
}

export type TargetState = 'scanned' | 'partial' | 'unreachable' | 'failed' | 'skipped';

export interface TargetStatus {
  kind: Target;
  /** Path, config file or Redis URL without credentials. */
  ref: string;
  status: TargetState;
  error?: string;
  /** Source files that could not be parsed: their code was not checked. */
  unparsed?: number;
}

/**
 * `unknown`: no traced finding, but review items (origin unknown), a check covering it that could
 * not decide, or a target read only in part (PHP files that did not parse): never a pass.
 */
export type HypothesisStatus = 'pass' | 'fail' | 'manual' | 'unknown' | 'n/a';

export interface HypothesisResult {
  id: SeedId;
  title: string;
  status: HypothesisStatus;
  checks: string[];
  findings: number;
}

export interface ManualResult {
  seed: SeedId;
  why: string;
  evidence: string[];
  /** sha256 of the evidence, so a recorded answer can be re-opened when it changes. */
  evidenceHash: string;
  checklist: readonly string[];
  /** The reviewer's answer, when one was given for this very evidence. */
  answer: ManualAnswer | null;
  /** True when an answer exists but was given for other evidence (the item is open again). */
  stale: boolean;
}

export interface AuditReport {
  schemaVersion: '1.0';
  tool: { name: '@qscale/audit-rules'; version: string; rulesVersion: string };
  run: { startedAt: string; finishedAt: string; gitSha: string | null; targets: TargetStatus[] };
  scope: {
    project: string | null;
    phpFiles: number;
    nodeFiles: number;
    queuedClasses: number;
    jobCategories: Record<string, number>;
    keyFiles: string[];
    queueSample: { keysScanned: number; items: number; truncated: boolean } | null;
  };
  /** Open traced findings by severity; `review` counts the open review items apart. */
  summary: Record<Severity, number> & {
    review: number;
    manual: number;
    suppressed: number;
    unknown: number;
  };
  findings: Finding[];
  /** Checks that could not decide (NOPERM, unresolved env()), with why. */
  unknown: { ruleId: string; target: Target; reason: string }[];
  manual: ManualResult[];
  hypotheses: HypothesisResult[];
  notes: string[];
  errors: { target: Target; ruleId: string | null; message: string }[];
}

export const SEVERITY_ORDER: Record<Severity, number> = { critical: 0, high: 1, medium: 2, low: 3 };

export function locationText(location: Location): string {
  if (location.path && location.startLine) return `${location.path}:${location.startLine}`;
  return location.path ?? location.resource ?? '';
}
