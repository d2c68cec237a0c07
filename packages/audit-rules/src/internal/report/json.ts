import type { AuditReport } from '../report-shape.js';

/** The native JSON report (schemaVersion 1.0): stable field names and fingerprints. */
export function formatJson(report: AuditReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
