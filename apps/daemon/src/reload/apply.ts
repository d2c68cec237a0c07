import { checkConfig } from '../config/check.js';
import { loadConfig } from '../config/load.js';
import { ConfigError, formatProblem, messageOf } from '../config/problems.js';
import type { QscaleConfig } from '../config/schema.js';
import { configWarnings } from '../config/warnings.js';
import { type DaemonContext, trackInBackground } from '../daemon-context.js';
import type { ReloadResult } from '../daemon-types.js';
import { type PreparedListener, prepareStatusApi, restoreStatusApi } from '../http/status-api.js';
import { createRuntimeFor } from '../runtime/group-runtime.js';
import { createDecider, type Decider, type QueueRuntime } from '../runtime/queue-runtime.js';
import { readerSources, secretsOf } from '../runtime/wiring.js';
import { planReload, type ReloadPlan } from './plan.js';

// A reload's work on the running daemon, all or nothing, in three steps: prepare (nothing
// running changes), act (undone if a step fails), commit (nothing can fail). It runs inside
// the serial chain; reload.ts restarts what must restart outside it.

/** A reload's outcome, and what must restart outside the serial chain (`tick`, `http`, `wake`). */
export type AppliedReload = ReloadResult & { restart?: string[] };

/** What step 1 prepared: the new queues' runtimes, the new deciders, the new listener. */
interface PreparedReload {
  deciders: Map<string, Decider>;
  fresh: Map<string, QueueRuntime>;
  listener: PreparedListener | null;
}

/**
 * Reads and applies the file, all or nothing. First everything that can fail is checked or
 * prepared while the running state stays untouched: the schema, each queue's program,
 * directory, account and root policy, its strategy, the Redis sources, the new HTTP
 * listener. Then the steps that were checked but act: new pools and sources (both undone if
 * either fails), pool updates; only then is anything removed or replaced.
 */
export async function reloadFrom(ctx: DaemonContext, path: string): Promise<AppliedReload> {
  let next: QscaleConfig;
  try {
    next = await loadConfig(path, { env: ctx.options.env ?? process.env });
    await checkConfig(next, {
      configDir: ctx.configDir,
      // Pods elsewhere (scaler mode): no program of this host's is ever run.
      pools: !ctx.dryRun && !ctx.pods,
      // The running supervisor keeps refusing root until a restart: check what it will do.
      refuseRoot: ctx.refuseRoot || next.supervision.refuseRoot,
    });
  } catch (error) {
    const problems =
      error instanceof ConfigError ? error.problems.map(formatProblem) : [messageOf(error)];
    return { ok: false, problems };
  }
  const plan = planReload(ctx.config, next);
  if (plan.regrouped.length > 0) {
    return {
      ok: false,
      problems: plan.regrouped.map(
        ({ queue }) =>
          `${queue.name}: a queue cannot become a worker group (or the reverse) on reload; rename it or restart qscaled`,
      ),
    };
  }

  // 1. Prepare: nothing running changes.
  let prepared: PreparedReload;
  try {
    prepared = await prepare(ctx, plan, next);
  } catch (error) {
    return { ok: false, problems: [messageOf(error)] };
  }

  // 2. Act on what was checked, undoing it all if one step fails.
  const failed = await act(ctx, plan, next, prepared);
  if (failed) return failed;
  const changed = await updatePools(ctx, plan);

  // 3. Commit: nothing below can fail.
  return commit(ctx, plan, next, prepared, changed);
}

async function prepare(
  ctx: DaemonContext,
  { added, redefined, httpChanged }: ReloadPlan,
  next: QscaleConfig,
): Promise<PreparedReload> {
  const { configDir, onPolicyEvent } = ctx;
  const deciders = new Map<string, Decider>();
  const fresh = new Map<string, QueueRuntime>();
  for (const queue of added) {
    fresh.set(queue.name, await createRuntimeFor(queue, { pool: null, configDir, onPolicyEvent }));
  }
  for (const { queue } of redefined) {
    deciders.set(queue.name, await createDecider(queue, { configDir, onPolicyEvent }));
  }
  const listener = httpChanged ? await prepareStatusApi(ctx, next.http) : null;
  return { deciders, fresh, listener };
}

