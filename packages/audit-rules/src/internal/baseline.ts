import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { AuditError } from './errors.js';
import type { AuditReport } from './report-shape.js';

/** Accepted findings, by fingerprint, each with the reason it was accepted. */
export interface Baseline {
  version: 1;
  findings: { fingerprint: string; ruleId: string; reason: string }[];
}

const baselineSchema = z.strictObject({
  version: z.literal(1, { error: 'expected version: 1' }),
  findings: z.array(
    z.strictObject({
      fingerprint: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'expected sha256:<64 hex digits>'),
      ruleId: z.string().min(1),
      reason: z.string(),
    }),
  ),
});

/** Parses a baseline; the error names the file, the entry and the field. */
export function parseBaseline(text: string, source: string): Baseline {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new AuditError(
      'AUDIT_BASELINE_INVALID',
      `${source}: not JSON (${(error as Error).message})`,
      { cause: error },
    );
  }
  const result = baselineSchema.safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new AuditError(
      'AUDIT_BASELINE_INVALID',
      `${source}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return result.data as Baseline;
}

export async function readBaseline(path: string): Promise<Baseline> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new AuditError(
      'AUDIT_BASELINE_INVALID',
      `${path}: cannot read the baseline (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      { cause: error },
    );
  }
  return parseBaseline(text, path);
}

/** A baseline accepting every open finding of `report`, each with `reason`. */
export function baselineFrom(
  report: AuditReport,
  reason: string,
): { version: 1; findings: { fingerprint: string; ruleId: string; reason: string }[] } {
  return {
    version: 1,
    // A group is accepted place by place: a new place of the same pattern is a new finding.
    findings: report.findings
      .filter((f) => f.status === 'open' && !f.ruleId.startsWith('AUD-'))
      .flatMap((f) =>
        (f.places.length === 0 ? [f.fingerprint] : f.places.map((p) => p.fingerprint)).map(
          (fingerprint) => ({ fingerprint, ruleId: f.ruleId, reason }),
        ),
      ),
  };
}
