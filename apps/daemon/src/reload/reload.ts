import { messageOf } from '../config/problems.js';
import type { DaemonContext } from '../daemon-context.js';
import type { ReloadResult } from '../daemon-types.js';
import { startTickLoop, startWaking } from '../loop/schedule.js';
import { type AppliedReload, reloadFrom } from './apply.js';

// `Daemon.reload()` (SIGHUP, `qscale reload`): reads the configuration file again and applies
// it between two ticks (reload/apply.ts), then restarts what runs on the old periods and says
// what changed. An invalid file keeps the running configuration and logs why.

export async function reload(ctx: DaemonContext): Promise<ReloadResult> {
  const { logger, options } = ctx;
  if (!options.configPath) {
    return { ok: false, problems: ['the daemon was started without a configuration file'] };
  }
  const path = options.configPath;
  let outcome: AppliedReload;
  try {
    outcome = await ctx.serial.run(() => reloadFrom(ctx, path));
  } catch (error) {
    // reloadFrom reports its own failures; whatever else goes wrong, the daemon outlives it.
    outcome = { ok: false, problems: [messageOf(error)] };
  }
  if (!outcome.ok) {
    logger.error('configuration not reloaded; the running one stays', {
      file: path,
      problems: outcome.problems,
    });
    for (const problem of outcome.problems) logger.error(problem, { file: path });
    return outcome;
  }
  // Outside the serial chain: stopping the ticker waits for a tick, which waits for the chain.
  if (outcome.restart?.includes('wake')) {
    ctx.wakePoller?.stop();
    ctx.wakePoller = startWaking(ctx);
  }
  if (outcome.restart?.includes('tick')) {
    await ctx.ticker?.stop();
    ctx.ticker = startTickLoop(ctx);
  }
  logger.info('configuration reloaded', {
    file: path,
    changed: outcome.changed,
    // Where the status API listens now (a new port, or port 0 picked another).
    ...(outcome.restart?.includes('http') ? { http: ctx.http?.url ?? null } : {}),
  });
  return { ok: true, changed: outcome.changed };
}
