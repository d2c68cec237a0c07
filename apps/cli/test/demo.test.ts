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

/** The demo's own configuration, with a marker on every worker so /proc can find them. */
async function demoConfig(dir: string, marker: string): Promise<string> {
  const original = await readFile(join(EXAMPLES, 'demo', 'qscale.yml'), 'utf8');
  const worker = join(EXAMPLES, 'bullmq', 'worker.mjs');
  const config = original
    .replaceAll('../bullmq/worker.mjs', worker)
    .replace(/command: \[node, (\S+), (emails|reports)\]/g, `command: [node, $1, $2, "${marker}"]`);
  expect(config.match(new RegExp(marker, 'g'))).toHaveLength(2);
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

  async function setup() {
    const dir = await mkdtemp(join(tmpdir(), 'qscale-demo-'));
    const marker = `--qscale-demo-test=${randomUUID()}`;
    cleanups.push(async () => {
      for (const info of await findProcessesWithArg(marker)) process.kill(info.pid, 'SIGKILL');
      await rm(dir, { recursive: true, force: true });
    });
    const config = await demoConfig(dir, marker);
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
    expect(stdout).toMatch(/│ emails +│ +\d+ │/);
    expect(stdout).toMatch(/│ reports +│ +\d+ │/);
    const chart = await readFile(join(dir, 'demo.html'), 'utf8');
    expect(chart).toContain('<svg');
    expect(chart).toContain('queue emails');
    const log = await readFile(join(dir, 'demo.log'), 'utf8');
    expect(log).toContain('"msg":"qscale daemon stopped"');
    expect(await findProcessesWithArg(marker)).toEqual([]);
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
