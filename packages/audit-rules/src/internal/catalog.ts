import { aut001, aut002, aut003, cfg001, cfg002, cfg003, cfg004, cfg005 } from './rules/config.js';
import { job023, que005, rds007, sup001, sup002 } from './rules/host.js';
import {
  job006,
  job006q,
  job007,
  job007h,
  job008,
  job010,
  job011,
  job013,
  job014,
  job015,
  job015c,
  job016,
  job019,
  job020,
  job021,
} from './rules/laravel-commands.js';
import {
  hzn001,
  hzn002,
  hzn003,
  job022,
  que001,
  que002,
  que003,
  que004,
} from './rules/laravel-config.js';
import { job029, job030, job031, job032 } from './rules/laravel-flows.js';
import { job004, job028 } from './rules/laravel-job-authorization.js';
import { job017, job018 } from './rules/laravel-job-host-effects.js';
import { job005, job009 } from './rules/laravel-job-leaks.js';
import { job001, job002, job002m, job003 } from './rules/laravel-job-payloads.js';
import { job024, job025 } from './rules/laravel-job-retries.js';
import { job026, job027 } from './rules/laravel-job-scheduler.js';
import { node001, node002, node003, node004 } from './rules/node.js';
import { rdq001, rdq002, rdq003, rdq004 } from './rules/queue-data.js';
import { rds001, rds002, rds003, rds004, rds005, rds006 } from './rules/redis.js';
import { sec001, sec001n } from './rules/secrets.js';
import type { AnyRule, SeedId } from './types.js';

/** Every automated check, grouped by target in the order reports list them. */
export const RULES: readonly AnyRule[] = Object.freeze([
  aut001,
  aut002,
  aut003,
  cfg001,
  cfg002,
  cfg003,
  cfg004,
  cfg005,
  rds001,
  rds002,
  rds003,
  rds004,
  rds005,
  rds006,
  rdq001,
  rdq002,
  rdq003,
  rdq004,
  job023,
  sup001,
  sup002,
  rds007,
  que005,
  job001,
  job002,
  job002m,
  job003,
  job004,
  job005,
  job006,
  job006q,
  job007,
  job007h,
  job008,
  job009,
  job010,
  job011,
  job013,
  job014,
  job015,
  job015c,
  job016,
  job017,
  job018,
  job019,
  job020,
  job021,
  job024,
  job025,
  job026,
  job027,
  job028,
  job029,
  job030,
  job031,
  job032,
  job022,
  que001,
  que002,
  que003,
  que004,
  hzn001,
  hzn002,
  hzn003,
  sec001,
  node001,
  node002,
  node003,
  node004,
  sec001n,
] as AnyRule[]);

/** Findings the runner itself emits (about suppressions), listed for SARIF and the README. */
export const RUNNER_RULES = Object.freeze([
  {
    id: 'AUD-001',
    title: 'Inline suppression without a reason',
    severity: 'low' as const,
    description:
      'A qscale-audit-ignore comment names a rule but gives no reason after the colon; the finding it meant to hide stays open.',
    fix: 'Write why the finding is accepted: `qscale-audit-ignore RULE-ID: reason`.',
  },
  {
    id: 'AUD-002',
    title: 'Baseline entry without a reason',
    severity: 'low' as const,
    description: 'A baseline entry has no reason; the finding it meant to hide stays open.',
    fix: 'Add a reason to each baseline entry.',
  },
]);

export interface Hypothesis {
  id: SeedId;
  title: string;
}

