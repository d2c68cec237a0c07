// @qscale/audit-rules: security checks over the jobs-and-queues setup: config, Redis, queue
// data, host and project source.
export { runAudit } from './internal/audit.js';
export type { Baseline } from './internal/baseline.js';
export { baselineFrom, parseBaseline, readBaseline } from './internal/baseline.js';
export type { Hypothesis, ManualItem } from './internal/catalog.js';
export { HYPOTHESES, MANUAL_ITEMS, RULES, RUNNER_RULES } from './internal/catalog.js';
export type { AuditedConfig, AuditedQueue, AuditedRedis } from './internal/config-shape.js';
export { parseAuditedConfig } from './internal/config-shape.js';
export type { AuditErrorCode } from './internal/errors.js';
export { AuditError } from './internal/errors.js';
export type { ManualAnswer, ManualAnswers } from './internal/manual.js';
export { parseManualAnswers, readManualAnswers } from './internal/manual.js';
export type { AuditOptions, AuditProgress, HostOptions } from './internal/options.js';
export { DEFAULTS } from './internal/options.js';
export type { SecretMatch, SecretPattern } from './internal/patterns.js';
export { findSecrets, redactSecret, SECRET_PATTERNS } from './internal/patterns.js';
export { redactUrl } from './internal/redis-connection.js';
export { formatJson } from './internal/report/json.js';
export { formatMarkdown } from './internal/report/markdown.js';
export type { SarifOptions } from './internal/report/sarif.js';
export { formatSarif } from './internal/report/sarif.js';
export type {
  AuditReport,
  Finding,
  FindingStatus,
  HypothesisResult,
  HypothesisStatus,
  ManualResult,
  TargetState,
  TargetStatus,
} from './internal/report-shape.js';
export { RULES_VERSION, TOOL_VERSION } from './internal/report-shape.js';
export type {
  AnyRule,
  CheckOutcome,
  Confidence,
  Location,
  RawFinding,
  Rule,
  SeedId,
  Severity,
  Target,
} from './internal/types.js';
export { SEVERITIES, TARGETS } from './internal/types.js';
export { auditExitCode } from './internal/verdicts.js';
