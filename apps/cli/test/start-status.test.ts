import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DaemonState } from '@qscale/daemon';
import { connectRedis, deleteKeys, findProcessesWithArg, redisUrl, waitFor } from '@qscale/testkit';
import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const WORKER = fileURLToPath(new URL('../../../examples/bullmq/worker.mjs', import.meta.url));
const TOKEN = 'status-test-token-0123456789';

function run(
  args: string[],
  cwd: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('qscale start and qscale status', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });

  it('start runs the daemon in the foreground; status reads it, with its token; SIGTERM stops it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qscale-start-'));
    const marker = `--qscale-cli=${randomUUID()}`;
    const prefix = `qscale-test-start-${randomUUID().slice(0, 8)}`;
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(
      join(dir, 'qscale.yml'),
      `redis: { url: "${redisUrl()}" }
tick: 1s
http: { port: 0, token: ${TOKEN} }
supervision: { stateFile: ${join(dir, 'state.json')} }
queues:
  mail:
    driver: bullmq
    prefix: ${prefix}
    command: [node, ${WORKER}, mail, "${marker}"]
    env: { REDIS_URL: "${redisUrl()}", QUEUE_PREFIX: ${prefix} }
    workers: { min: 1, max: 2 }
    spawn: { minUptime: 500ms }
`,
    );
    const daemon: ChildProcess = spawn(process.execPath, [BIN, 'start', '--config', 'qscale.yml'], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '' },
    });
    let logs = '';
    daemon.stdout?.on('data', (chunk: Buffer) => {
      logs += chunk;
    });
    const exited = new Promise<number | null>((resolve) => daemon.once('exit', resolve));
    cleanups.push(async () => {
      daemon.kill('SIGKILL');
      for (const info of await findProcessesWithArg(marker)) process.kill(info.pid, 'SIGKILL');
    });
    await waitFor(() => /"msg":"qscale daemon started"/.test(logs), {
      timeoutMs: 30_000,
      what: 'the daemon',
    });
    const url = /"http":"(http:[^"]+)"/.exec(logs)?.[1] ?? '';

    const denied = await run(['status', '--url', url], dir);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toBe(
      `qscale status: the daemon at ${url} wants a bearer token: pass --token or set QSCALE_TOKEN\n`,
    );

    // The token from the config file; then the JSON of /api/state.
    await waitFor(
      async () => {
        const json = await run(['status', '--url', url, '--token', TOKEN, '--json'], dir);
        return JSON.parse(json.stdout).queues[0]?.workers.running === 1;
      },
      { timeoutMs: 30_000, what: 'the worker running' },
    );
    const text = await run(['status', '--config', 'qscale.yml', '--url', url], dir);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^qscaled at ${url}: ok, up .*`));
    expect(text.stdout).toMatch(/│ mail +│ +0 │/);
    expect(text.stdout).toContain('recent decisions:');
    expect(text.stdout).toMatch(/mail up 0 -> 1: .*\[bounds: the queue's min is 1\]/);

    // top, next to a running daemon: the queue figures and the daemon's workers and decisions.
    const top = await run(['top', '--url', url, '--token', TOKEN, '--count', '1'], dir);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(new RegExp(`^qscaled at ${url}: ok`));
    expect(top.stdout).toMatch(/│ queue +│ pending │ .* │ workers │ target │/);
    expect(top.stdout).toMatch(/mail up 0 -> 1/);
    const topJson = await run(
      ['top', '--url', url, '--token', TOKEN, '--count', '1', '--json'],
      dir,
    );
    expect(JSON.parse(topJson.stdout).queues[0].name).toBe('mail');

    daemon.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(await findProcessesWithArg(marker)).toEqual([]);
  }, 90_000);

  it('status, top and /api/state show a queue held below its recommendation, with the policy and why', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qscale-held-'));
    const marker = `--qscale-cli=${randomUUID()}`;
    const prefix = `qscale-test-held-${randomUUID().slice(0, 8)}`;
    const redis = connectRedis();
    cleanups.push(async () => {
      await deleteKeys(redis, `${prefix}:*`);
      await redis.quit();
      await rm(dir, { recursive: true, force: true });
    });
    // Room for one worker on the host, by configuration: a backlog asks for more.
    await writeFile(
      join(dir, 'qscale.yml'),
      `redis: { url: "${redisUrl()}" }