/** The seed hypotheses: the jobs-and-queues audit plan (S1) and the autoscaler checklist (S2). */
export const HYPOTHESES: readonly Hypothesis[] = Object.freeze([
  { id: 'S1:JOB-001', title: 'User input reaching jobs is validated and bounded' },
  { id: 'S1:JOB-002', title: 'Serialized jobs carry no plaintext secrets' },
  { id: 'S1:JOB-003', title: 'Job payload sizes are limited' },
  { id: 'S1:JOB-004', title: 'Job handlers re-check authorization' },
  { id: 'S1:JOB-005', title: "Failed jobs don't reveal secrets" },
  { id: 'S1:JOB-006', title: 'Deployment commands are built safely' },
  { id: 'S1:JOB-007', title: 'Git credentials are not exposed' },
  { id: 'S1:JOB-008', title: 'Docker build args carry no secrets' },
  { id: 'S1:JOB-009', title: 'Logs are sanitized' },
  { id: 'S1:JOB-010', title: 'Rollback refs are validated' },
  { id: 'S1:JOB-011', title: 'SSH commands are built safely' },
  { id: 'S1:JOB-012', title: 'Server validation commands are safe and least-privileged' },
  { id: 'S1:JOB-013', title: 'Install scripts are verified' },
  { id: 'S1:JOB-014', title: 'Provisioning commands validate package names' },
  { id: 'S1:JOB-015', title: 'Backup commands are built safely' },
  { id: 'S1:JOB-016', title: 'Backup storage credentials are protected' },
  { id: 'S1:JOB-017', title: 'Restores are guarded' },
  { id: 'S1:JOB-018', title: 'Temp files are cleaned up' },
  { id: 'S1:JOB-019', title: 'Container names and ids are validated' },
  { id: 'S1:JOB-020', title: 'Docker commands are built safely' },
  { id: 'S1:JOB-021', title: 'Containers and workers have resource limits' },
  { id: 'S1:JOB-022', title: 'The queue connection is authenticated and encrypted' },
  { id: 'S1:JOB-023', title: 'Workers are isolated and unprivileged' },
  { id: 'S1:JOB-024', title: 'Retry policies are bounded and safe' },
  { id: 'S1:JOB-025', title: 'Failed jobs are handled and kept' },
  { id: 'S1:JOB-026', title: 'User-defined crons are validated' },
  { id: 'S1:JOB-027', title: 'Scheduled commands cannot be injected' },
  { id: 'S1:JOB-028', title: 'Scheduled tasks are authorized' },
  { id: 'S2:non-root', title: 'Workers run as a dedicated non-root user' },
  { id: 'S2:worker-caps', title: 'Worker counts, CPU and memory are capped' },
  { id: 'S2:supervisor', title: 'The autoscaler runs under a process supervisor' },
  { id: 'S2:graceful-shutdown', title: 'Workers get a graceful timeout before SIGKILL' },
  { id: 'S2:no-shell', title: 'Workers are spawned from explicit command arrays (no shell)' },
  { id: 'S2:config-class-names', title: 'Config that names classes/commands is protected' },
  { id: 'S2:validated-inputs', title: 'Inputs reaching worker argv are validated' },
  { id: 'S2:queue-backend-secured', title: 'The queue backend is secured' },
  { id: 'S2:network-isolation', title: 'The queue backend is network-isolated' },
  { id: 'S2:least-privilege', title: 'The Redis user has least privilege' },
  { id: 'S2:safe-defaults', title: 'Defaults are safe (no silent job loss)' },
  { id: 'S2:up-to-date', title: 'Dependencies and the metrics package are up to date' },
  {
    id: 'S2:policies-expose-nothing',
    title: 'Policies and status endpoints expose no sensitive data',
  },
  { id: 'S2:monitor-logs', title: 'Logs are monitored and reviewed' },
  { id: 'S2:review-strategies', title: 'Custom strategies and policies are reviewed' },
]);

export interface ManualItem {
  seed: SeedId;
  /** Why a tool cannot decide it. */
  why: string;
  /** Rules whose findings are collected as evidence for the reviewer. */
  evidenceRules: readonly string[];
  checklist: readonly string[];
}

