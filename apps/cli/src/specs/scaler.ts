import { defineCommand, defineOptions, type ParsedArgs } from '../internal/spec.js';

const options = defineOptions({
  config: {
    type: 'string',
    short: 'c',
    placeholder: 'FILE',
    default: 'qscale.yml',
    description: 'the configuration whose queues KEDA scales',
  },
});

export type ScalerArgs = ParsedArgs<typeof options>;

export const scalerCommand = defineCommand({
  name: 'scaler',
  summary: "serve KEDA's external scaler: the loop's decisions, workers run as pods",
  details: [
    "Runs the control loop without spawning any worker and serves KEDA's external scaler gRPC service (externalscaler.ExternalScaler) on externalScaler.host:port (127.0.0.1:9731 by default). A ScaledObject names a queue of the configuration in its trigger metadata (queue: NAME); GetMetrics answers the decided worker count (target 1 per replica), IsActive and StreamIsActive whether the queue needs a worker.",
    'The running workers are counted from each backend (BullMQ client names, Sidekiq processes, RQ workers; the last decision for Laravel and Celery); the source is logged and shown in /api/state. SIGTERM or Ctrl-C stops it; SIGHUP reloads the configuration (externalScaler settings apply at the next start).',
  ],
  options,
  examples: [
    {
      command: 'qscale scaler --config qscale.yml',
      says: 'serve the queues of qscale.yml to KEDA',
    },
  ],
  load: () => import('../commands/scaler.js'),
});
