import { join } from 'node:path';
import { silentLogger } from '@qscale/contracts';
import { connectRedis, deleteKeys, redisUrl, uniquePrefix } from '@qscale/testkit';
import { Queue } from 'bullmq';
import type { Browser, Page } from 'playwright-core';
import type { PNG } from 'pngjs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startHttpServer } from '../src/http/server.js';
import { distinctColours, launchChromium, screenshot, watchConsole } from './helpers/browser.js';
import {
  BULLMQ_WORKER,
  Cleanups,
  launchQscaled,
  type QscaledProcess,
  running,
  scratch,
  writeConfig,
} from './helpers/qscaled.js';

// The dashboard in a real browser (Debian's chromium through playwright-core) against a real
// qscaled with real BullMQ workers. Deadlines are generous: starting a browser on a busy
// machine is slow, and nothing here asserts how fast anything is.

const redis = connectRedis();
const cleanups = new Cleanups();
afterEach(() => cleanups.run());
afterAll(async () => {
  await redis.quit();
});

/** A queue name that would run script if it were ever parsed as HTML. */
const XSS_NAME = '<img src=x onerror=window.__xss=1>';
const TOKEN = 'dashboard-test-token-0123456789';
const WAIT = { timeout: 90_000, interval: 250 };

async function startDaemon(options: { token?: string; dryRun?: boolean } = {}) {
  const { dir, marker, cleanup } = await scratch();
  const prefix = uniquePrefix('dashboard').slice(0, -1);
  cleanups.add(cleanup, () => deleteKeys(redis, `${prefix}:*`));
  const worker = (queue: string) =>
    `[node, ${BULLMQ_WORKER}, ${queue}, "${marker}"]\n    env: { REDIS_URL: "${redisUrl()}", QUEUE_PREFIX: ${prefix} }`;
  const config = await writeConfig(
    dir,
    `
redis: { url: "${redisUrl()}" }
tick: 1s
http: { port: 0${options.token ? `, token: "${options.token}"` : ''} }
# The machine running the tests may be busy: CPU headroom must not decide these tests.
limits: { cpu: { enforce: false } }
supervision: { stateFile: ${join(dir, 'state.json')} }
defaults:
  driver: bullmq
  prefix: ${prefix}
  slo: { pickup: 10s, percentile: 95 }
  stop: { grace: 5s }
  spawn: { latency: 1s, minUptime: 500ms }
  scaling: { cooldown: 2s, downStabilization: 3s }
queues:
  emails:
    command: ${worker('emails')}
    workers: { min: 1, max: 4 }
  reports:
    command: ${worker('reports')}
    workers: { min: 0, max: 1 }
`,
  );
  const args = ['--config', config, ...(options.dryRun ? ['--dry-run'] : [])];
  const daemon = await launchQscaled(args, marker, cleanups);
  const connection = connectRedis();
  const emails = new Queue('emails', { connection, prefix });
  cleanups.add(async () => {
    await emails.close();
    await connection.quit();
  });
  return { daemon, emails };
}

async function openBrowser(): Promise<Browser> {
  const browser = await launchChromium();
  cleanups.add(() => browser.close());
  return browser;
}

async function open(
  browser: Browser,
  daemon: QscaledProcess,
  requested: string[] = [],
): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('request', (request) => requested.push(request.url()));
  const response = await page.goto(daemon.url ?? '', { timeout: 90_000 });
  const headers = response?.headers() ?? {};
  expect(headers['content-security-policy']).toContain("default-src 'self'");
  expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
  expect(headers['x-content-type-options']).toBe('nosniff');
  return page;
}

/** Pixels close to `rgb` (anti-aliasing blends the edges of a line). */
function pixelsNear(png: PNG, [r, g, b]: [number, number, number], tolerance = 40): number {
  let found = 0;
  for (let i = 0; i < png.data.length; i += 4) {
    const distance =
      Math.abs((png.data[i] ?? 0) - r) +
      Math.abs((png.data[i + 1] ?? 0) - g) +
      Math.abs((png.data[i + 2] ?? 0) - b);
    if (distance <= tolerance) found++;
  }
  return found;
}

