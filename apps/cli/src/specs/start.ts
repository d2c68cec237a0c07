import { defineCommand, defineOptions, type ParsedArgs } from '../internal/spec.js';

const options = defineOptions({
  config: {
    type: 'string',
    short: 'c',
    placeholder: 'FILE',
    default: 'qscale.yml',
    description: 'the configuration to run',
  },
  'dry-run': {
    type: 'boolean',
    description: 'decide and log, but start and stop no worker',
  },
});

export type StartArgs = ParsedArgs<typeof options>;

export const startCommand = defineCommand({
  name: 'start',
  summary: 'run the daemon in the foreground, as qscaled does',
  details: [
    'The same as qscaled: SIGTERM or Ctrl-C stops every worker gracefully and exits 0 (a second one kills them at once, exit 1); SIGHUP reloads the configuration.',
  ],
  options,
  examples: [
    { command: 'qscale start --config qscale.yml', says: 'run the daemon for qscale.yml' },
    { command: 'qscale start --config qscale.yml --dry-run', says: 'watch its decisions only' },
  ],
  load: () => import('../commands/start.js'),
});
