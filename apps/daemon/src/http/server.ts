import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo, isIP } from 'node:net';
import type { Logger } from '@qscale/contracts';
import {
  dashboardAsset,
  type HistoryQuery,
  historyQuery,
  SECURITY_HEADERS,
} from './dashboard/assets.js';

export interface HttpRoutes {
  /** Liveness: cheap, never touches Redis. */
  health(): { status: 'ok' | 'degraded'; [key: string]: unknown };
  /** Prometheus text exposition. */
  metrics(): Promise<string>;
  /** Queues, workers, last decisions, resources. */
  state(): unknown;
  /** The dashboard's charts: recent figures per queue (404 when absent). */
  history?(query: HistoryQuery): unknown;
}

export interface HttpServerOptions {
  host: string;
  port: number;
  /** When set, /metrics and /api/state require `Authorization: Bearer <token>`. */
  token: string | null;
  routes: HttpRoutes;
  logger: Logger;
}

export interface HttpServer {
  /** Where it listens, e.g. `http://127.0.0.1:9730` (the real port when 0 was asked). */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The status API: `/healthz` (open, for liveness probes), `/metrics` and `/api/state` (behind
 * the bearer token when one is configured). GET only, JSON or Prometheus text, no body parsing.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const expected = options.token === null ? null : digest(options.token);
  const authorized = (request: IncomingMessage): boolean => {
    if (expected === null) return true;
    const header = request.headers.authorization ?? '';
    // The scheme is case-insensitive (RFC 7235): `bearer xyz` is as good as `Bearer xyz`.
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    // Compare digests so the comparison takes the same time whatever the length.
    return match?.[1] !== undefined && timingSafeEqual(digest(match[1]), expected);
  };

  // A failing route is logged once a minute at most, with how many failures were not: anyone
  // who can reach the port must not be able to flood the logs.
  let lastErrorLogAt = Number.NEGATIVE_INFINITY;
  let unloggedErrors = 0;
  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      const now = Date.now();
      if (now - lastErrorLogAt >= ERROR_LOG_INTERVAL_MS) {
        options.logger.error('http request failed', {
          path: pathOf(request.url)?.slice(0, 100) ?? null,
          error,
          ...(unloggedErrors > 0 ? { notLogged: unloggedErrors } : {}),
        });
        lastErrorLogAt = now;
        unloggedErrors = 0;
      } else {
        unloggedErrors += 1;
      }
      if (!response.headersSent)
        send(response, 500, 'application/json', { error: 'internal error' });
      else response.destroy();
    });
  });

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const path = pathOf(request.url);
    if (path === null) {
      return send(response, 400, 'application/json', { error: 'malformed request target' });
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('allow', 'GET, HEAD');
      return send(response, 405, 'application/json', {
        error: `method ${request.method} not allowed`,
      });
    }
    if (path === '/healthz') {
      const health = options.routes.health();
      return send(response, health.status === 'ok' ? 200 : 503, 'application/json', health);
    }
    // The dashboard's page and files hold no data: they load without the token, and the page
    // asks for it before it reads /api/state or /api/history.
    const asset = dashboardAsset(path);
    if (asset) return sendAsset(response, await asset);
    const history = path === '/api/history' ? options.routes.history : undefined;
    if (path !== '/metrics' && path !== '/api/state' && !history) {
      return send(response, 404, 'application/json', {
        error: `no such endpoint: ${path.slice(0, 100)}`,
      });
    }
    if (expected === null && !cannotBeRebound(request.headers.host)) {
      return send(response, 421, 'application/json', {
        error: 'without a token, the status API answers only to an IP address or localhost',
      });
    }
    if (!authorized(request)) {
      response.setHeader('www-authenticate', 'Bearer realm="qscale"');
      return send(response, 401, 'application/json', { error: 'missing or wrong bearer token' });
    }
    if (path === '/metrics') {
      return send(response, 200, 'text/plain; version=0.0.4', await options.routes.metrics());
    }
    if (history) {
      const query = historyQuery(request.url ?? '');
      if ('error' in query) return send(response, 400, 'application/json', query);
      return send(response, 200, 'application/json', history(query));
    }
    return send(response, 200, 'application/json', options.routes.state());
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const ERROR_LOG_INTERVAL_MS = 60_000;

/**
 * The path of an origin-form request target (`/api/state?x=1` -> `/api/state`), or null when
 * the target is not one. Taken as written, without URL resolution: `new URL('//')` throws, and
 * `//host/x` would resolve to another host's path.
 */
function pathOf(target: string | undefined): string | null {
  if (target === undefined) return null;
  // Absolute form (`GET http://127.0.0.1:9730/healthz`), which HTTP/1.1 servers must accept.
  const origin = /^https?:\/\/[^/?#]*/i.exec(target);
  const rest = origin ? target.slice(origin[0].length) || '/' : target;
  if (!rest.startsWith('/')) return null;
  const end = rest.search(/[?#]/);
  return end === -1 ? rest : rest.slice(0, end);
}

/**
 * Without a token, a web page on any site could read the loopback API by rebinding its own DNS
 * name to 127.0.0.1 (DNS rebinding): the browser then sends that name as `Host`. Such a request
 * is refused; IP literals and `localhost` are what a person or a scraper on the host uses.
 */
function cannotBeRebound(header: string | undefined): boolean {
  if (header === undefined) return true; // HTTP/1.0 clients; browsers always send a Host
  const name = /^(\[[^\]]*\]|[^:]*)(:\d+)?$/.exec(header.toLowerCase())?.[1];
  if (name === undefined) return false;
  return (
    name === 'localhost' || name.endsWith('.localhost') || isIP(name.replace(/^\[|\]$/g, '')) !== 0
  );
}

function send(response: ServerResponse, status: number, type: string, body: unknown): void {
  // Compact: /api/state of a large host is hundreds of kilobytes, read every few seconds.
  const text = typeof body === 'string' ? body : `${JSON.stringify(body)}\n`;
  response.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': type,
    'cache-control': 'no-store',
  });
  response.end(response.req.method === 'HEAD' ? undefined : text);
}

function sendAsset(response: ServerResponse, asset: { type: string; body: Buffer }): void {
  // no-cache: the browser revalidates, so a daemon upgrade never runs an old page.
  response.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': asset.type,
    'content-length': asset.body.length,
    'cache-control': 'no-cache',
  });
  response.end(response.req.method === 'HEAD' ? undefined : asset.body);
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
