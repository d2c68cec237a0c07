import { readFile } from 'node:fs/promises';
import { silentLogger } from '@qscale/contracts';
import { afterEach, describe, expect, it } from 'vitest';
import { type HttpServer, startHttpServer } from '../server.js';
import type { HistoryQuery } from './assets.js';

const TOKEN = 'a-long-enough-bearer-token';

describe('the dashboard over HTTP', () => {
  let server: HttpServer | undefined;
  const asked: HistoryQuery[] = [];
  afterEach(async () => {
    await server?.close();
    server = undefined;
    asked.length = 0;
  });

  async function start(token: string | null) {
    server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      token,
      logger: silentLogger,
      routes: {
        health: () => ({ status: 'ok' }),
        metrics: async () => '',
        state: () => ({ queues: [] }),
        history: (query) => {
          asked.push(query);
          return { version: 1, queues: {} };
        },
      },
    });
    return server.url;
  }

  it('serves the page and its files from the daemon itself, with the security headers', async () => {
    const url = await start(null);
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await page.text();
    // Nothing from elsewhere and no inline script: every script has a src on this server.
    expect(html).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    const linked = [...html.matchAll(/(?:src|href)="(\/[^"]*)"/g)].map((match) => match[1]);
    expect(linked).toContain('/vendor/uPlot.iife.min.js');
    for (const path of linked) {
      const asset = await fetch(`${url}${path}`);
      expect(asset.status, path).toBe(200);
      expect(asset.headers.get('x-content-type-options'), path).toBe('nosniff');
    }
    const js = await fetch(`${url}/dashboard.js`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    // The dashboard renders data as text only.
    for (const file of ['dashboard.js', 'render.js', 'group-rows.js', 'charts.js']) {
      expect((await fetch(`${url}/${file}`)).status, file).toBe(200);
      const source = await readFile(new URL(`./static/${file}`, import.meta.url), 'utf8');
      expect(source, file).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
    }
  });

  it('answers HEAD without a body, refuses other methods, 404s unknown files', async () => {
    const url = await start(null);
    const head = await fetch(`${url}/dashboard.css`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(100);
    expect(await head.text()).toBe('');
    expect((await fetch(`${url}/`, { method: 'POST' })).status).toBe(405);
    const missing = await fetch(`${url}/vendor/../../package.json`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect((await fetch(`${url}/constructor`)).status).toBe(404);
  });

  it('with a token: the page loads without it, the data does not', async () => {
    const url = await start(TOKEN);
    expect((await fetch(`${url}/`)).status).toBe(200);
    expect((await fetch(`${url}/dashboard.js`)).status).toBe(200);
    for (const path of ['/api/state', '/api/history']) {
      const refused = await fetch(`${url}${path}`);
      expect(refused.status, path).toBe(401);
      expect(await refused.json()).toEqual({ error: 'missing or wrong bearer token' });
    }
    const history = await fetch(`${url}/api/history`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(history.status).toBe(200);
    expect(asked).toEqual([{}]);
  });

  it('reads since and queue from the query of /api/history, and names a bad parameter', async () => {
    const url = await start(null);
    await fetch(`${url}/api/history?since=1700000000000&queue=emails&queue=a%3Cb`);
    expect(asked).toEqual([{ since: 1_700_000_000_000, queues: ['emails', 'a<b'] }]);
    const bad = await fetch(`${url}/api/history?since=yesterday`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toBe(
      'since must be epoch milliseconds (digits only), got "yesterday"',
    );
    const unknown = await fetch(`${url}/api/history?limit=5`);
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: string }).error).toContain(
      'unknown query parameter "limit"',
    );
  });
});
