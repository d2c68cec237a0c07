import { availableParallelism } from 'node:os';
import type { Logger } from '@qscale/contracts';
import type { Baseline } from './baseline.js';
import type { ManualAnswers } from './manual.js';
import type { ResolvedOptions, Severity } from './types.js';

/** Every default of the audit in one place. */
export const DEFAULTS = {
  /** Globs (relative to --path) never scanned, on top of .gitignore. @defaultValue node_modules, vendor, dist, build, coverage, storage, bootstrap/cache */
  exclude: [
    '**/node_modules/**',
    '**/vendor/**',
    '**/dist/**',
    '**/build/**',
    '**/coverage/**',
    '**/.turbo/**',
    'storage/**',
    'bootstrap/cache/**',
    '**/*.min.js',
  ] as readonly string[],
  /** Scan test files and fixtures too. @defaultValue false */
  includeTests: false,
  /** Env files read for env() values, first found wins; `.env.example` never. @defaultValue `.env`, `.env.production` */
  envFiles: ['.env', '.env.production'] as readonly string[],
  /**
   * P-SINK-REMOTE: extra project functions or methods whose first argument is a command run on a
   * remote host. Wrappers are recognised from their bodies (project-facts.ts), so this is only for
   * helpers whose body is outside the scanned tree. @defaultValue none
   */
  remoteSinks: [] as readonly string[],
  /** Extra functions whose output is safe in a shell command; wrappers of escapeshellarg are recognised from their bodies. @defaultValue none */
  escapers: [] as readonly string[],
  /** Extra functions that validate a value for shell use; validators with a strict regex are recognised from their bodies. @defaultValue none */
  validators: [] as readonly string[],
  /** Functions that redact secrets from messages and logs. @defaultValue redact, sanitize */
  redactors: ['redact', 'sanitize'] as readonly string[],
  /** Model attributes validated on write (their interpolation is trusted). @defaultValue none */
  validatedAttributes: [] as readonly string[],
  /** Files larger than this are skipped. @defaultValue 2 MiB */
  maxFileBytes: 2 * 1024 * 1024,
  /** RDQ-003 warns above this payload size. @defaultValue 256 KiB */
  payloadWarnBytes: 256 * 1024,
  /** RDQ-003 reports high above this payload size. @defaultValue 1 MiB */
  payloadHighBytes: 1024 * 1024,
  /** Keys looked at by the queue-data sample (SCAN). @defaultValue 10000 */
  sampleKeys: 10_000,
  /** Items read from each list or sorted set. @defaultValue 200 */
  sampleItemsPerKey: 200,
  /** Job class prefixes that are never "unexpected" (RDQ-004). */
  vendorClassPrefixes: ['Illuminate\\', 'Laravel\\', 'Spatie\\', 'Livewire\\'] as readonly string[],
  /** Supervisor and systemd unit directories read by the host checks. */
  unitDirs: [
    '/etc/supervisor/conf.d',
    '/etc/supervisord.d',
    '/etc/systemd/system',
  ] as readonly string[],
  /** Process command lines that are queue workers or the autoscaler (host checks). */
  workerPatterns: [
    /\bartisan\s+(queue:work|queue:listen|horizon)(\S*)?\b/,
    /\bqscaled?\b.*(\bstart\b|--config)/,
    /\bsidekiq\b/,
    /\brq\s+worker\b/,
    /\bcelery\b.*\bworker\b/,
  ] as readonly RegExp[],
} as const;

/** Where the host checks look; every field has a default (see DEFAULTS). */
export interface HostOptions {
  /** @defaultValue `/proc` */
  procRoot?: string;
  /** Supervisor/systemd unit directories. @defaultValue DEFAULTS.unitDirs */
  unitDirs?: readonly string[];
  /** Files whose modes SUP-002 checks. @defaultValue the config file, config/*.php and .env of --path */
  files?: readonly string[];
  /** PHP ini files QUE-005 reads. @defaultValue /etc/php/X/{cli,fpm}/php.ini, /usr/local/etc/php/php.ini */
  phpIniFiles?: readonly string[];
  /** Command lines that are workers. @defaultValue DEFAULTS.workerPatterns */
  workerPatterns?: readonly RegExp[];
}

