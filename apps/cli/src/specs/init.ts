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
  discover: {
    type: 'boolean',
    description: 'find the queues on --redis, watch them and write a configuration for them',
  },
  redis: {
    type: 'string',
    placeholder: 'URL',
    description: 'with --discover: the Redis to look at (a password in it is never written)',
  },
  prefix: {
    type: 'string',
    placeholder: 'P',
    description: 'with --discover: only keys starting with P',
  },
  measure: {
    type: 'duration',
    default: '10s',
    description: 'with --discover: how long to watch each queue (at most 10m; 0s reads once)',
  },
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
    {
      command: 'qscale init --discover --redis redis://127.0.0.1:6379 --measure 30s',
      says: 'find every queue on that Redis, watch it for 30 s and write qscale.yml for it',
    },
  ],
  load: () => import('../commands/init.js'),
});
