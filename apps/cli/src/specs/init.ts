import { defineCommand, defineOptions, type ParsedArgs } from '../internal/spec.js';

const options = defineOptions({
  config: {
    type: 'string',
    short: 'c',
    placeholder: 'FILE',
    default: 'qscale.yml',
    description: 'the file to write',
  },
  force: { type: 'boolean', description: 'overwrite the file if it exists' },
});

export type InitArgs = ParsedArgs<typeof options>;

export const initCommand = defineCommand({
  name: 'init',
  summary: 'write a commented example configuration to start from',
  options,
  formerPositional: 'config',
  examples: [
    { command: 'qscale init', says: 'write qscale.yml in this folder' },
    { command: 'qscale init --config deploy/qscale.yml --force', says: 'write or overwrite it' },
  ],
  load: () => import('../commands/init.js'),
});
