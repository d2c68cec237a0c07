import { stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { silentLogger } from '@qscale/contracts';
import { RULES } from './catalog.js';
import { parseAuditedConfig } from './config-shape.js';
import { AuditError } from './errors.js';
import { finalize } from './finalize-findings.js';
import { type AuditOptions, DEFAULTS, resolveOptions } from './options.js';
import { indexPhp, isPhpPath, type PhpIndex } from './php/index-project.js';
import { openProject, type ProjectTree } from './project.js';
import { type QueueSample, sampleQueues } from './queue-sample.js';
import { connectRedis } from './redis-connection.js';
import { categorize, gitSha, parseErrorSummary } from './report-scope.js';
import {
  type AuditReport,
  RULES_VERSION,
  type TargetState,
  type TargetStatus,
  TOOL_VERSION,
} from './report-shape.js';
import { defaultPhpIniFiles } from './rules/host.js';
import type {
  AnyRule,
  CheckOutcome,
  HostContext,
  ProjectContext,
  RawFinding,
  ResolvedOptions,
  TargetContexts,
} from './types.js';
import { hypothesisResults, manualResults, summaryOf } from './verdicts.js';

// The audit run: opens every target that was given (config, project source, Redis and its queue
// data, host), runs the rules whose target is open, and assembles the report. What a finding
// becomes (fingerprint, suppression, order) is finalize-findings.ts's part; the verdicts over the
// findings (manual items, hypotheses, summary, exit code) are verdicts.ts's.

/**
 * Runs every rule whose target was given and returns the report. Never writes to Redis, never
 * executes project code; secrets appear only redacted.
 * @throws {AuditError} AUDIT_PATH_INVALID, AUDIT_CONFIG_INVALID, AUDIT_OPTION_INVALID
 */
export async function runAudit(options: AuditOptions): Promise<AuditReport> {
  const logger = options.logger ?? silentLogger;
  const now = options.now ?? (() => new Date());
  const startedAt = now().toISOString();
  const resolved = resolveOptions(options);
  validateNumbers(resolved);
  const disabled = new Set(options.disable ?? []);
  const known = new Set(RULES.map((rule) => rule.id));
  for (const id of [...disabled, ...Object.keys(options.severity ?? {})]) {
    if (!known.has(id)) {
      throw new AuditError(
        'AUDIT_OPTION_INVALID',
        `unknown rule id "${id}"; expected one of ${[...known].join(', ')}`,
      );
    }
  }
  const targets: TargetStatus[] = [];
  const raw: { rule: AnyRule; finding: RawFinding }[] = [];
  const unknown: AuditReport['unknown'] = [];
  const errors: AuditReport['errors'] = [];
  const notes: string[] = [];
  const contexts: Partial<TargetContexts> = {};
  const cleanups: (() => Promise<void> | void)[] = [];
  let tree: ProjectTree | null = null;
  let php: PhpIndex | null = null;
  let sample: QueueSample | null = null;

  try {
    if (options.config !== undefined) {
      const path = options.configPath ?? 'qscale.yml';
      contexts['autoscaler-config'] = {
        config: parseAuditedConfig(options.config, path),
        path,
        options: resolved,
      };
      targets.push({ kind: 'autoscaler-config', ref: path, status: 'scanned' });
    }
    if (options.path !== undefined) {
      tree = await openProject(resolve(options.path), resolved);
      const phpTotal = tree.files.filter(isPhpPath).length;
      let done = 0;
      php = await indexPhp(tree, (file, failed) => {
        done++;
        if (done % 25 === 0 || done === phpTotal)
          options.onProgress?.({ phase: 'index', done, total: phpTotal, failed, current: file });
      });
      const project: ProjectContext = { tree, php, options: resolved, logger };
      const hasPhp = phpTotal > 0;
      const hasNode = tree.files.some((f) => /\.(ts|tsx|js|mjs|cjs|jsx)$/.test(f));
      const state: TargetState = php.parseErrors.length > 0 ? 'partial' : 'scanned';
      if (hasPhp || !hasNode) {
        contexts['laravel-src'] = project;
        targets.push({
          kind: 'laravel-src',
          ref: options.path,
          status: state,
          ...(php.parseErrors.length > 0
            ? {
                error: parseErrorSummary(php.parseErrors),
                unparsed: php.parseErrors.length,
              }
            : {}),
        });
      }
      if (hasNode) {
        contexts['node-src'] = project;
        targets.push({ kind: 'node-src', ref: options.path, status: 'scanned' });
      }
      for (const error of php.parseErrors.slice(0, 20))
        notes.push(
          error.regions
            ? `partly parsed: ${error.path}: ${error.message}`
            : `not parsed: ${error.path}: ${error.message}`,
        );
    }
    if (options.redis) {
      const connection = await connectRedis(options.redis, logger);
      if ('error' in connection) {
        targets.push({
          kind: 'redis',
          ref: connection.ref,
          status: 'unreachable',
          error: connection.error,
        });
        if (options.queueData !== false)
          targets.push({
            kind: 'queue-data',
            ref: connection.ref,
            status: 'unreachable',
            error: connection.error,
          });
      } else {
        cleanups.push(() => connection.context.redis.disconnect());
        contexts.redis = { ...connection.context, options: resolved };
        targets.push({ kind: 'redis', ref: connection.context.ref, status: 'scanned' });
        if (options.queueData !== false) {
          try {
            sample = await sampleQueues(connection.context.redis, {
              maxKeys: resolved.sampleKeys,
              perKey: resolved.sampleItemsPerKey,
            });
            const known = php
              ? new Set(
                  [...php.classes.values()].filter((c) => php?.isQueued(c.fqn)).map((c) => c.fqn),
                )
              : null;
            const encrypted = php
              ? new Set([...(known ?? [])].filter((fqn) => php?.isEncrypted(fqn)))
              : null;
            contexts['queue-data'] = {
              sample,
              ref: connection.context.ref,
              knownClasses: known && known.size > 0 ? known : null,
              encryptedClasses: encrypted,
              options: resolved,
            };
            const partial = sample.refused.length > 0;
            targets.push({
              kind: 'queue-data',
              ref: connection.context.ref,
              status: partial ? 'partial' : 'scanned',
              ...(partial ? { error: `NOPERM: ${sample.refused.slice(0, 3).join(', ')}` } : {}),
            });
            notes.push(
              `queue sample: ${sample.keysScanned} keys scanned (cap ${resolved.sampleKeys}), ${sample.items.length} items read (cap ${resolved.sampleItemsPerKey} per key)${sample.truncated ? ', truncated' : ''}`,
            );
          } catch (error) {
            targets.push({
              kind: 'queue-data',
              ref: connection.context.ref,
              status: 'failed',
              error: (error as Error).message,
            });
            errors.push({ target: 'queue-data', ruleId: null, message: (error as Error).message });
          }
        }
      }
    }
    if (options.host) {
      const host = typeof options.host === 'object' ? options.host : {};
      const files = host.files ?? (await defaultHostFiles(options, tree));
      const context: HostContext = {
        procRoot: host.procRoot ?? '/proc',
        unitDirs: host.unitDirs ?? DEFAULTS.unitDirs,
        files,
        phpIniFiles: host.phpIniFiles ?? (await defaultPhpIniFiles()),
        workerPatterns: host.workerPatterns ?? DEFAULTS.workerPatterns,
        options: resolved,
      };
      contexts.host = context;
      targets.push({ kind: 'host', ref: host.procRoot ?? '/proc', status: 'scanned' });
    }

    const runnable = RULES.filter(
      (rule) => !disabled.has(rule.id) && contexts[rule.target] !== undefined,
    );
    for (const [index, rule] of runnable.entries()) {
      options.onProgress?.({
        phase: 'rules',
        done: index,
        total: runnable.length,
        current: rule.id,
      });
      let result: CheckOutcome;
      try {
        result = await (rule.check as (context: unknown) => Promise<CheckOutcome> | CheckOutcome)(
          contexts[rule.target],
        );
      } catch (error) {
        const message = `${rule.id} failed: ${(error as Error).message}`;
        logger.error('audit rule crashed', { ruleId: rule.id, error: (error as Error).message });
        errors.push({ target: rule.target, ruleId: rule.id, message });
        const status = targets.find((t) => t.kind === rule.target);
        if (status) {
          status.status = 'failed';
          status.error = message;
        }
        continue;
      }
      if (result.unknown !== undefined)
        unknown.push({ ruleId: rule.id, target: rule.target, reason: result.unknown });
      for (const finding of result.findings) raw.push({ rule, finding });
    }
    options.onProgress?.({
      phase: 'rules',
      done: runnable.length,
      total: runnable.length,
      current: 'done',
    });
  } finally {
    for (const cleanup of cleanups) await cleanup();
  }

  const redisRef = contexts.redis?.ref ?? '';
  const findings = await finalize(raw, tree, options, redisRef);
  for (const target of targets) {
    if (target.status === 'scanned' && unknown.some((u) => u.target === target.kind))
      target.status = 'partial';
  }
  const manual = manualResults(findings, options);
  const hypotheses = hypothesisResults(findings, targets, unknown, manual, disabled);
  const summary = summaryOf(findings, manual, unknown);

  const classes = php ? [...php.classes.values()].filter((c) => php?.isQueued(c.fqn)) : [];
  return {
    schemaVersion: '1.0',
    tool: { name: '@qscale/audit-rules', version: TOOL_VERSION, rulesVersion: RULES_VERSION },
    run: {
      startedAt,
      finishedAt: now().toISOString(),
      gitSha: options.path ? await gitSha(resolve(options.path)) : null,
      targets,
    },
    scope: {
      project: options.path ? basename(resolve(options.path)) : null,
      phpFiles: php?.files.length ?? 0,
      nodeFiles: tree?.files.filter((f) => /\.(ts|tsx|js|mjs|cjs|jsx)$/.test(f)).length ?? 0,
      queuedClasses: classes.length,
      jobCategories: categorize(classes.map((c) => c.shortName)),
      keyFiles: tree
        ? tree.files.filter((f) =>
            /^config\/(queue|horizon|database)\.php$|^app\/Providers\/HorizonServiceProvider\.php$/.test(
              f,
            ),
          )
        : [],
      queueSample: sample
        ? {
            keysScanned: sample.keysScanned,
            items: sample.items.length,
            truncated: sample.truncated,
          }
        : null,
    },
    summary,
    findings,
    unknown,
    manual,
    hypotheses,
    notes,
    errors,
  };
}

function validateNumbers(options: ResolvedOptions): void {
  for (const name of [
    'maxFileBytes',
    'payloadWarnBytes',
    'payloadHighBytes',
    'sampleKeys',
    'sampleItemsPerKey',
    'hostCores',
  ] as const) {
    const value = options[name];
    if (!Number.isInteger(value) || value < 1) {
      throw new AuditError(
        'AUDIT_OPTION_INVALID',
        `option ${name}: expected a whole number >= 1, got ${String(value)}`,
      );
    }
  }
}

async function defaultHostFiles(
  options: AuditOptions,
  tree: ProjectTree | null,
): Promise<string[]> {
  const files: string[] = [];
  if (options.configPath) files.push(resolve(options.configPath));
  if (tree) {
    for (const file of tree.files) {
      if (/^config\/[\w-]+\.php$/.test(file) || /^\.env(\.production)?$/.test(file))
        files.push(join(tree.root, file));
    }
    for (const env of ['.env', '.env.production']) {
      const full = join(tree.root, env);
      if (!files.includes(full) && (await stat(full).catch(() => null))) files.push(full);
    }
  }
  return files;
}
