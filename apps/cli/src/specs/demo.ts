import { defineCommand, defineOptions, type ParsedArgs } from '../internal/spec.js';

const options = defineOptions({
  duration: {
    type: 'duration',
    default: '60s',
    minMs: 8_000,
    description: 'how long the producer sends jobs; the demo then waits for the queues to drain',
  },
  config: {
    type: 'string',
    short: 'c',
    placeholder: 'FILE',
    description: 'the configuration the demo runs',
    defaultText: "examples/demo/qscale.yml of qscale's repository",
  },
  chart: {
    type: 'string',
    placeholder: 'FILE.html|FILE.svg',
    default: 'qscale-demo.html',
    description: 'where to write the chart',
  },
  log: {
    type: 'string',
    placeholder: 'FILE',
    default: 'qscale-demo.log',
    description: "where to write the daemon's log",
  },
});

export type DemoArgs = ParsedArgs<typeof options>;

export const demoCommand = defineCommand({
  name: 'demo',
  summary: 'a one-minute live demo: real Redis and workers, a spike, a chart',
  details: [
    'Uses REDIS_URL, else a Redis on 127.0.0.1:6379, else starts a private redis-server. Ctrl-C at any moment stops every worker gracefully (exit 130) and leaves nothing running.',
  ],
  options,
  renamed: { seconds: 'duration' },
  examples: [
    { command: 'qscale demo', says: 'the one-minute demo' },
    { command: 'qscale demo --duration 2m --chart demo.svg', says: 'two minutes, an SVG chart' },
  ],
  // demo.ts keeps its object shape (the demo's code changes often; a smaller diff merges).
  load: async () => (await import('../commands/demo.js')).demoCommand,
});
