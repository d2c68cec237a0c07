import { defineCommand, defineOptions, type ParsedArgs } from '../internal/spec.js';
import { DAEMON_OPTIONS, JSON_OPTION } from './shared.js';

const options = defineOptions({
  ...DAEMON_OPTIONS,
  config: {
    type: 'string',
    short: 'c',
    placeholder: 'FILE',
    description: "find the daemon's status API and token in this configuration's http block",
    defaultText: 'qscale.yml when it exists',
  },
  json: JSON_OPTION,
});

export type StatusArgs = ParsedArgs<typeof options>;

export const statusCommand = defineCommand({
  name: 'status',
  summary: 'ask a running daemon: health, queues, workers, recent decisions',
  details: ['Exit 1 when no daemon answers or it reports itself degraded.'],
  options,
  examples: [
    { command: 'qscale status --config qscale.yml', says: 'the daemon that runs qscale.yml' },
    {
      command: 'QSCALE_TOKEN=... qscale status --url http://127.0.0.1:9730 --json',
      says: 'a daemon with a token, as JSON',
    },
  ],
  load: () => import('../commands/status.js'),
});
