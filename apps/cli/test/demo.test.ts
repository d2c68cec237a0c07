import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findProcessesWithArg, redisUrl, waitFor } from '@qscale/testkit';
import { afterEach, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const EXAMPLES = fileURLToPath(new URL('../../../examples/', import.meta.url));

/**
 * The demo's own configuration, with a marker on every worker so /proc can find them;
 * `maxWorkers` replaces its limit of workers for all queues.
 */
async function demoConfig(dir: string, marker: string, maxWorkers?: number): Promise<string> {
  const original = await readFile(join(EXAMPLES, 'demo', 'qscale.yml'), 'utf8');
  const worker = join(EXAMPLES, 'bullmq', 'worker.mjs');
  let config = original
    .replaceAll('../bullmq/worker.mjs', worker)
    // Its own keys: the demo clears its prefix, and other runs may share this Redis.
    .replaceAll(': qscale-demo\n', `: qscale-demo-test-${randomUUID().slice(0, 8)}\n`)
    .replace(/command: \[node, (\S+), (emails|reports)\]/g, `command: [node, $1, $2, "${marker}"]`);
  expect(config.match(new RegExp(marker, 'g'))).toHaveLength(2);
  expect(config).not.toMatch(/: qscale-demo$/m);
  if (maxWorkers !== undefined) {
    expect(config).toContain('maxWorkers: 16');
    config = config.replace('maxWorkers: 16', `maxWorkers: ${maxWorkers}`);
  }
  const path = join(dir, 'qscale.yml');
  await writeFile(path, config);
  return path;
}

function startDemo(args: string[], cwd: string) {
  const child = spawn(process.execPath, [BIN, 'demo', ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', REDIS_URL: redisUrl() },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, exited, output: () => ({ stdout, stderr }) };
}

describe('qscale demo', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });

  async function setup(maxWorkers?: number) {
    const dir = await mkdtemp(join(tmpdir(), 'qscale-demo-'));
    const marker = `--qscale-demo-test=${randomUUID()}`;
    cleanups.push(async () => {
      for (const info of await findProcessesWithArg(marker)) process.kill(info.pid, 'SIGKILL');
      await rm(dir, { recursive: true, force: true });
    });
    const config = await demoConfig(dir, marker, maxWorkers);
    const args = [
      '--config',
      config,
      '--chart',
      join(dir, 'demo.html'),
      '--log',
      join(dir, 'demo.log'),
    ];
    return { dir, marker, args };
  }

  it('runs a short demo to the end: summary, chart, graceful stop, nothing left', async () => {
    const { dir, marker, args } = await setup();
    const demo = startDemo([...args, '--duration', '12s'], dir);
    const code = await demo.exited;
    const { stdout, stderr } = demo.output();
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain(`qscale demo: Redis at ${redisUrl()} (from REDIS_URL)`);
    expect(stdout).toMatch(
      /done in .*: \d+ jobs, [\d.]+% picked up within their SLO; stopped \d+ workers gracefully/,
    );
    expect(stdout).toContain('dashboard and status API: http://127.0.0.1:');
    // Jobs ran, and never for longer than the workers that ran them were alive.
    for (const queue of ['emails', 'reports']) {
      const { workerSeconds, busySeconds } = summaryRow(stdout, queue);
      expect(busySeconds).toBeGreaterThan(0);
      expect(busySeconds).toBeLessThanOrEqual(workerSeconds);
    }
    // CPU counts what the demo's sleeping workers cost, and says so with what they cost.
    expect(stdout).toContain('cpu up to 85% for the workers, priced at what one costs');
    expect(stdout).toMatch(/cost of one worker: emails [\d.]+ cores \(measured\)/);
    const chart = chartParts(await readFile(join(dir, 'demo.html'), 'utf8'));
    expect(chart.svgs).toBe(1);
    expect(chart.responsive).toBe(true);
    expect(chart.tableBeforeChart).toBe(true);
    expect(chart.external).toEqual([]);
    expect(chart.queues).toEqual(['emails', 'reports']);
    // Per queue: the SLO line on the pickup panel, and the recommendation drawn as its own line.
    expect(chart.sloLines).toBe(2);
    expect(chart.recommendedPoints.every((points) => points >= 2)).toBe(true);
    expect(chart.axisUnits).toEqual(
      expect.arrayContaining(['jobs/s', 'jobs', 'workers', 'seconds']),
    );
    const log = await readFile(join(dir, 'demo.log'), 'utf8');
    expect(log).toContain('"msg":"qscale daemon stopped"');
    expect(await findProcessesWithArg(marker)).toEqual([]);
  }, 120_000);

  it('a host with room for one worker: the summary and the chart name the policy that held the others', async () => {
    const { dir, args } = await setup(1);
    const demo = startDemo([...args, '--duration', '12s'], dir);
    const code = await demo.exited;
    const { stdout, stderr } = demo.output();
    expect(stderr).toBe('');
    expect(code).toBe(0);
    // reports (min 0) gets a batch of 40 jobs; emails' minimum takes the one slot.
    expect(stdout).toContain("what held the workers below the strategy's recommendation:");
    expect(stdout).toMatch(/^ {2}reports: held for [\d.]+m?s in \d+ spans?$/m);
    expect(stdout).toMatch(
      /^ {4}by fair-share for .*: asked up to [1-9]\d*, allowed 0; fair-share: limits\.maxWorkers is 1 for all queues together/m,
    );
    const chart = chartParts(await readFile(join(dir, 'demo.html'), 'utf8'));
    expect(chart.holdSpans.length).toBeGreaterThan(0);
    expect(chart.holdSpans.every((span) => span.by.length > 0 && span.width > 0)).toBe(true);
    expect(chart.holdSpans.some((span) => span.by.includes('fair-share'))).toBe(true);
    expect(chart.heldList).toMatch(
      /reports<\/strong>: held below the strategy's recommendation for .* by fair-share/,
    );
  }, 120_000);

  it('Ctrl-C in the middle stops every worker gracefully and leaves nothing behind', async () => {
    const { dir, marker, args } = await setup();
    const demo = startDemo([...args, '--duration', '60s'], dir);
    // One worker is enough to show the stop (emails keeps a minimum of one); on a busy machine
    // the host's capacity may hold the demo to that one, and the CLI itself is slow to load.
    await waitFor(async () => (await findProcessesWithArg(marker)).length >= 1, {
      timeoutMs: 150_000,
      what: 'a demo worker running',
    });
    demo.child.kill('SIGINT');
    const code = await demo.exited;
    expect(code).toBe(130);
    expect(demo.output().stderr).toContain('interrupted: stopping gracefully');
    expect(await findProcessesWithArg(marker)).toEqual([]);
    const log = await readFile(join(dir, 'demo.log'), 'utf8');
    expect(log).toMatch(/"msg":"qscale daemon stopped"/);
    expect(log).not.toMatch(/"escalated":[1-9]/);
  }, 240_000);
});