/** What cannot be automated (catalogue §2): reported for review with the evidence collected. */
export const MANUAL_ITEMS: readonly ManualItem[] = Object.freeze([
  {
    seed: 'S1:JOB-004',
    why: 'Who may trigger a job is business logic; a missing check may live in the caller.',
    evidenceRules: ['JOB-004', 'JOB-028', 'JOB-001'],
    checklist: [
      'For each job: which actor can cause it?',
      'Is tenant ownership re-checked in handle()?',
      'What if the resource moved team between dispatch and execution?',
    ],
  },
  {
    seed: 'S1:JOB-006',
    why: 'Deployers may run their own build/start commands by design; whether code runs inside the tenant boundary is a design question (also JOB-020/027).',
    evidenceRules: ['JOB-006', 'JOB-006Q', 'JOB-020', 'JOB-027'],
    checklist: [
      'User commands run only in the tenant container or build helper',
      'They have timeouts',
      "They cannot reach the control plane data or other tenants' keys",
    ],
  },
  {
    seed: 'S1:JOB-009',
    why: 'Whether every secret is redacted depends on runtime values.',
    evidenceRules: ['JOB-009', 'JOB-005', 'RDQ-002'],
    checklist: [
      'Seed a canary secret (CANARY_TOKEN=audit-<random>)',
      'Run a deployment',
      'Grep every log store for the canary',
    ],
  },
  {
    seed: 'S1:JOB-010',
    why: 'Rollback correctness (images kept, reversible migrations, health-checked switch) is behavioural.',
    evidenceRules: ['JOB-010'],
    checklist: ['Run a rollback drill', 'Measure time to restore', 'Check schema compatibility'],
  },
  {
    seed: 'S1:JOB-012',
    why: 'Probe commands are mostly constants; the question is whether they need root.',
    evidenceRules: ['JOB-006', 'JOB-011'],
    checklist: ['List the probe commands', 'Decide the least privilege managed servers need'],
  },
  {
    seed: 'S1:JOB-013',
    why: 'Trusting a vendor installer is a policy decision.',
    evidenceRules: ['JOB-013'],
    checklist: ['Record the decision', 'Pin and verify where possible'],
  },
  {
    seed: 'S1:JOB-017',
    why: 'Which restores need confirmation and which data may be overwritten is product policy.',
    evidenceRules: ['JOB-017', 'JOB-015'],
    checklist: ['Typed confirmation', 'Pre-restore snapshot', 'Audit entries for every restore'],
  },
  {
    seed: 'S1:JOB-023',
    why: 'Whether tenants share worker pools, SSH keys and Redis is architecture.',
    evidenceRules: ['JOB-023', 'JOB-020', 'CFG-002', 'RDS-007'],
    checklist: ['Do high-risk jobs (deploy, backup) need a separate worker user, queue or host?'],
  },
  {
    seed: 'S1:JOB-026',
    why: 'The minimum cron interval per plan or tenant is a business rule.',
    evidenceRules: ['JOB-026'],
    checklist: ['Set quotas and document them'],
  },
  {
    seed: 'S1:JOB-028',
    why: 'Static checks find missing authorize() calls, not broken policies or IDOR via another path.',
    evidenceRules: ['JOB-028'],
    checklist: ["User A tries B's task ids over API, Livewire and webhooks"],
  },
  {
    seed: 'S2:monitor-logs',
    why: 'Log review is a process requirement.',
    evidenceRules: [],
    checklist: [
      'Name an owner and a review cadence',
      'Check the log channel is configured and retained',
    ],
  },
  {
    seed: 'S2:review-strategies',
    why: 'Custom strategy/policy classes are code; a policy can return a target above every ceiling.',
    evidenceRules: ['AUT-001'],
    checklist: [
      'Code-review third-party strategies and policies',
      'Re-review when their hashes change',
    ],
  },
  {
    seed: 'S2:policies-expose-nothing',
    why: 'What a custom policy or status consumer does with the data is code review.',
    evidenceRules: ['CFG-001'],
    checklist: ['Review what /api/state and /metrics expose and who can reach them'],
  },
  {
    seed: 'S2:up-to-date',
    why: 'Dependency freshness is delegated to npm audit / composer audit.',
    evidenceRules: ['RDS-006'],
    checklist: [
      'Run npm audit --audit-level=high and composer audit in CI',
      'Patch or accept with an expiry',
    ],
  },
]);