tick: 1s
http: { port: 0 }
limits: { maxWorkers: 1 }
supervision: { stateFile: ${join(dir, 'state.json')} }
queues:
  mail:
    driver: bullmq
    prefix: ${prefix}
    command: [node, ${WORKER}, mail, "${marker}"]
    env: { REDIS_URL: "${redisUrl()}", QUEUE_PREFIX: ${prefix} }
    slo: { pickup: 2s }
    workers: { min: 1, max: 200 }
    spawn: { minUptime: 500ms }
`,
    );
    const queue = new Queue('mail', { connection: { url: redisUrl() }, prefix });
    cleanups.push(() => queue.close());
    await queue.addBulk(Array.from({ length: 60 }, () => ({ name: 'mail', data: { ms: 2_000 } })));
    const daemon: ChildProcess = spawn(process.execPath, [BIN, 'start', '--config', 'qscale.yml'], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '' },
    });
    let logs = '';
    daemon.stdout?.on('data', (chunk: Buffer) => {
      logs += chunk;
    });
    const exited = new Promise<number | null>((resolve) => daemon.once('exit', resolve));
    cleanups.push(async () => {
      daemon.kill('SIGKILL');
      for (const info of await findProcessesWithArg(marker)) process.kill(info.pid, 'SIGKILL');
    });
    await waitFor(() => /"msg":"qscale daemon started"/.test(logs), {
      timeoutMs: 30_000,
      what: 'the daemon',
    });
    const url = /"http":"(http:[^"]+)"/.exec(logs)?.[1] ?? '';

    // A few ticks of the same hold: one record in the decisions, lasting. Two ticks are not
    // always a second apart (the loop keeps its rhythm), so wait for the record to span one.
    let state: DaemonState | null = null;
    await waitFor(
      async () => {
        const json = await run(['status', '--url', url, '--json'], dir);
        state = JSON.parse(json.stdout) as DaemonState;
        return state.holds.some(
          (decision) =>
            decision.direction === 'hold' &&
            (decision.heldTicks ?? 0) >= 2 &&
            (decision.until ?? decision.at) - decision.at >= 1_000,
        );
      },
      { timeoutMs: 60_000, what: 'a hold record lasting a second' },
    );
    const held = (state as DaemonState | null)?.queues[0]?.held;
    expect(held?.decided).toBe(1);
    expect(held?.recommended).toBeGreaterThan(1);
    // The host's share has the last word (other policies, such as a step limit, may cut first).
    expect(held?.by.at(-1)).toBe('fair-share');
    expect(held?.reason).toMatch(
      /(^|; )fair-share: limits\.maxWorkers is 1 for all queues together, shared across them$/,
    );

    const status = await run(['status', '--url', url], dir);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/│ workers │ target │ held by +│/);
    expect(status.stdout).toMatch(/│ +1 │ +1 │ ([\w-]+, )*fair-share \(asked \d+\) │/);
    expect(status.stdout).toContain('held below the recommendation:');
    expect(status.stdout).toMatch(
      /^ {2}mail held at 1 \(asked \d+\) by ([\w-]+, )*fair-share for [\d.]+m?s: .*fair-share: limits\.maxWorkers is 1/m,
    );
    const top = await run(['top', '--url', url, '--count', '1'], dir);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/│ ([\w-]+, )*fair-share \(asked \d+\) │/);
    // In the recent decisions: the hold, although the count did not change.
    expect(top.stdout).toMatch(
      /^ {2}\d\d:\d\d:\d\d mail held at 1 \(asked \d+\) by ([\w-]+, )*fair-share for /m,
    );

    daemon.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(await findProcessesWithArg(marker)).toEqual([]);
  }, 120_000);

  it('status says clearly when no daemon answers, and rejects a bad --url', async () => {
    const missing = await run(['status', '--url', 'http://127.0.0.1:45679'], tmpdir());
    expect(missing).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'qscale status: no qscale daemon answers at http://127.0.0.1:45679 (ECONNREFUSED); is qscaled running? (--url, --config)\n',
    });
    const bad = await run(['status', '--url', 'not a url'], tmpdir());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--url expects a URL like http://127.0.0.1:9730, got "not a url"');
  });

  it('start with an invalid configuration starts nothing and exits 1', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qscale-start-bad-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'qscale.yml'), 'queues:\n  a: { driver: rq, command: [] }\n');
    const result = await run(['start'], dir);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'queues.a.command: expected at least the program to run, got an empty list (qscale.yml:2:29)\nqscaled: qscale.yml is not a usable configuration; nothing was started\n',
    );
  });
});
