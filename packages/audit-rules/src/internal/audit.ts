import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { silentLogger } from '@qscale/contracts';
import { Redis } from 'ioredis';
import { HYPOTHESES, MANUAL_ITEMS, RULES, RUNNER_RULES } from './catalog.js';
import { parseAuditedConfig } from './config-shape.js';
import { AuditError } from './errors.js';
import { groupRepeated } from './grouping.js';
import type { ManualAnswer } from './manual.js';
import { type AuditOptions, DEFAULTS, resolveOptions } from './options.js';
import { indexPhp, isPhpPath, type PhpIndex } from './php/index-project.js';
import { openProject, type ProjectTree } from './project.js';
import { type QueueSample, sampleQueues } from './queue-sample.js';
import { defaultPhpIniFiles } from './rules/host.js';
import { isLocalHost } from './rules/laravel-config.js';
import type {
  AnyRule,
  CheckOutcome,
  Confidence,
  HostContext,
  Location,
  ProjectContext,
  RawFinding,
  ResolvedOptions,
  SeedId,
  Severity,
  Target,
  TargetContexts,
} from './types.js';

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

const SEVERITY_ORDER: Record<Severity, number> = { critical: 0, high: 1, medium: 2, low: 3 };

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
  const open = findings.filter((f) => f.status === 'open');
  const ranTargets = new Set(
    targets.filter((t) => t.status !== 'unreachable' && t.status !== 'skipped').map((t) => t.kind),
  );
  const partialTargets = new Set(targets.filter((t) => t.status === 'partial').map((t) => t.kind));
  const manual = MANUAL_ITEMS.map((item): ManualResult => {
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
  const hypotheses = HYPOTHESES.map((h): HypothesisResult => {
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

const CATEGORIES: [string, RegExp][] = [
  ['Deployment', /Deploy|Rollback|PullRequest|Build/],
  ['Server', /Server|Install|Validate|Provision/],
  ['Database', /Backup|Restore|Database/],
  ['Container', /Container|Docker|Volume|Proxy/],
  ['Monitoring', /Sentinel|Check|Status|Heartbeat|Metrics/],
  ['Notifications', /Send|Notify|Mail|Message|Webhook/],
];

function categorize(names: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of names) {
    const category = CATEGORIES.find(([, regex]) => regex.test(name))?.[0] ?? 'Other';
    out[category] = (out[category] ?? 0) + 1;
  }
  return out;
}

export function locationText(location: Location): string {
  if (location.path && location.startLine) return `${location.path}:${location.startLine}`;
  return location.path ?? location.resource ?? '';
}

const INLINE =
  /(?:\/\/|#|\/\*|\*|<!--|;)\s*(?:qscale-audit-ignore\s+([A-Z][A-Z0-9]*-\d+[A-Z]?)|audit-ignore\[([A-Z][A-Z0-9]*-\d+[A-Z]?)\])\s*(?::\s*(.*?))?\s*(?:\*\/|-->)?\s*$/;

async function finalize(
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

interface RedisConnection {
  context: Omit<TargetContexts['redis'], 'options'>;
}

/** The URL without user or password, for reports. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username || parsed.password) {
      parsed.username = parsed.password ? '***' : parsed.username;
      parsed.password = '';
    }
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return '<invalid url>';
  }
}

async function connectRedis(
  redis: NonNullable<AuditOptions['redis']>,
  logger: AuditOptions['logger'] & object,
): Promise<RedisConnection | { error: string; ref: string }> {
  const ref = redactUrl(redis.url);
  let url: URL;
  try {
    url = new URL(redis.url);
  } catch {
    throw new AuditError(
      'AUDIT_OPTION_INVALID',
      `--redis ${ref}: not a URL, expected redis://[user:password@]host:port[/db]`,
    );
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new AuditError(
      'AUDIT_OPTION_INVALID',
      `--redis ${ref}: unsupported scheme ${url.protocol}, expected redis:// or rediss://`,
    );
  }
  const tls = redis.tls ?? url.protocol === 'rediss:';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 6379);
  const db = Number(url.pathname.slice(1) || 0);
  const common = {
    host,
    port,
    db,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 5_000,
    enableOfflineQueue: false,
    // The audit user may lack INFO; the ready check would only warn on the console.
    enableReadyCheck: false,
    ...(tls ? { tls: {} } : {}),
  };
  const anonymous = new Redis(common);
  anonymous.on('error', () => {});
  let anonymousPing: string;
  try {
    await anonymous.connect();
    anonymousPing = String(await anonymous.ping());
  } catch (error) {
    anonymousPing = (error as Error).message;
  } finally {
    anonymous.disconnect();
  }
  const username = redis.username ?? (decodeURIComponent(url.username) || undefined);
  const password = redis.password ?? (decodeURIComponent(url.password) || undefined);
  const client = new Redis({
    ...common,
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
  });
  client.on('error', (error: Error) =>
    logger.debug('redis client error', { error: error.message }),
  );
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    client.disconnect();
    return { error: (error as Error).message, ref };
  }
  return { context: { redis: client, ref, host, local: isLocalHost(host), tls, anonymousPing } };
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

/** The commit checked out at `path`, read from .git files (no git process). */
async function gitSha(path: string): Promise<string | null> {
  let dir = path;
  for (let i = 0; i < 20; i++) {
    const gitDir = join(dir, '.git');
    const head = await readFile(join(gitDir, 'HEAD'), 'utf8').catch(() => null);
    if (head !== null) {
      const ref = /^ref: (.+)$/m.exec(head)?.[1];
      if (!ref) return head.trim() || null;
      const loose = await readFile(join(gitDir, ref), 'utf8').catch(() => null);
      if (loose) return loose.trim();
      const packed = await readFile(join(gitDir, 'packed-refs'), 'utf8').catch(() => '');
      return (
        new RegExp(`^([0-9a-f]{40}) ${ref.replace(/[/.]/g, '\\$&')}$`, 'm').exec(packed)?.[1] ??
        null
      );
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return null;
}

/**
 * 3 incomplete (a requested target unreachable or failed, or source files that did not parse)
 * > 1 findings at or above `failOn` > 0. A check that could not decide (NOPERM on a locked
 * server) leaves its hypotheses unknown but is not incomplete: the target was audited.
 */
/** `1 PHP file(s) could not be parsed, 2 parsed in part` (a part never counts as parsed). */
function parseErrorSummary(errors: PhpIndex['parseErrors']): string {
  const partial = errors.filter((error) => error.regions).length;
  const failed = errors.length - partial;
  const parts = [
    ...(failed > 0 ? [`${failed} PHP file(s) could not be parsed`] : []),
    ...(partial > 0 ? [`${partial} PHP file(s) parsed only in part`] : []),
  ];
  return parts.join(', ');
}

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
