import { defineCommand, defineOptions, type ParsedArgs } from '../internal/spec.js';
import { JSON_OPTION, SOURCE_OPTIONS } from './shared.js';

const options = defineOptions({
  ...SOURCE_OPTIONS,
  interval: {
    type: 'duration',
    default: '1s',
    description: 'two reads this far apart give the rates and pickups; 0s reads once',
  },
  json: JSON_OPTION,
});

export type QueuesArgs = ParsedArgs<typeof options>;

export const queuesCommand = defineCommand({
  name: 'queues',
  summary: 'one snapshot of each queue: depth, age, rates, pickup latency',
  details: [
    'Reads straight from Redis, from a configuration (--config) or a driver and prefix (--redis, --driver, --prefix). In the table, ~ marks an estimate and - a figure that cannot be known. Exit 1 when a queue cannot be read.',
  ],
  options,
  examples: [
    { command: 'qscale queues --config qscale.yml', says: 'every queue of qscale.yml' },
    {
      command:
        'qscale queues --redis redis://127.0.0.1:6379 --driver bullmq --queue emails,reports --json',
      says: 'two BullMQ queues, without a configuration, as JSON',
    },
  ],
  load: () => import('../commands/queues.js'),
});
