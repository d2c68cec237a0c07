import { defineCommand, defineOptions, type ParsedArgs } from '../internal/spec.js';
import { JSON_OPTION } from './shared.js';

const options = defineOptions({
  config: {
    type: 'string',
    short: 'c',
    placeholder: 'FILE',
    default: 'qscale.yml',
    description: 'the configuration file to check',
  },
  'schema-only': {
    type: 'boolean',
    description:
      'check the file alone, not whether qscaled could start it on this host (for CI, or a file for another machine)',
  },
  json: JSON_OPTION,
});

export type ValidateArgs = ParsedArgs<typeof options>;

export const validateCommand = defineCommand({
  name: 'validate',
  summary: 'check a configuration, and that qscaled can start it on this host',
  details: [
    'Besides the file itself, checks what qscaled checks before it starts on this host: each worker program on its PATH, directories, accounts, supervision.refuseRoot, strategies. Exit 1 when there is a problem.',
  ],
  options,
  examples: [
    { command: 'qscale validate --config qscale.yml', says: 'check qscale.yml for this host' },
    {
      command: 'qscale validate -c deploy/qscale.yml --schema-only --json',
      says: 'check the file only, in CI, as JSON',
    },
  ],
  load: () => import('../commands/validate.js'),
});
