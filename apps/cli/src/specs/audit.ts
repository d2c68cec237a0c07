import { defineCommand, defineOptions, type ParsedArgs } from '../internal/spec.js';

const options = defineOptions({
  config: {
    type: 'string',
    short: 'c',
    placeholder: 'FILE',
    description: 'audit this configuration',
  },
  redis: {
    type: 'string',
    placeholder: 'URL',
    description:
      'audit this Redis and its queue data (QSCALE_AUDIT_REDIS_PASSWORD keeps a password out of the URL)',
  },
  path: {
    type: 'string',
    placeholder: 'DIR',
    description: 'audit the Laravel or Node project here',
  },
  host: {
    type: 'boolean',
    description:
      'audit this host: processes, listening ports, unit files, file modes, PHP ini (reads only)',
  },
  format: {
    type: 'string',
    choices: ['markdown', 'json', 'sarif'],
    default: 'markdown',
    description: 'the report format',
  },
  output: {
    type: 'string',
    short: 'o',
    placeholder: 'FILE',
    description: 'write the report here and print a one-line summary',
    defaultText: 'the report on stdout',
  },
  'fail-on': {
    type: 'string',
    choices: ['critical', 'high', 'medium', 'low', 'none'],
    default: 'high',
    description:
      'exit 1 when a traced finding at this severity or above is open (review items, of unknown origin, never count)',
  },
  baseline: {
    type: 'string',
    placeholder: 'FILE',
    description: 'findings accepted earlier (written by --write-baseline) are suppressed',
  },
  'write-baseline': {
    type: 'string',
    placeholder: 'FILE',
    description: 'write every open finding to this baseline file',
  },
  manual: {
    type: 'string',
    placeholder: 'FILE',
    description: 'answers to the manual checks (YAML)',
  },
  disable: {
    type: 'list',
    placeholder: 'RULE',
    description: 'skip these rules, by id (e.g. CFG-002)',
  },
  'remote-sink': {
    type: 'list',
    placeholder: 'FUNCTION',
    description:
      "your functions that run their argument as a command (on this or another host), where the audit cannot see it from their bodies (e.g. Coolify's instant_remote_process)",
  },
  escaper: {
    type: 'list',
    placeholder: 'FUNCTION',
    description: 'your functions whose result is safe in a shell command (besides escapeshellarg)',
  },
  validator: {
    type: 'list',
    placeholder: 'FUNCTION',
    description: 'your functions that check a value is safe for a shell or a path',
  },
  redactor: {
    type: 'list',
    placeholder: 'FUNCTION',
    description:
      'your functions that mask secrets in messages (replaces the default redact, sanitize)',
  },
  'include-tests': { type: 'boolean', description: 'scan test folders too' },
  'no-queue-data': { type: 'boolean', description: 'do not read job payloads from Redis' },
  'allow-partial': {
    type: 'boolean',
    description: 'exit 0 rather than 3 when a target cannot be reached or scanned',
  },
  'fail-on-manual': { type: 'boolean', description: 'exit 1 while a manual check is unanswered' },
  'sarif-include-runtime': {
    type: 'boolean',
    description: 'with --format sarif, include the findings about Redis and the host',
  },
});

export type AuditArgs = ParsedArgs<typeof options>;

export const auditCommand = defineCommand({
  name: 'audit',
  summary: 'security audit of config, Redis, queue data, host and source',
  details: [
    'Give at least one target: --config, --redis, --path or --host. Exit 0 clean, 1 findings at or above --fail-on, 2 usage, 3 a target could not be scanned or source files did not parse.',
  ],
  options,
  examples: [
    {
      command: 'qscale audit --config qscale.yml --path . --redis redis://127.0.0.1:6379',
      says: 'the configuration, the project and the Redis, as markdown',
    },
    {
      command: 'qscale audit --path . --format sarif --output audit.sarif --fail-on critical',
      says: 'for code scanning in CI',
    },
    {
      command:
        'qscale audit --path . --remote-sink instant_remote_process,remote_process --validator validateShellSafePath',
      says: "name a project's own command wrappers and validators the analysis cannot see through",
    },
  ],
  load: () => import('../commands/audit.js'),
});
