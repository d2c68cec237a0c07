import { messageOf } from '../config/problems.js';
import type { QscaleConfig } from '../config/schema.js';
import type { DaemonContext } from '../daemon-context.js';
import { anyPoolDegraded, daemonState } from '../observability/state-view.js';
import { historyNames } from '../runtime/group-runtime.js';
import { type HttpServer, startHttpServer } from './server.js';

// The daemon's status API (/healthz, /metrics, /api/state, the dashboard's history) over the
// context, and its listener's lifecycle on reload: a new listener is prepared while the old
// one keeps serving, and restored if the reload fails.

/** Listens with `settings` (the configuration's by default); null when the API is disabled. */
export async function startStatusApi(
  ctx: DaemonContext,
  settings: QscaleConfig['http'] = ctx.config.http,
): Promise<HttpServer | null> {
  if (!settings.enabled) return null;
  return startHttpServer({
    host: settings.host,
    port: settings.port,
    token: settings.token,
    logger: ctx.logger,
    routes: {
      // Cheap: no queue figures, so liveness probes and monitors can poll it often.
      health: () => ({
        status: ctx.unreadable.size === 0 && !anyPoolDegraded(ctx.runtimes) ? 'ok' : 'degraded',
        ticks: ctx.ticks,
        lastTickMs: ctx.lastTick?.durationMs ?? null,
        dryRun: ctx.dryRun,
      }),
      metrics: () => ctx.metrics.render(),
      state: () => daemonState(ctx),
      history: (query) =>
        ctx.history.view(Date.now(), {
          ...query,
          queues: query.queues ?? historyNames(ctx.config),
        }),
    },
  });
}

/** A listener prepared by a reload; `restoreOld` says the old one was closed to make room. */
export interface PreparedListener {
  server: HttpServer | null;
  restoreOld: boolean;
}

/**
 * Listens with the new HTTP settings while the old listener keeps serving. Only the same
 * fixed host and port cannot be taken twice: that listener is closed first, and opened again
 * with the old settings if the new ones fail (restoreOld says it was closed).
 */
export async function prepareStatusApi(
  ctx: DaemonContext,
  settings: QscaleConfig['http'],
): Promise<PreparedListener> {
  const sameAddress =
    ctx.http !== null &&
    settings.enabled &&
    settings.port !== 0 &&
    settings.port === ctx.config.http.port &&
    settings.host === ctx.config.http.host;
  const listen = () =>
    startStatusApi(ctx, settings).catch((error: unknown) => {
      throw new Error(
        `http: cannot listen on ${settings.host}:${settings.port} (${messageOf(error)})`,
        { cause: error },
      );
    });
  if (!sameAddress) return { server: await listen(), restoreOld: false };
  await ctx.http?.close();
  ctx.http = null;
  try {
    return { server: await listen(), restoreOld: true };
  } catch (error) {
    await restoreStatusApi(ctx, { server: null, restoreOld: true });
    throw error;
  }
}

/** Undoes prepareStatusApi: closes the new listener, reopens the old one if it was closed. */
export async function restoreStatusApi(
  ctx: DaemonContext,
  listener: PreparedListener,
): Promise<void> {
  await listener.server?.close();
  if (!listener.restoreOld) return;
  try {
    ctx.http = await startStatusApi(ctx, ctx.config.http);
  } catch (error) {
    ctx.logger.error('the status API cannot listen again; it stays off until a reload', {
      error,
    });
  }
}
