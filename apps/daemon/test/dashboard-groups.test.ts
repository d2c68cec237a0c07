import { join } from 'node:path';
import { connectRedis, deleteKeys, redisUrl, uniquePrefix } from '@qscale/testkit';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { HistoryView } from '../src/index.js';
import { distinctColours, launchChromium, screenshot, watchConsole } from './helpers/browser.js';
import { Cleanups, launchQscaled, running, scratch, writeConfig } from './helpers/qscaled.js';

// A worker group on the dashboard, in a real browser (Debian's chromium through
// playwright-core) against a real qscaled: the group's pool is one row, one worker list and
// one chart card, and under it each member queue's pending, oldest job and pickup against its
// own SLO. The members are RQ queues (jobs enqueued as RQ does); the pool's worker is a real
// process that stays up and takes no job, so `default`'s backlog ages past its own SLO while
// `high` stays empty.

const redis = connectRedis();
const cleanups = new Cleanups();
afterEach(() => cleanups.run());
afterAll(async () => {
  await redis.quit();
});

const WAIT = { timeout: 90_000, interval: 250 };

const memberCell = (page: Page, queue: string, field: string) =>
  page.locator(`#queues tbody tr.member[data-queue="${queue}"] td[data-field="${field}"]`);

describe('the dashboard with a worker group', () => {
  it("shows the group once, each member against its own SLO, and the pool's workers once", async () => {
    const { dir, marker, cleanup } = await scratch();
    const prefix = uniquePrefix('dashboard-group');
    cleanups.add(cleanup, () => deleteKeys(redis, `${prefix}*`));
    const config = await writeConfig(
      dir,
      `
redis: { url: "${redisUrl()}" }
tick: 1s
http: { port: 0 }
limits: { cpu: { enforce: false } }
supervision: { stateFile: ${join(dir, 'state.json')} }
queues:
  high: { driver: rq, prefix: "${prefix}", slo: { pickup: 2s } }
  default: { driver: rq, prefix: "${prefix}", slo: { pickup: 6s, percentile: 99 } }
groups:
  web:
    queues: [high, default]
    command: [node, -e, "process.on('SIGTERM', () => process.exit(0)); setInterval(() => {}, 1000)", --, "${marker}"]
    workers: { min: 1, max: 1 }
    stop: { grace: 2s }
`,
    );
    const daemon = await launchQscaled(['--config', config], marker, cleanups);
    await daemon.until((state) => running(state, 'web') === 1, 'the group worker running');
    for (const id of ['a', 'b', 'c']) {
      await redis.hset(`${prefix}rq:job:${id}`, 'enqueued_at', new Date().toISOString());
      await redis.rpush(`${prefix}rq:queue:default`, id);
    }

    const browser = await launchChromium();
    cleanups.add(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems = watchConsole(page);
    await page.goto(daemon.url ?? '', { timeout: 90_000 });

    // The table: the group's row, then its members, none of them a pool of its own.
    const rows = page.locator('#queues tbody tr');
    await expect
      .poll(() => rows.evaluateAll((all) => all.map((row) => row.getAttribute('data-queue'))), WAIT)
      .toEqual(['web', 'high', 'default']);
    expect(await page.locator('#queues tbody tr.group').getAttribute('data-queue')).toBe('web');
    expect(
      await page
        .locator('#queues tbody tr.member')
        .evaluateAll((all) => all.map((row) => row.getAttribute('data-group'))),
    ).toEqual(['web', 'web']);
    expect(await page.locator('#meta').textContent()).toContain('2 queues (1 worker group)');

    // Each member's own figures against its own SLO (not the group's tightest, 2 s).
    await expect.poll(() => memberCell(page, 'default', 'pending').textContent(), WAIT).toBe('3');
    expect(await memberCell(page, 'high', 'pending').textContent()).toBe('0');
    expect(await memberCell(page, 'high', 'pickup').textContent()).toContain('SLO 2.0 s');
    expect(await memberCell(page, 'default', 'pickup').textContent()).toContain('p99');
    expect(await memberCell(page, 'default', 'pickup').textContent()).toContain('SLO 6.0 s');
    // default's oldest job passes its own 6 s: that member (and the group's row) is in breach,
    // high is not.
    await expect
      .poll(() => memberCell(page, 'default', 'oldest').getAttribute('class'), WAIT)
      .toContain('breach');
    await expect
      .poll(() => page.locator('#queues tbody tr.group').getAttribute('class'), WAIT)
      .toContain('level-breach');
    await expect
      .poll(() => page.locator('#meta').textContent(), WAIT)
      .toContain('1 over their SLO');
    expect(
      await page.locator('#queues tbody tr.member[data-queue="high"]').getAttribute('class'),
    ).not.toContain('breach');
    expect(await page.locator('#queues tbody tr.group td[data-field="pickup"]').textContent()).toBe(
      'over its own SLO: default',
    );

    // Workers: the pool once, under the group's name.
    const groups = page.locator('#workers .worker-group');
    await expect.poll(() => groups.count(), WAIT).toBe(1);
    expect(await groups.first().getAttribute('data-queue')).toBe('web');
    expect(await groups.first().textContent()).toContain('serves high, default');
    await expect
      .poll(() => groups.first().locator('li.worker[data-state="running"]').count(), WAIT)
      .toBe(1);

    // Charts: one card for the group, the pool's workers once, each member's panels with its
    // own SLO line; default's backlog line drawn once two points are in.
    const card = page.locator('.chart-card[data-queue="web"]');
    await expect.poll(() => page.locator('.chart-card').count(), WAIT).toBe(1);
    expect(
      await card
        .locator('.member-charts')
        .evaluateAll((all) => all.map((section) => section.getAttribute('data-member'))),
    ).toEqual(['high', 'default']);
    expect(await card.locator('.member-charts[data-member="high"] h4').textContent()).toContain(
      'its own SLO 2.0 s',
    );
    expect(await card.locator('.member-charts[data-member="default"] h4').textContent()).toContain(
      'its own SLO 6.0 s',
    );
    expect(await card.locator('.panel-title', { hasText: 'Workers of the pool' }).count()).toBe(1);
    const defaultCharts = card.locator('.member-charts[data-member="default"]');
    await expect
      .poll(async () => Number(await defaultCharts.getAttribute('data-points')), WAIT)
      .toBeGreaterThanOrEqual(2);
    await expect.poll(() => defaultCharts.getAttribute('class'), WAIT).toContain('breach');
    expect(
      await card.locator('.member-charts[data-member="high"]').getAttribute('class'),
    ).not.toContain('breach');

    const full = await screenshot(page, 'dashboard-group', { fullPage: true });
    expect(distinctColours(full)).toBeGreaterThan(20);
    const backlog = await screenshot(
      defaultCharts.locator('.plot canvas').first(),
      'dashboard-group-default-backlog',
    );
    expect(distinctColours(backlog)).toBeGreaterThan(2);

    // The history the page reads: the pool's series and each member's under its own name.
    const history = (await (await fetch(`${daemon.url}/api/history`)).json()) as HistoryView;
    expect(Object.keys(history.queues).sort()).toEqual(['default', 'high', 'web']);
    expect(history.queues.default?.backlog.at(-1)).toBe(3);
    expect(history.queues.default?.oldestAgeMs.some((ms) => ms !== null && ms > 0)).toBe(true);
    expect(history.queues.high?.backlog.at(-1)).toBe(0);
    expect(problems).toEqual([]);
  }, 300_000);
});
