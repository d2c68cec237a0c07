import { get } from 'node:http';
import { connect } from 'node:net';
import { type Logger, silentLogger } from '@qscale/contracts';
import { afterEach, describe, expect, it } from 'vitest';
import { DaemonMetrics } from '../observability/metrics.js';
import { type HttpServer, startHttpServer } from './server.js';

const TOKEN = 'a-long-enough-bearer-token';

describe('the status API', () => {
  let server: HttpServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function start(token: string | null, logger: Logger = silentLogger) {
    const snapshot = {
      queue: 'emails',
      backend: 'bullmq' as const,
      at: 1,
      pending: 12,
      delayed: 0,
      active: 2,
      oldestPendingAgeMs: 4_500,
      arrivalRate: 3,
      completionRate: 2.5,
      pickupLatencyMs: { p50: 100, p95: 2_000, p99: 3_000, samples: 40 },
      sources: {},
    };
    const metrics = new DaemonMetrics({
      queues: () => [
        {
          name: 'emails',
          snapshot,
          workers: { running: 2, starting: 1, stopping: 0, concurrency: 1 },
          desired: 5,
        },
        // Unknown figures are left out, not reported as 0.
        {
          name: 'reports',
          snapshot: { ...snapshot, queue: 'reports', pending: null, pickupLatencyMs: null },
          workers: { running: 0, starting: 0, stopping: 0, concurrency: 1 },
          desired: null,
        },
      ],
      roundTrips: () => 1,
    });
    metrics.observeDecision({
      queue: 'emails',
      from: 3,
      to: 5,
      recommendation: { workers: 5, reason: 'r', terms: {} },
      edits: [],
    });
    server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      token,
      logger,
      routes: {
        health: () => ({ status: 'ok', ticks: 3 }),
        metrics: () => metrics.render(),
        state: () => ({ queues: [{ name: 'emails' }] }),
      },
    });
    return server.url;
  }

  it('listens on loopback and serves health, metrics and state', async () => {
    const url = await start(null);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', ticks: 3 });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('qscale_queue_pending_jobs{queue="emails"} 12');
    expect(metrics).toContain('qscale_queue_oldest_pending_age_seconds{queue="emails"} 4.5');
    expect(metrics).toContain('qscale_queue_pickup_latency_p95_seconds{queue="emails"} 2');
    expect(metrics).toContain('qscale_queue_workers{queue="emails",state="starting"} 1');
    expect(metrics).toContain('qscale_decisions_total{queue="emails",direction="up"} 1');
    expect(metrics).toContain('qscale_queue_workers_desired{queue="emails"} 5');
    expect(metrics).toContain('qscale_redis_round_trips 1');
    expect(metrics).toContain('qscale_queue_delayed_jobs{queue="reports"} 0');
    expect(metrics).not.toContain('qscale_queue_pending_jobs{queue="reports"}');
    expect(metrics).not.toContain('qscale_queue_pickup_latency_p95_seconds{queue="reports"}');
    expect(await (await fetch(`${url}/api/state`)).json()).toEqual({
      queues: [{ name: 'emails' }],
    });
  });

  it('requires the bearer token for metrics and state, but not for health', async () => {
    const url = await start(TOKEN);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const denied = await fetch(`${url}/api/state`);
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toBe('Bearer realm="qscale"');
    const wrong = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    const right = await fetch(`${url}/api/state`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(right.status).toBe(200);
  });

  it('without a token, refuses data to a Host that is a DNS name (DNS rebinding), not to addresses', async () => {
    const url = await start(null);
    const { port } = new URL(url);
    const statusWith = (host: string, path: string) =>
      new Promise<number>((resolve, reject) => {
        const request = get({ host: '127.0.0.1', port, path, headers: { host } }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
        request.on('error', reject);
      });
    expect(await statusWith(`attacker.example:${port}`, '/api/state')).toBe(421);
    expect(await statusWith('attacker.example', '/metrics')).toBe(421);
    expect(await statusWith(`localhost.attacker.example:${port}`, '/api/state')).toBe(421);
    expect(await statusWith(`127.0.0.1:${port}`, '/api/state')).toBe(200);
    expect(await statusWith(`[::1]:${port}`, '/api/state')).toBe(200);
    expect(await statusWith(`localhost:${port}`, '/metrics')).toBe(200);
    expect(await statusWith(`qscale.localhost:${port}`, '/api/state')).toBe(200);
    // Health and the dashboard's files hold no data.
    expect(await statusWith('attacker.example', '/healthz')).toBe(200);
  });

  it('with a token, any Host may ask: the token is what guards the data', async () => {
    const url = await start(TOKEN);
    const { port } = new URL(url);
    const status = await new Promise<number>((resolve, reject) => {
      const headers = { host: 'qscale.internal.example', authorization: `Bearer ${TOKEN}` };
      get({ host: '127.0.0.1', port, path: '/api/state', headers }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      }).on('error', reject);
    });
    expect(status).toBe(200);
  });

  it('accepts the bearer scheme in any case (RFC 7235), and only the bearer scheme', async () => {
    const url = await start(TOKEN);
    const status = async (authorization: string) =>
      (await fetch(`${url}/api/state`, { headers: { authorization } })).status;
    expect(await status(`bearer ${TOKEN}`)).toBe(200);
    expect(await status(`BEARER ${TOKEN}`)).toBe(200);
    expect(await status(`Bearer  ${TOKEN}`)).toBe(200);
    expect(await status(`Basic ${TOKEN}`)).toBe(401);
    expect(await status(`bearer ${TOKEN}x`)).toBe(401);
  });

  it('answers malformed and odd request targets with 400 or 404, never 500, and logs nothing', async () => {
    const errors: string[] = [];
    const logger = { ...silentLogger, error: (message: string) => errors.push(message) };
    const url = await start(null, logger);
    const { port } = new URL(url);
    const statusOf = (target: string) =>
      new Promise<number>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1');
        let reply = '';
        socket.on('data', (chunk: Buffer) => {
          reply += chunk.toString();
          const match = /^HTTP\/1\.1 (\d{3})/.exec(reply);
          if (match) {
            socket.destroy();
            resolve(Number(match[1]));
          }
        });
        socket.on('error', reject);
        socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      });
    const targets: [string, number][] = [
      ['//', 404],
      ['//evil.example/api/state', 404],
      ['///healthz', 404],
      ['*', 400],
      ['/%zz', 404],
      ['/..%2f..%2fetc/passwd', 404],
      ['/healthz?x=%', 200],
      [`http://127.0.0.1:${port}/healthz`, 200],
      [`http://127.0.0.1:${port}`, 200], // the absolute form of `/`: the dashboard
    ];
    for (const [target, expected] of targets) {
      expect({ target, status: await statusOf(target) }).toEqual({ target, status: expected });
    }
    expect(errors).toEqual([]);
  });

  it('logs a failing route once a minute at most, however many requests fail', async () => {
    const errors: unknown[] = [];
    const logger = { ...silentLogger, error: (_: string, fields?: unknown) => errors.push(fields) };
    server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      token: null,
      logger,
      routes: {
        health: () => ({ status: 'ok' }),
        metrics: async () => '',
        state: () => {
          throw new Error('state is broken');
        },
      },
    });
    for (let i = 0; i < 5; i += 1) {
      const response = await fetch(`${server.url}/api/state`);
      expect(response.status).toBe(500);
      expect(await response.json()).toEqual({ error: 'internal error' });
    }
    expect(errors).toHaveLength(1);
  });

  it('answers only GET on known paths', async () => {
    const url = await start(null);
    expect((await fetch(`${url}/api/state`, { method: 'POST' })).status).toBe(405);
    const missing = await fetch(`${url}/api/../etc/passwd`);
    expect(missing.status).toBe(404);
  });

  it('says so when the port is taken', async () => {
    const url = await start(null);
    const port = Number(new URL(url).port);
    await expect(
      startHttpServer({
        host: '127.0.0.1',
        port,
        token: null,
        logger: silentLogger,
        routes: { health: () => ({ status: 'ok' }), metrics: async () => '', state: () => ({}) },
      }),
    ).rejects.toThrow(/EADDRINUSE/);
  });
});
