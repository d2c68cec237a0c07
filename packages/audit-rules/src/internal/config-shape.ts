import { z } from 'zod';
import { AuditError } from './errors.js';

/**
 * The part of qscale's configuration the audit reads. It is a structural subset of the
 * daemon's resolved `QscaleConfig` (pass `loadConfig(path)`'s result as is); extra fields are
 * ignored. Durations are in milliseconds, sizes in bytes.
 */
export interface AuditedRedis {
  url: string;
  username: string | null;
  password: string | null;
  tls: unknown;
}

export interface AuditedQueue {
  name: string;
  driver: string;
  backendName: string;
  redis: AuditedRedis;
  workers: { min: number; max: number };
  command: readonly string[];
  env: Readonly<Record<string, string>>;
  user: string | null;
  stop: { graceMs: number };
  recycle: { maxRssBytes: number | null; maxLifetimeMs: number | null };
  scaling: { cooldownMs: number };
}

export interface AuditedConfig {
  redis: AuditedRedis;
  http: { enabled: boolean; host: string; port: number; token: string | null };
  limits: { maxWorkers: number };
  supervision: { refuseRoot: boolean };
  queues: readonly AuditedQueue[];
}

const redis = z.object({
  url: z.string(),
  username: z.string().nullable(),
  password: z.string().nullable(),
  tls: z.unknown(),
});

const auditedConfigSchema = z.object({
  redis,
  http: z.object({
    enabled: z.boolean(),
    host: z.string(),
    port: z.number(),
    token: z.string().nullable(),
  }),
  limits: z.object({ maxWorkers: z.number() }),
  supervision: z.object({ refuseRoot: z.boolean() }),
  queues: z.array(
    z.object({
      name: z.string(),
      driver: z.string(),
      backendName: z.string(),
      redis,
      workers: z.object({ min: z.number(), max: z.number() }),
      command: z.array(z.string()),
      env: z.record(z.string(), z.string()),
      user: z.string().nullable(),
      stop: z.object({ graceMs: z.number() }),
      recycle: z.object({
        maxRssBytes: z.number().nullable(),
        maxLifetimeMs: z.number().nullable(),
      }),
      scaling: z.object({ cooldownMs: z.number() }),
    }),
  ),
});

/** Checks a config object at the boundary; the error names every missing or mistyped field. */
export function parseAuditedConfig(value: unknown, source: string): AuditedConfig {
  const result = auditedConfigSchema.safeParse(value);
  if (result.success) return result.data as AuditedConfig;
  const problems = result.error.issues.map(
    (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
  );
  throw new AuditError(
    'AUDIT_CONFIG_INVALID',
    `${source}: not a resolved qscale configuration (${problems.slice(0, 5).join('; ')})`,
  );
}
