import { setTimeout as sleep } from 'node:timers/promises';
import { createLogUpdate } from 'log-update';
import { UsageError } from '../internal/args.js';
import {
  type DaemonTarget,
  DaemonUnreachable,
  daemonTarget,
  fetchState,
} from '../internal/daemon-client.js';
import { renderDaemon } from '../internal/daemon-view.js';
import { formatDuration } from '../internal/format.js';
import { type CliIo, EXIT, type ExitCode, line } from '../internal/io.js';
import type { TopArgs } from '../specs/top.js';
import { openReader, renderQueueTable, resolveQueues, TOP_COLUMNS } from './queues.js';

/** The daemon's default tick, used when no configuration names one. */
const DEFAULT_INTERVAL_MS = 2_000;

export async function run({ values }: TopArgs, io: CliIo): Promise<ExitCode> {
  const count = values.count ?? null;
  const explicitInterval = values.interval ?? null;
  // Next to a running daemon, show what it does; without one, read the queues directly.
  const daemon = values.redis === undefined ? await runningDaemon(values, io) : null;
  if (daemon) {
    return watchDaemon(daemon, io, {
      intervalMs: explicitInterval ?? daemon.tickMs,
      count,
      json: values.json,
    });
  }
  if (values.url !== undefined) {
    line(
      io.stderr,
      `qscale top: no daemon answers at ${values.url}; reading the queues from Redis`,
    );
  }
  const resolved = await resolveQueues(values, io);
  if (typeof resolved === 'number') return resolved;
  if (resolved.sources.length === 0) {
    line(io.stdout, 'no queues found');
    return EXIT.ok;
  }
  const intervalMs = explicitInterval ?? resolved.tickMs ?? DEFAULT_INTERVAL_MS;

  const stop = new AbortController();
  const quit = () => stop.abort();
  process.once('SIGINT', quit);
  process.once('SIGTERM', quit);
  const stdout = io.stdout as NodeJS.WriteStream;
  // In a terminal the table is redrawn in place; piped, each refresh is printed after the last.
  const live = stdout.isTTY && !values.json ? createLogUpdate(stdout) : null;
  const reader = openReader(resolved.sources);
  try {
    for (let refresh = 1; !stop.signal.aborted; refresh++) {
      const started = Date.now();
      const snapshots = await reader.snapshot();
      if (stop.signal.aborted) break;
      if (values.json) {
        line(io.stdout, JSON.stringify(snapshots));
      } else {
        const clock = new Date().toTimeString().slice(0, 8);
        const header = `qscale top  ${clock}  ${resolved.sources.length} queue${resolved.sources.length === 1 ? '' : 's'}, every ${formatDuration(intervalMs)}${live ? '  (Ctrl-C to quit)' : ''}`;
        const text = `${header}\n${renderQueueTable(snapshots, TOP_COLUMNS)}`;
        if (live) live(text);
        else line(io.stdout, `${text}\n`);
      }
      if (count !== null && refresh >= count) break;
      const wait = Math.max(0, intervalMs - (Date.now() - started));
      await sleep(wait, undefined, { signal: stop.signal }).catch(() => undefined);
    }
  } finally {
    process.off('SIGINT', quit);
    process.off('SIGTERM', quit);
    live?.done();
    await reader.close();
  }
  return EXIT.ok;
}

/** The daemon to watch, when one answers at --url or at the config's status API. */
async function runningDaemon(
  flags: { url?: string | undefined; token?: string | undefined; config?: string | undefined },
  io: CliIo,
): Promise<(DaemonTarget & { tickMs: number }) | null> {
  let target: DaemonTarget;
  try {
    target = await daemonTarget(flags, io);
  } catch {
    return null; // a config error or no status API: resolveQueues reports what matters
  }
  try {
    const state = await fetchState(target, 1_000);
    return { ...target, tickMs: state.tickMs };
  } catch (error) {
    if (error instanceof DaemonUnreachable && /token/.test(error.message))
      throw new UsageError(error.message);
    return null;
  }
}

async function watchDaemon(
  target: DaemonTarget,
  io: CliIo,
  { intervalMs, count, json }: { intervalMs: number; count: number | null; json: boolean },
): Promise<ExitCode> {
  const stop = new AbortController();
  const quit = () => stop.abort();
  process.once('SIGINT', quit);
  process.once('SIGTERM', quit);
  const stdout = io.stdout as NodeJS.WriteStream;
  const live = stdout.isTTY && !json ? createLogUpdate(stdout) : null;
  try {
    for (let refresh = 1; !stop.signal.aborted; refresh++) {
      const started = Date.now();
      let text: string;
      try {
        const state = await fetchState(target);
        text = json ? JSON.stringify(state) : renderDaemon(state, target.url, 8);
      } catch (error) {
        if (!(error instanceof DaemonUnreachable)) throw error;
        text = json ? JSON.stringify({ error: error.message }) : `qscale top: ${error.message}`;
      }
      if (live) live(`${text}\n(every ${formatDuration(intervalMs)}, Ctrl-C to quit)`);
      else line(io.stdout, json ? text : `${text}\n`);
      if (count !== null && refresh >= count) break;
      const wait = Math.max(0, intervalMs - (Date.now() - started));
      await sleep(wait, undefined, { signal: stop.signal }).catch(() => undefined);
    }
  } finally {
    process.off('SIGINT', quit);
    process.off('SIGTERM', quit);
    live?.done();
  }
  return EXIT.ok;
}
