import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** A static file of the dashboard, as served. */
export interface Asset {
  type: string;
  body: Buffer;
}

/**
 * Headers on every response of the status API. The page runs only its own scripts and styles
 * (no inline code, nothing from another origin), cannot be framed (clickjacking), sends no
 * referrer, and no response is sniffed into another type.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';
const STATIC_DIR = fileURLToPath(new URL('./static/', import.meta.url));
const require = createRequire(import.meta.url);

/** URL path -> where the file is and its type. uPlot comes from the daemon's own dependency. */
const FILES: Record<string, { file: () => string; type: string }> = {
  '/': { file: () => `${STATIC_DIR}index.html`, type: 'text/html; charset=utf-8' },
  '/dashboard.js': { file: () => `${STATIC_DIR}dashboard.js`, type: JS },
  '/render.js': { file: () => `${STATIC_DIR}render.js`, type: JS },
  '/group-rows.js': { file: () => `${STATIC_DIR}group-rows.js`, type: JS },
  '/charts.js': { file: () => `${STATIC_DIR}charts.js`, type: JS },
  '/format.js': { file: () => `${STATIC_DIR}format.js`, type: JS },
  '/dashboard.css': { file: () => `${STATIC_DIR}dashboard.css`, type: CSS },
  '/favicon.svg': { file: () => `${STATIC_DIR}favicon.svg`, type: 'image/svg+xml' },
  '/vendor/uPlot.iife.min.js': {
    file: () => require.resolve('uplot/dist/uPlot.iife.min.js'),
    type: JS,
  },
  '/vendor/uPlot.min.css': { file: () => require.resolve('uplot/dist/uPlot.min.css'), type: CSS },
};

// Read once, on first request: a few hundred kilobytes in all, and no work at import time.
const cache = new Map<string, Promise<Asset>>();

/** The dashboard file served at `path`, or null when `path` is not one of them. */
export function dashboardAsset(path: string): Promise<Asset> | null {
  const entry = Object.hasOwn(FILES, path) ? FILES[path] : undefined;
  if (!entry) return null;
  let asset = cache.get(path);
  if (!asset) {
    asset = readFile(entry.file()).then((body) => ({ type: entry.type, body }));
    // A failed read (a broken install) is retried on the next request, not cached.
    asset.catch(() => cache.delete(path));
    cache.set(path, asset);
  }
  return asset;
}

/** What `/api/history` was asked: `since` (epoch ms) and `queue` (repeatable). */
export type HistoryQuery = { since?: number; queues?: string[] };

/**
 * Parses the query of `/api/history?since=…&queue=…`.
 * @returns the query, or a message naming the parameter that was wrong.
 */
export function historyQuery(target: string): HistoryQuery | { error: string } {
  const start = target.indexOf('?');
  const params = new URLSearchParams(start === -1 ? '' : target.slice(start + 1).split('#')[0]);
  const query: HistoryQuery = {};
  for (const key of params.keys()) {
    if (key !== 'since' && key !== 'queue') {
      return {
        error: `unknown query parameter ${JSON.stringify(key.slice(0, 50))} (expected since, queue)`,
      };
    }
  }
  const since = params.get('since');
  if (since !== null) {
    if (!/^\d{1,15}$/.test(since)) {
      return {
        error: `since must be epoch milliseconds (digits only), got ${JSON.stringify(since.slice(0, 50))}`,
      };
    }
    query.since = Number(since);
  }
  const queues = params.getAll('queue');
  if (queues.length > 0) query.queues = queues;
  return query;
}
