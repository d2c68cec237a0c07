import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectRedis, deleteKeys, findProcessesWithArg, redisUrl, waitFor } from '@qscale/testkit';
import { afterEach, describe, expect, it } from 'vitest';

// `qscale status` and `qscale top` against a real qscaled that is a (one-host) fleet.

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const WORKER = fileURLToPath(new URL('../../../examples/bullmq/worker.mjs', import.meta.url));

function run(args: string[], cwd: string): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '' },
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout }));
  });
}

describe('qscale status and top in a fleet', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });

  it('show the fleet: this host, the leader and its term, each member', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qscale-fleet-status-'));
    const marker = `--qscale-cli=${randomUUID()}`;
    const prefix = `qscale-test-fleet-status-${randomUUID().slice(0, 8)}`;
    const redis = connectRedis();
    cleanups.push(
      () => rm(dir, { recursive: true, force: true }),
      async () => {
        await deleteKeys(redis, `{${prefix}:fleet}:*`);
        await redis.quit();
      },
    );
    await writeFile(
      join(dir, 'qscale.yml'),
      `redis: { url: "${redisUrl()}" }
tick: 1s
http: { port: 0 }
cluster: { enabled: true, id: status-host, leaseTtl: 3s, keyPrefix: "${prefix}:fleet" }
limits: { maxWorkers: 5, cpu: { enforce: false } }
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
    cleanups.push(async () => {
      daemon.kill('SIGKILL');
      for (const info of await findProcessesWithArg(marker)) process.kill(info.pid, 'SIGKILL');
    });
    await waitFor(() => /"msg":"qscale daemon started"/.test(logs), {
      timeoutMs: 30_000,
      what: 'the daemon',
    });
    const url = /"http":"(http:[^"]+)"/.exec(logs)?.[1] ?? '';
    // The minimum worker runs once the leader has assigned it and reported it.
    let status = { code: null as number | null, stdout: '' };
    await waitFor(
      async () => {
        status = await run(['status', '--url', url], dir);
        return status.stdout.includes('status-host *: 1 worker');
      },
      { timeoutMs: 60_000, what: 'the fleet line with the worker' },
    );
    expect(status.stdout).toMatch(
      /^fleet: status-host of 1 host, 1 worker; leader status-host \(this host\) \(term \d+\)$/m,
    );
    expect(status.stdout).toMatch(/^ {2}status-host \*: 1 worker, room for 5$/m);
    const top = await run(['top', '--url', url, '--count', '1'], dir);
    expect(top.stdout).toMatch(/^fleet: status-host of 1 host/m);
    const json = JSON.parse((await run(['status', '--url', url, '--json'], dir)).stdout);
    expect(json.cluster).toMatchObject({
      id: 'status-host',
      leader: 'status-host',
      members: [{ id: 'status-host', capacity: 5, workers: 1 }],
    });
  }, 120_000);
});
