import { defineCommand, defineOptions, type ParsedArgs } from '../internal/spec.js';
import { DAEMON_OPTIONS, SOURCE_OPTIONS } from './shared.js';

const options = defineOptions({
  ...SOURCE_OPTIONS,
  ...DAEMON_OPTIONS,
  interval: {
    type: 'duration',
    minMs: 1,
    description: 'time between refreshes',
    defaultText: "the running daemon's tick, else the configuration's tick, else 2s",
  },
  count: {
    type: 'integer',
    short: 'n',
    min: 1,
    description: 'stop after this many refreshes',
    defaultText: 'run until Ctrl-C',
  },
  json: { type: 'boolean', description: 'print one JSON line per refresh instead of a table' },
});

export type TopArgs = ParsedArgs<typeof options>;

export const topCommand = defineCommand({
  name: 'top',
  summary: "live view of the queues, and of the daemon's workers and decisions",
  details: [
    'Next to a running daemon (--url, or the status API of --config) it shows what the daemon does: workers, targets, recent decisions. Without one it reads the queues from Redis, as qscale queues does.',
  ],
  options,
  examples: [
    {
      command: 'qscale top --config qscale.yml',
      says: 'watch the daemon of qscale.yml, or its queues',
    },
    {
      command: 'qscale top --redis redis://127.0.0.1:6379 --driver rq --interval 5s --count 3',
      says: 'three refreshes of every RQ queue, 5 s apart',
    },
  ],
  load: () => import('../commands/top.js'),
});