/** worker-s and busy-s of a queue's row in the summary table. */
function summaryRow(stdout: string, queue: string): { workerSeconds: number; busySeconds: number } {
  // The live view's tables come before the summary's: read after its first line.
  const summary = stdout.slice(stdout.indexOf('\ndone in '));
  const row = summary.split('\n').find((line) => line.startsWith(`│ ${queue} `));
  expect(row, `the summary row of ${queue}`).toBeDefined();
  const cells = (row as string).split('│').map((cell) => cell.trim());
  // │ queue │ jobs │ SLO met │ p95 pickup │ SLO │ worker-s │ busy-s │ ...
  return { workerSeconds: Number(cells[6]), busySeconds: Number(cells[7]) };
}

/** What the chart page is made of, read from its markup. */
function chartParts(html: string) {
  const svg = /<svg[^>]*>/.exec(html)?.[0] ?? '';
  const attributes = (tag: string) =>
    Object.fromEntries([...tag.matchAll(/([\w-]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
  const tags = (pattern: RegExp) => [...html.matchAll(pattern)].map((m) => attributes(m[0]));
  return {
    svgs: html.match(/<svg/g)?.length ?? 0,
    responsive:
      attributes(svg).width === '100%' && /^0 0 \d+ \d+/.test(attributes(svg).viewBox ?? ''),
    tableBeforeChart:
      html.indexOf('<table id="results"') >= 0 && html.indexOf('<table') < html.indexOf('<svg'),
    external: [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]),
    queues: [...html.matchAll(/>queue (\w+)</g)].map((m) => m[1]),
    sloLines: tags(/<line class="slo"[^>]*>/g).length,
    recommendedPoints: tags(/<path class="recommended"[^>]*>/g).map(
      (path) => (path.d ?? '').match(/[MHV]/g)?.length ?? 0,
    ),
    axisUnits: [...html.matchAll(/transform="rotate\(-90[^"]*">([^<]+)</g)].map((m) => m[1]),
    holdSpans: tags(/<rect class="hold"[^>]*>/g).map((rect) => ({
      by: (rect['data-by'] ?? '').split(' ').filter(Boolean),
      width: Number(rect.width),
    })),
    heldList: /<ul id="held">[\s\S]*?<\/ul>\n<p/.exec(html)?.[0] ?? '',
  };
}
