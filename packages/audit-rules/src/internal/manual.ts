import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { z } from 'zod';
import { AuditError } from './errors.js';
import type { SeedId } from './types.js';

/** A reviewer's answer to a manual item, valid while the evidence it was given for is unchanged. */
export interface ManualAnswer {
  reviewer: string;
  /** ISO date of the review. */
  date: string;
  outcome: 'pass' | 'fail' | 'accepted-risk';
  notes?: string;
  /** `evidenceHash` of the manual item when it was answered; a different hash re-opens it. */
  evidenceHash: string;
}

/** The committed answers file (`audit-manual.yml`), keyed by seed id. */
export interface ManualAnswers {
  version: 1;
  answers: Partial<Record<SeedId, ManualAnswer>>;
}

const answersSchema = z.strictObject({
  version: z.literal(1, { error: 'expected version: 1' }),
  answers: z.record(
    z.string().regex(/^S[12]:[A-Za-z0-9-]+$/, 'expected a seed id like S1:JOB-004'),
    z.strictObject({
      reviewer: z.string().min(1, 'expected the reviewer'),
      date: z.string().regex(/^\d{4}-\d{2}-\d{2}/, 'expected a date like 2026-11-22'),
      outcome: z.enum(['pass', 'fail', 'accepted-risk'], {
        error: 'expected pass, fail or accepted-risk',
      }),
      notes: z.string().optional(),
      evidenceHash: z
        .string()
        .regex(/^sha256:[0-9a-f]{64}$/, 'expected sha256:<64 hex digits> from the report'),
    }),
  ),
});

/** Parses a YAML or JSON answers file; the error names the file, the seed and the field. */
export function parseManualAnswers(text: string, source: string): ManualAnswers {
  let data: unknown;
  try {
    data = parse(text);
  } catch (error) {
    throw new AuditError(
      'AUDIT_MANUAL_INVALID',
      `${source}: not YAML (${(error as Error).message.split('\n')[0]})`,
      { cause: error },
    );
  }
  const result = answersSchema.safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new AuditError(
      'AUDIT_MANUAL_INVALID',
      `${source}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return result.data as ManualAnswers;
}

export async function readManualAnswers(path: string): Promise<ManualAnswers> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new AuditError(
      'AUDIT_MANUAL_INVALID',
      `${path}: cannot read the answers file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      { cause: error },
    );
  }
  return parseManualAnswers(text, path);
}
