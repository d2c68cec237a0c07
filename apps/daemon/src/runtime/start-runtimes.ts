import type { Logger } from '@qscale/contracts';
import type { PolicyEvent } from '@qscale/policies';
import { type Supervisor, startSupervisor } from '@qscale/process-supervisor';
import type { QscaleConfig } from '../config/schema.js';
import type { DaemonMetrics } from '../observability/metrics.js';
import { createRuntimeFor } from './group-runtime.js';
import type { QueueRuntime } from './queue-runtime.js';
import { watchSupervisor } from './supervisor-events.js';

// The workers' side of the daemon's start: the supervisor (none when nothing is spawned here)
// and one runtime per configured queue with its pool. If one fails, the supervisor stops
// every worker it started, so a daemon that cannot start leaves nothing running.

export interface RuntimesOptions {
  config: QscaleConfig;
  /** Decide and report, but spawn and stop nothing: no supervisor. */
  dryRun: boolean;
  /** The workers run elsewhere (scaler mode): no supervisor either. */
  workersElsewhere: boolean;
  configDir: string;
  logger: Logger;
  metrics: DaemonMetrics;
  onPolicyEvent: (event: PolicyEvent) => void;
}

export async function startRuntimes(options: RuntimesOptions): Promise<{
  supervisor: Supervisor | null;
  runtimes: Map<string, QueueRuntime>;
}> {
  const { config, configDir, logger, onPolicyEvent } = options;
  const supervisor: Supervisor | null =
    // Pods elsewhere: nothing to supervise here, only to count.
    options.dryRun || options.workersElsewhere
      ? null
      : await startSupervisor({
          stateFile: config.supervision.stateFile,
          previousWorkers: config.supervision.previousWorkers,
          refuseRoot: config.supervision.refuseRoot,
          logger,
        });
  if (supervisor) watchSupervisor(supervisor, logger, options.metrics);

  const runtimes = new Map<string, QueueRuntime>();
  try {
    for (const queue of config.queues) {
      const runtime = await createRuntimeFor(queue, { pool: null, configDir, onPolicyEvent });
      runtime.pool = supervisor ? await supervisor.createPool(queue) : null;
      runtimes.set(queue.name, runtime);
    }
    // Workers of a previous run whose queue is no longer configured.
    await supervisor?.stopUnclaimed();
  } catch (error) {
    await supervisor?.stop();
    throw error;
  }
  return { supervisor, runtimes };
}
