import { defineCommand, defineOptions, type ParsedArgs } from '../internal/spec.js';
import { JSON_OPTION } from './shared.js';

const options = defineOptions({
  config: {
    type: 'string',
    short: 'c',
    placeholder: 'FILE',
    description: "also show how many workers this configuration's limits allow here",
  },
  json: JSON_OPTION,
});

export type ResourcesArgs = ParsedArgs<typeof options>;

export const resourcesCommand = defineCommand({
  name: 'resources',
  summary: 'CPU and memory (cgroup or host) and the workers they allow',
  options,
  examples: [
    { command: 'qscale resources', says: 'CPU, memory and pressure of this host or container' },
    { command: 'qscale resources --config qscale.yml --json', says: 'with the capacity, as JSON' },
  ],
  load: () => import('../commands/resources.js'),
});
