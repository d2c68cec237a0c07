import { access } from 'node:fs/promises';
import type { DaemonState } from '@qscale/daemon';
import { loadConfig } from '@qscale/daemon/config';
import { UsageError } from './args.js';
import type { CliIo } from './io.js';

/** Where a running daemon answers, and the token it wants. */
export interface DaemonTarget {
  url: string;
  token: string | null;
}

/** A daemon that cannot be asked: not running, wrong token, not a qscale daemon. */
export class DaemonUnreachable extends Error {}
Object.defineProperty(DaemonUnreachable.prototype, 'name', { value: 'DaemonUnreachable' });

/**
 * `--url`, else the `http` block of `--config` (default qscale.yml, when it exists), else
 * http://127.0.0.1:9730. The token: `--token`, else QSCALE_TOKEN, else the config's.
 */
export async function daemonTarget(
  flags: { url?: string | undefined; token?: string | undefined; config?: string | undefined },
  io: CliIo,
): Promise<DaemonTarget> {
  let url = flags.url ?? null;
  let token = flags.token ?? io.env.QSCALE_TOKEN ?? null;
  const file = flags.config ?? (url === null && (await exists('qscale.yml')) ? 'qscale.yml' : null);
  if (file !== null && (url === null || token === null)) {
    const config = await loadConfig(file, { env: io.env });
    if (!config.http.enabled && url === null) {
      throw new UsageError(`${file} disables the status API (http.enabled: false); pass --url`);
    }
    const host = config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host;
    url ??= `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${config.http.port}`;
    token ??= config.http.token;
  }
  url ??= 'http://127.0.0.1:9730';
  try {
    new URL(url);
  } catch {
    throw new UsageError(`--url expects a URL like http://127.0.0.1:9730, got "${url}"`);
  }
  return { url: url.replace(/\/+$/, ''), token };
}

/** GET /api/state of a running daemon. */
export async function fetchState(target: DaemonTarget, timeoutMs = 5_000): Promise<DaemonState> {
  let response: Response;
  try {
    response = await fetch(`${target.url}/api/state`, {
      headers: target.token ? { authorization: `Bearer ${target.token}` } : {},
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const { cause } = error as { cause?: { code?: string; message?: string } };
    const reason = cause?.code ?? cause?.message ?? (error as Error).message;
    throw new DaemonUnreachable(
      `no qscale daemon answers at ${target.url} (${reason}); is qscaled running? (--url, --config)`,
    );
  }
  if (response.status === 401) {
    throw new DaemonUnreachable(
      `the daemon at ${target.url} wants a bearer token: pass --token or set QSCALE_TOKEN`,
    );
  }
  if (!response.ok) {
    throw new DaemonUnreachable(`the daemon at ${target.url} answered HTTP ${response.status}`);
  }
  const state = (await response.json()) as DaemonState;
  if (state?.version !== 1 || !Array.isArray(state.queues)) {
    throw new DaemonUnreachable(`${target.url}/api/state is not a qscale daemon's state`);
  }
  return state;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
