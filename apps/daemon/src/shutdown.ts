import type { StopSummary } from '@qscale/process-supervisor';
import type { DaemonContext } from './daemon-context.js';

// `Daemon.stop()`: the loop first (no tick starts, the one running finishes), then every
// worker gracefully, then the connections and listeners; what was stopping in the background
// (removed queues, replaced listeners) is awaited too, so nothing outlives the daemon.

export async function shutDown(ctx: DaemonContext): Promise<StopSummary | null> {
  ctx.wakePoller?.stop();
  await ctx.ticker?.stop();
  await ctx.serial.idle();
  ctx.alerts.close();
  const summary = (await ctx.supervisor?.stop()) ?? null;
  await Promise.allSettled([
    ...ctx.stopping,
    ctx.reader.close(),
    ctx.monitor.close(),
    ctx.http?.close(),
    ctx.scaler?.close(),
    ctx.fleet?.close(),
  ]);
  ctx.logger.info('qscale daemon stopped', { ...summary });
  return summary;
}
