import type { Logger } from '@qscale/contracts';
import type { Redis } from 'ioredis';
import type { AuditedConfig } from './config-shape.js';
import type { PhpIndex } from './php/index-project.js';
import type { ProjectTree } from './project.js';
import type { QueueSample } from './queue-sample.js';

/** How bad a finding is; `manual` items are never findings. */
export type Severity = 'critical' | 'high' | 'medium' | 'low';
export const SEVERITIES: readonly Severity[] = ['critical', 'high', 'medium', 'low'];

/**
 * How sure a finding is. `traced`: the rule saw the whole path (a user-controlled value reaches
 * the sink, or a fact of the config or host). `review`: a value of unknown origin reaches a
 * sink: worth reading, not a confirmed weakness, and never counted by `--fail-on`.
 */
export type Confidence = 'traced' | 'review';

/** What a rule reads (the catalogue's six targets). */
export type Target =
  | 'autoscaler-config'
  | 'redis'
  | 'queue-data'
  | 'host'
  | 'laravel-src'
  | 'node-src';
export const TARGETS: readonly Target[] = [
  'autoscaler-config',
  'redis',
  'queue-data',
  'host',
  'laravel-src',
  'node-src',
];

/** A seed item: `S1:JOB-001` … `S1:JOB-028` (the jobs-and-queues plan) or `S2:*` (the checklist). */
export type SeedId = `S1:JOB-${string}` | `S2:${string}`;

/** Where a finding is: a file position, or a runtime resource (Redis key, PID, config path). */
export interface Location {
  /** Path relative to the scanned root (source), or an absolute path (host files). */
  path?: string;
  startLine?: number;
  startColumn?: number;
  endLine?: number;
  endColumn?: number;
  /** Runtime resource: `redis key bull:emails:7 field data`, `pid 123`, `queues.emails.command`. */
  resource?: string;
}

/** What a check reports; the runner adds the rule's identity, a fingerprint and the status. */
export interface RawFinding {
  message: string;
  /** Overrides the rule's severity (e.g. critical for untrusted provenance). */
  severity?: Severity;
  /** @defaultValue 'traced' */
  confidence?: Confidence;
  /**
   * Findings of one rule with the same group (the sink function) are reported as one finding
   * with its places: a wrapper called in 96 places is one thing to read and fix.
   */
  group?: string;
  location: Location;
  /** Already redacted: never a secret's value. */
  evidence?: string;
  /** Stable identity of a runtime finding (key, field, class); source findings use the snippet. */
  key?: string;
}

/** A check's answer: findings, or `unknown` when it could not decide (NOPERM, value not found). */
export interface CheckOutcome {
  findings: RawFinding[];
  /** Why the check could not decide; the check is then listed as unknown, not passed. */
  unknown?: string;
}

export interface ProjectContext {
  tree: ProjectTree;
  php: PhpIndex;
  options: ResolvedOptions;
  logger: Logger;
}

export interface RedisContext {
  /** Connected with the credentials the user gave. */
  redis: Redis;
  /** The URL without credentials, for reports. */
  ref: string;
  host: string;
  /** True when the server is reached over loopback or a unix socket. */
  local: boolean;
  tls: boolean;
  /** Reply to PING on a connection without any credentials: PONG, NOAUTH ..., or an error. */
  anonymousPing: string;
  options: ResolvedOptions;
}

export interface QueueDataContext {
  sample: QueueSample;
  ref: string;
  /** Queued classes found in the scanned Laravel tree (for RDQ-004), when a tree was scanned. */
  knownClasses: ReadonlySet<string> | null;
  encryptedClasses: ReadonlySet<string> | null;
  options: ResolvedOptions;
}

export interface HostContext {
  procRoot: string;
  unitDirs: readonly string[];
  files: readonly string[];
  phpIniFiles: readonly string[];
  workerPatterns: readonly RegExp[];
  options: ResolvedOptions;
}

export interface ConfigContext {
  config: AuditedConfig;
  /** The config file path, shown as the location. */
  path: string;
  options: ResolvedOptions;
}

export interface TargetContexts {
  'autoscaler-config': ConfigContext;
  redis: RedisContext;
  'queue-data': QueueDataContext;
  host: HostContext;
  'laravel-src': ProjectContext;
  'node-src': ProjectContext;
}

/** One executable check from the catalogue. */
export interface Rule<T extends Target = Target> {
  /** Catalogue id, e.g. `JOB-015`; sub-rules carry a letter suffix (`JOB-006Q`). */
  readonly id: string;
  readonly title: string;
  /** Default severity; a finding may raise or lower it. */
  readonly severity: Severity;
  readonly target: T;
  /** Seed items this rule helps decide. */
  readonly covers: readonly SeedId[];
  /** What the rule looks for, one or two sentences (SARIF fullDescription). */
  readonly description: string;
  /** How to fix a finding (SARIF help, Markdown "Fix"). */
  readonly fix: string;
  readonly cwe?: readonly string[];
  check(context: TargetContexts[T]): Promise<CheckOutcome> | CheckOutcome;
}

export type AnyRule = { [T in Target]: Rule<T> }[Target];

/** Options after defaults are applied; see `AuditOptions` for their meaning. */
export interface ResolvedOptions {
  exclude: readonly string[];
  includeTests: boolean;
  envFiles: readonly string[];
  remoteSinks: readonly string[];
  escapers: readonly string[];
  validators: readonly string[];
  redactors: readonly string[];
  validatedAttributes: readonly string[];
  maxFileBytes: number;
  payloadWarnBytes: number;
  payloadHighBytes: number;
  sampleKeys: number;
  sampleItemsPerKey: number;
  hostCores: number;
  vendorClassPrefixes: readonly string[];
}
