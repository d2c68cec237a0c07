import { defineCommand, defineOptions, type ParsedArgs } from '../internal/spec.js';
import { JSON_OPTION } from './shared.js';

/** The built-in strategies (a test checks this against @qscale/strategies). */
export const STRATEGIES = [
  'predictive',
  'littles-law',
  'backlog',
  'fixed',
  'laravel-hybrid',
  'horizon',
  'hpa',
  'erlang-drain',
] as const;

const options = defineOptions({
  scenario: {
    type: 'string',
    short: 's',
    placeholder: 'NAME',
    description: 'a built-in workload (qscale simulate --list shows them)',
  },
  trace: {
    type: 'string',
    short: 't',
    placeholder: 'FILE',
    description: 'a workload trace (JSON) instead of a scenario',
  },
  strategy: {
    type: 'string',
    placeholder: 'NAME',
    default: 'predictive',
    description: `the strategy to run: ${STRATEGIES.join(', ')}, an installed strategy package, or a ./file.js`,
  },
  compare: {
    type: 'list',
    placeholder: 'NAME',
    description:
      'more strategies to run on the same workload, side by side (same names as --strategy)',
  },
  seed: {
    type: 'integer',
    default: 1,
    description: 'the random seed: the same seed gives the same figures',
  },
  chart: {
    type: 'string',
    placeholder: 'FILE.svg|FILE.html',
    description: 'also write a chart of arrivals, backlog and workers',
  },
  separate: {
    type: 'boolean',
    description:
      "also run a trace's worker groups as separate pools (each queue its own), side by side",
  },
  list: { type: 'boolean', description: 'list the scenarios and exit' },
  json: JSON_OPTION,
});

export type SimulateArgs = ParsedArgs<typeof options>;

export const simulateCommand = defineCommand({
  name: 'simulate',
  summary: 'run strategies on a workload; compare SLO met and worker cost',
  details: ['Give exactly one of --scenario or --trace, or --list.'],
  options,
  examples: [
    {
      command: 'qscale simulate --scenario spike --compare laravel-hybrid,hpa',
      says: 'predictive against two baselines on a traffic spike',
    },
    {
      command: 'qscale simulate --trace week.json --strategy ./my-strategy.js --chart week.html',
      says: 'your own strategy on your own trace, with a chart',
    },
    {
      command: 'qscale simulate --scenario laravel-priority-group --separate',
      says: 'one pool serving high,default by priority, against a pool per queue',
    },
    { command: 'qscale simulate --list', says: 'the scenarios' },
  ],
  load: () => import('../commands/simulate.js'),
});