export interface AuditOptions {
  /** Project tree to scan (Laravel and/or Node). */
  path?: string;
  /** Resolved qscale config (`loadConfig()`'s result), checked by the autoscaler-config rules. */
  config?: unknown;
  /** Where `config` came from, shown as the location of its findings. @defaultValue `qscale.yml` */
  configPath?: string;
  /** Live Redis to check (read-only). Credentials are never printed. */
  redis?: { url: string; username?: string | null; password?: string | null; tls?: boolean };
  /** Sample queue contents on that Redis. @defaultValue true when `redis` is given */
  queueData?: boolean;
  /** Run the host checks (/proc, unit files, file modes); an object overrides where they look. @defaultValue false */
  host?: boolean | HostOptions;
  /** Reviewers' answers to manual items (audit-manual.yml); stale answers re-open. */
  manualAnswers?: ManualAnswers | null;
  /** Findings accepted earlier, by fingerprint. */
  baseline?: Baseline | null;
  /** Where the baseline came from, for AUD-002 locations. */
  baselinePath?: string;
  /** Rule ids to skip. */
  disable?: readonly string[];
  /** Severity overrides per rule id. */
  severity?: Readonly<Record<string, Severity>>;
  logger?: Logger;
  /** Progress of a long scan (files indexed, rules run); the CLI renders it. */
  onProgress?: (progress: AuditProgress) => void;
  /** Clock for the report's timestamps. @defaultValue () => new Date() */
  now?: () => Date;
  exclude?: readonly string[];
  includeTests?: boolean;
  envFiles?: readonly string[];
  remoteSinks?: readonly string[];
  escapers?: readonly string[];
  validators?: readonly string[];
  redactors?: readonly string[];
  validatedAttributes?: readonly string[];
  maxFileBytes?: number;
  payloadWarnBytes?: number;
  payloadHighBytes?: number;
  sampleKeys?: number;
  sampleItemsPerKey?: number;
  /** CPU cores the worker ceilings are compared with. @defaultValue os.availableParallelism() */
  hostCores?: number;
  vendorClassPrefixes?: readonly string[];
}

export interface AuditProgress {
  phase: 'index' | 'rules';
  done: number;
  total: number;
  /** Files of `done` that could not be parsed (index phase). */
  failed?: number;
  /** File being indexed or rule being run. */
  current: string;
}

export function resolveOptions(options: AuditOptions): ResolvedOptions {
  return {
    exclude: options.exclude ?? DEFAULTS.exclude,
    includeTests: options.includeTests ?? DEFAULTS.includeTests,
    envFiles: options.envFiles ?? DEFAULTS.envFiles,
    remoteSinks: options.remoteSinks ?? DEFAULTS.remoteSinks,
    escapers: options.escapers ?? DEFAULTS.escapers,
    validators: options.validators ?? DEFAULTS.validators,
    redactors: options.redactors ?? DEFAULTS.redactors,
    validatedAttributes: options.validatedAttributes ?? DEFAULTS.validatedAttributes,
    maxFileBytes: options.maxFileBytes ?? DEFAULTS.maxFileBytes,
    payloadWarnBytes: options.payloadWarnBytes ?? DEFAULTS.payloadWarnBytes,
    payloadHighBytes: options.payloadHighBytes ?? DEFAULTS.payloadHighBytes,
    sampleKeys: options.sampleKeys ?? DEFAULTS.sampleKeys,
    sampleItemsPerKey: options.sampleItemsPerKey ?? DEFAULTS.sampleItemsPerKey,
    hostCores: options.hostCores ?? availableParallelism(),
    vendorClassPrefixes: options.vendorClassPrefixes ?? DEFAULTS.vendorClassPrefixes,
  };
}
