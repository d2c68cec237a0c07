import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Daemon, parseConfig, startDaemon } from '@qscale/daemon';
import { connectRedis, deleteKeys, redisUrl, uniquePrefix, waitFor } from '@qscale/testkit';
import { afterEach, describe, expect, it } from 'vitest';

// `qscale status` against a dry-run daemon (it spawns nothing) scaling a worker group of two
// RQ queues with jobs waiting: the group's row, each member queue's own row under it with what
// the group needs for it, and the decision that names each member's need.

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

function status(url: string): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'status', '--url', url], {
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

describe('qscale status with a worker group', () => {
  const redis = connectRedis();
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });

  it('shows the group, its member queues under it and what the group needs for each', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qscale-groups-'));
    const prefix = uniquePrefix('cli-groups');
    cleanups.push(
      () => rm(dir, { recursive: true, force: true }),
      () => deleteKeys(redis, `${prefix}*`),
      () => redis.quit(),
    );
    const config = parseConfig(
      `redis: { url: "${redisUrl()}" }
tick: 200ms
http: { port: 0 }
supervision: { stateFile: ${join(dir, 'state.json')} }
queues:
  high: { driver: rq, prefix: "${prefix}", slo: { pickup: 5s } }
  low: { driver: rq, prefix: "${prefix}", slo: { pickup: 2m } }
groups:
  web:
    queues: [high, low]
    command: [rq, worker, high, low]
    workers: { max: 6 }
`,
      { env: {} },
    );
    // Jobs waiting in both queues, as RQ enqueues them: a job hash, its id on the queue's list.
    const enqueue = async (queue: string, ids: string[]) => {
      for (const id of ids) {
        await redis.hset(`${prefix}rq:job:${id}`, 'enqueued_at', new Date().toISOString());
        await redis.rpush(`${prefix}rq:queue:${queue}`, id);
      }
    };
    await enqueue('high', ['a', 'b', 'c']);
    await enqueue('low', ['d', 'e']);
    const daemon: Daemon = await startDaemon({ config, dryRun: true });
    cleanups.push(() => daemon.stop());
    await waitFor(
      () => {
        const web = daemon.state().queues.find((queue) => queue.name === 'web');
        return web?.group?.members.every((member) => member.need !== null) ?? false;
      },
      { timeoutMs: 30_000, what: 'a first decision of the group' },
    );

    const { stdout } = await status(daemon.url as string);
    const rows = stdout.split('\n');
    const web = rows.find((row) => /│ web\s/.test(row));
    expect(web).toMatch(/group: priority/);
    // Each member's own figures under the group, served by it, with its own SLO and need.
    const high = rows.find((row) => row.includes('└ high'));
    const low = rows.find((row) => row.includes('└ low'));
    expect(high).toMatch(/│\s+3 │.*in web │\s+needs \d+ │.*p95 <= 5s/);
    expect(low).toMatch(/│\s+2 │.*in web │\s+needs \d+ │.*p95 <= 2m/);
    expect(rows.indexOf(web as string)).toBeLessThan(rows.indexOf(high as string));
    expect(stdout).toMatch(/web up 0 -> \d+: .*\(needs: high \d+, low \d+\)/);
  });
});