const cellText = (page: Page, queue: string, field: string) =>
  page
    .locator(`#queues tbody tr[data-queue="${queue}"] td[data-field="${field}"]`)
    .textContent({ timeout: 30_000 });

describe('the dashboard', () => {
  it('shows queues, workers, decisions and charts, and keeps them up to date', async () => {
    const { daemon, emails } = await startDaemon();
    await daemon.until((state) => running(state, 'emails') === 1, 'the minimum worker running');
    await emails.addBulk(Array.from({ length: 30 }, () => ({ name: 'e', data: { ms: 400 } })));
    const browser = await openBrowser();
    const requested: string[] = [];
    const page = await open(browser, daemon, requested);
    const problems = watchConsole(page);

    // Queues: both rows, in the configuration's order, each with its charts.
    const rows = page.locator('#queues tbody tr');
    await expect.poll(() => rows.count(), WAIT).toBe(2);
    const names = await page.locator('#queues tbody th .queue-name').allTextContents();
    expect(names).toEqual(['emails', 'reports']);
    await expect
      .poll(() => page.locator('.chart-card .queue-name').allTextContents(), WAIT)
      .toEqual(['emails', 'reports']);

    // Host capacity, SLO and workers.
    await expect.poll(() => page.locator('#summary').textContent(), WAIT).toContain('limited by');
    expect(await page.locator('#queues tbody tr[data-queue="emails"]').textContent()).toContain(
      'SLO 10 s',
    );
    const runningWorkers = page.locator(
      '#workers .worker-group[data-queue="emails"] li.worker[data-state="running"]',
    );
    await expect.poll(() => runningWorkers.count(), WAIT).toBeGreaterThanOrEqual(1);

    // Updating: a spike changes the pending count, brings a scale-up decision with its terms,
    // and the charts grow new points (one per 5 s bucket).
    const chart = page.locator('.chart-card[data-queue="emails"]');
    const pointsBefore = Number(await chart.getAttribute('data-points'));
    const pendingBefore = await cellText(page, 'emails', 'pending');
    await emails.addBulk(Array.from({ length: 150 }, () => ({ name: 'e', data: { ms: 300 } })));
    await expect.poll(() => cellText(page, 'emails', 'pending'), WAIT).not.toBe(pendingBefore);
    // The first 30 jobs may already have scaled up and back down: look at scale-ups only.
    const upRows = page.locator(
      '#decisions tbody tr.decision[data-queue="emails"][data-direction="up"]',
    );
    await expect.poll(() => upRows.count(), WAIT).toBeGreaterThanOrEqual(1);
    const decision = await upRows.first().textContent();
    expect(decision).toMatch(/▲ \d+ → \d+/);
    expect(await upRows.first().locator('.term').count()).toBeGreaterThan(0);
    await expect
      .poll(async () => Number(await chart.getAttribute('data-points')), WAIT)
      .toBeGreaterThan(pointsBefore);
    await expect.poll(() => runningWorkers.count(), WAIT).toBeGreaterThan(1);

    // Screenshots: the whole page, and the backlog and workers charts with their lines drawn.
    const full = await screenshot(page, 'dashboard', { fullPage: true });
    expect(full.width).toBe(1280);
    expect(full.height).toBeGreaterThanOrEqual(900);
    expect(distinctColours(full)).toBeGreaterThan(20);
    const plots = chart.locator('.plot canvas');
    const backlog = await screenshot(plots.nth(1), 'dashboard-backlog');
    expect(distinctColours(backlog)).toBeGreaterThan(2);
    expect(pixelsNear(backlog, [124, 58, 237])).toBeGreaterThan(10); // the backlog line
    const workers = await screenshot(plots.nth(2), 'dashboard-workers');
    expect(pixelsNear(workers, [5, 150, 105])).toBeGreaterThan(10); // the running workers line

    // A phone-sized window: the table scrolls inside its frame instead of the page.
    await page.setViewportSize({ width: 390, height: 844 });
    const phone = await screenshot(page, 'dashboard-phone', { fullPage: true });
    expect(phone.width).toBe(390);
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);

    // No script error and no Content-Security-Policy violation on the way, and nothing asked
    // of any other origin (no CDN: it works offline).
    expect(problems).toEqual([]);
    expect(requested.length).toBeGreaterThan(5);
    expect(requested.filter((url) => !url.startsWith(`${daemon.url}/`))).toEqual([]);
  }, 300_000);

  it('with a token, shows nothing until the token is given, and never puts it in a URL', async () => {
    const { daemon } = await startDaemon({ token: TOKEN });
    const browser = await openBrowser();
    const requested: string[] = [];
    const page = await open(browser, daemon, requested);

    await page.locator('#auth').waitFor({ state: 'visible', timeout: 90_000 });
    expect(await page.locator('#content').isHidden()).toBe(true);
    expect(await page.locator('body').textContent()).not.toContain('emails');
    expect(await page.locator('#queues tbody tr').count()).toBe(0);
    await screenshot(page, 'dashboard-token');

    await page.locator('#token').fill('not-the-right-token-at-all');
    await page.locator('#auth-form button').click();
    await expect.poll(() => page.locator('#auth-error').textContent(), WAIT).toContain('refused');
    expect(await page.locator('#content').isHidden()).toBe(true);

    await page.locator('#token').fill(TOKEN);
    await page.locator('#auth-form button').click();
    await expect.poll(() => page.locator('#queues tbody tr').count(), WAIT).toBe(2);
    // Kept for this tab: a reload shows the data without asking again.
    await page.reload();
    await expect.poll(() => page.locator('#queues tbody tr').count(), WAIT).toBe(2);
    expect(requested.some((url) => url.includes(TOKEN))).toBe(false);

    // Forgotten on request: the data goes away with it.
    await page.locator('#forget').click();
    await page.locator('#auth').waitFor({ state: 'visible', timeout: 30_000 });
    expect(await page.locator('#queues tbody tr').count()).toBe(0);
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
  }, 300_000);

  it('shows hostile text (a queue name, a reason, a policy edit) as text, never as HTML', async () => {
    // The configuration only takes plain queue names, but reasons come from strategy plugins
    // and the page must not trust any field: a real daemon's state and history, with every
    // `reports` renamed and a reason and an edit rewritten, served by the real status server.
    const { daemon } = await startDaemon({ dryRun: true });
    await daemon.until((state) => state.queues.every((queue) => queue.lastDecision), 'a decision');
    const hostile = (text: string) =>
      JSON.parse(text.replaceAll('"reports"', JSON.stringify(XSS_NAME)), (key, value) =>
        key === 'reason' || key === 'why' ? `${XSS_NAME} ${value}` : value,
      );
    const state = hostile(await (await fetch(`${daemon.url}/api/state`)).text());
    state.decisions.push({
      ...state.queues[1].lastDecision,
      from: 0,
      to: 1,
      at: Date.now(),
      tick: 1,
      direction: 'up',
      recommendation: { workers: 1, reason: XSS_NAME, terms: { [XSS_NAME]: 1 } },
      edits: [{ policy: XSS_NAME, from: 2, to: 1, why: XSS_NAME }],
    });
    const history = hostile(await (await fetch(`${daemon.url}/api/history`)).text());
    const server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      token: null,
      logger: silentLogger,
      routes: {
        health: () => ({ status: 'ok' }),
        metrics: async () => '',
        state: () => ({ ...state, now: Date.now() }),
        history: () => ({ ...history, now: Date.now() }),
      },
    });
    cleanups.add(() => server.close());
    const browser = await openBrowser();
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems = watchConsole(page);
    await page.goto(server.url, { timeout: 90_000 });

    await expect
      .poll(() => page.locator('#queues tbody th .queue-name').allTextContents(), WAIT)
      .toEqual(['emails', XSS_NAME]);
    await expect
      .poll(() => page.locator('.chart-card .queue-name').allTextContents(), WAIT)
      .toContain(XSS_NAME);
    expect(await page.locator('#decisions tbody').textContent()).toContain(XSS_NAME);
    expect(await page.locator('#workers').textContent()).toContain(XSS_NAME);
    expect(await page.locator('body img').count()).toBe(0);
    expect(await page.evaluate('window.__xss')).toBeUndefined();
    await screenshot(page, 'dashboard-hostile-text', { fullPage: true });
    expect(problems).toEqual([]);
  }, 300_000);
});