/** New pools and sources; on a failure both are undone (and the listener) and it says why. */
async function act(
  ctx: DaemonContext,
  { sourcesChanged }: ReloadPlan,
  next: QscaleConfig,
  { fresh, listener }: PreparedReload,
): Promise<{ ok: false; problems: string[] } | null> {
  const { reader, supervisor } = ctx;
  let sourcesSet = false;
  try {
    for (const runtime of fresh.values()) {
      runtime.pool = supervisor ? await supervisor.createPool(runtime.config) : null;
    }
    if (sourcesChanged) {
      // Queues whose source stays the same keep their measured history.
      await reader.setSources(next.queues.flatMap(readerSources));
      sourcesSet = true;
    }
  } catch (error) {
    await Promise.allSettled([...fresh.values()].map((runtime) => runtime.pool?.stop()));
    if (sourcesSet)
      await reader.setSources(ctx.config.queues.flatMap(readerSources)).catch(() => {});
    if (listener) await restoreStatusApi(ctx, listener);
    return { ok: false, problems: [messageOf(error)] };
  }
  return null;
}

/** Rolling replacements of the workers whose settings changed; what was replaced. */
async function updatePools(ctx: DaemonContext, { replaced }: ReloadPlan): Promise<string[]> {
  const changed: string[] = [];
  for (const { queue } of replaced) {
    const pool = ctx.runtimes.get(queue.name)?.pool;
    if (!pool) continue;
    try {
      const { replacing } = await pool.update(queue);
      changed.push(`queue ${queue.name}: workers replaced (${replacing})`);
    } catch (error) {
      // Checked a moment ago: only a file removed since can get here. The pool keeps its
      // workers and the queue keeps its settings; the rest of the reload applies.
      ctx.logger.error('cannot update the workers of a queue; they keep their settings', {
        queue: queue.name,
        error,
      });
    }
  }
  return changed;
}

function commit(
  ctx: DaemonContext,
  { kept, removed, sourcesChanged, httpChanged }: ReloadPlan,
  next: QscaleConfig,
  { deciders, fresh, listener }: PreparedReload,
  changed: string[],
): AppliedReload {
  const { config, logger, runtimes } = ctx;
  for (const queue of removed) {
    const runtime = runtimes.get(queue.name);
    runtimes.delete(queue.name);
    ctx.unreadable.delete(queue.name);
    changed.push(`queue ${queue.name} removed`);
    if (runtime?.pool) trackInBackground(ctx, runtime.pool.stop());
  }
  for (const { queue } of kept) {
    const runtime = runtimes.get(queue.name);
    if (!runtime) continue;
    const decider = deciders.get(queue.name);
    if (decider) {
      runtime.redefineWith(queue, decider);
      changed.push(`queue ${queue.name}: strategy or scaling`);
    } else {
      runtime.config = queue;
    }
  }
  for (const [name, runtime] of fresh) {
    runtimes.set(name, runtime);
    changed.push(`queue ${name} added`);
  }
  if (sourcesChanged) changed.push('queue sources');
  if (listener) {
    const old = ctx.http;
    ctx.http = listener.server;
    if (old && !listener.restoreOld) trackInBackground(ctx, old.close());
  }
  const restart: string[] = [];
  if (next.tickMs !== config.tickMs) restart.push('tick');
  if (httpChanged) restart.push('http');
  if (next.wakePollMs !== config.wakePollMs) restart.push('wake');
  warnStartOnlyChanges(ctx, next);
  ctx.config = next;
  ctx.alerts.configure(next.alerts);
  ctx.options.logger?.setSecrets?.(secretsOf(next));
  for (const warning of configWarnings(next)) logger.warn(warning);
  return { ok: true as const, changed: [...changed, ...restart], restart };
}

/** Settings read once at start: a reload that changes them says they wait for a restart. */
function warnStartOnlyChanges(ctx: DaemonContext, next: QscaleConfig): void {
  const { config, logger, scalerSettings } = ctx;
  if (
    !ctx.options.externalScaler &&
    JSON.stringify(next.externalScaler) !== JSON.stringify(config.externalScaler)
  ) {
    logger.warn('externalScaler settings apply at the next start', {
      running: scalerSettings ? `${scalerSettings.host}:${scalerSettings.port}` : null,
    });
  }
  if (JSON.stringify(next.cluster) !== JSON.stringify(config.cluster)) {
    logger.warn('cluster settings apply at the next start', { running: config.cluster.id });
  }
  if (JSON.stringify(next.supervision) !== JSON.stringify(config.supervision)) {
    logger.warn('supervision settings apply at the next start', {
      running: config.supervision,
      file: next.supervision,
    });
  }
}
