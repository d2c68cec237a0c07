import type { Logger } from '@qscale/contracts';
import type { Supervisor, SupervisorEvents } from '@qscale/process-supervisor';
import type { DaemonMetrics } from '../observability/metrics.js';

/** Worker events counted in `qscale_worker_events_total` (the supervisor logs them itself). */
const COUNTED = [
  'spawned',
  'exited',
  'crashed',
  'backoff',
  'degraded',
  'recovered',
  'adopted',
  'recycled',
  'escalated',
] as const satisfies readonly (keyof SupervisorEvents)[];

/** Counts the supervisor's events per queue; returns a function that stops counting. */
export function watchSupervisor(
  supervisor: Supervisor,
  logger: Logger,
  metrics: DaemonMetrics,
): () => void {
  const stops = COUNTED.map((event) =>
    supervisor.on(event, (payload: { queue: string }) => {
      metrics.observeWorkerEvent(payload.queue, event);
    }),
  );
  stops.push(
    supervisor.on('state-file-error', (payload) => {
      logger.error('the worker state file cannot be written: a crash now could orphan workers', {
        ...payload,
      });
    }),
  );
  return () => {
    for (const stop of stops) stop();
  };
}
