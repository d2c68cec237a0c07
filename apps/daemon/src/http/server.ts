import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@qscale/contracts';

export interface HttpRoutes {
  /** Liveness: cheap, never touches Redis. */
  health(): { status: 'ok' | 'degraded'; [key: string]: unknown };
  /** Prometheus text exposition. */
  metrics(): Promise<string>;
  /** Queues, workers, last decisions, resources. */
  state(): unknown;
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
    const match = /^Bearer (.+)$/.exec(header);
    // Compare digests so the comparison takes the same time whatever the length.
    return match?.[1] !== undefined && timingSafeEqual(digest(match[1]), expected);
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      options.logger.error('http request failed', { path: request.url, error });
      if (!response.headersSent)
        send(response, 500, 'application/json', { error: 'internal error' });
      else response.destroy();
    });
  });

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
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
    if (path !== '/metrics' && path !== '/api/state') {
      return send(response, 404, 'application/json', { error: `no such endpoint: ${path}` });
    }
    if (!authorized(request)) {
      response.setHeader('www-authenticate', 'Bearer realm="qscale"');
      return send(response, 401, 'application/json', { error: 'missing or wrong bearer token' });
    }
    if (path === '/metrics') {
      return send(response, 200, 'text/plain; version=0.0.4', await options.routes.metrics());
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

function send(response: ServerResponse, status: number, type: string, body: unknown): void {
  // Compact: /api/state of a large host is hundreds of kilobytes, read every few seconds.
  const text = typeof body === 'string' ? body : `${JSON.stringify(body)}\n`;
  response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  response.end(response.req.method === 'HEAD' ? undefined : text);
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
