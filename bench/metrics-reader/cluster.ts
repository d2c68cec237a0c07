/**
 * metrics-reader: snapshot time of the same Laravel queues on one redis-server and on a Redis
 * Cluster of three masters (queues `{q0}` ... spread over the masters by their hash tags), and
 * on a Unix socket. On the cluster a tick is one pipeline per master, sent at once.
 *
 *   npx pnpm@10.34.8 --filter @qscale/bench run cluster
 *
 * Prints the Markdown lines for the metrics-reader section of bench/RESULTS.md.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createMetricsReader, type QueueSource } from '@qscale/metrics-reader';
import { LaravelRedisQueue, startPrivateRedis, waitFor } from '@qscale/testkit';
import { Cluster, Redis } from 'ioredis';
import { machine, markdownTable, measure } from '../lib/measure.js';

const QUEUES = Number(process.env.QUEUES ?? 300);
const RUNS = Number(process.env.RUNS ?? 100);
const run = promisify(execFile);

const names = Array.from({ length: QUEUES }, (_, index) => `{q${index}}`);
const sources = (redis: QueueSource['redis']): QueueSource[] =>
  names.map((name) => ({
    queue: name.slice(1, -1),
    driver: 'laravel',
    backendName: name,
    prefix: 'bench_',
    redis,
  }));

async function fill(client: Redis | Cluster): Promise<void> {
  for (const name of names) {
    await new LaravelRedisQueue(client as Redis, { prefix: 'bench_', queue: name }).push();
  }
}

async function time(label: string, redis: QueueSource['redis']) {
  const reader = createMetricsReader({ sources: sources(redis) });
  try {
    const first = await reader.snapshot();
    const wrong = first.filter((snapshot) => snapshot.error || snapshot.pending !== 1);
    if (wrong.length > 0) throw new Error(`${label}: ${JSON.stringify(wrong[0])}`);
    const timing = await measure(() => reader.snapshot(), { runs: RUNS, warmup: 5 });
    return { setup: label, queues: QUEUES, ...timing };
  } finally {
    await reader.close();
  }
}

async function main(): Promise<void> {
  const single = await startPrivateRedis(['--unixsocket', 'redis.sock']);
  const nodes = [];
  for (let index = 0; index < 3; index++) {
    nodes.push(
      await startPrivateRedis(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf']),
    );
  }
  let cluster: Cluster | undefined;
  const admin = new Redis(single.url);
  try {
    await run('redis-cli', [
      '--cluster',
      'create',
      ...nodes.map((node) => `127.0.0.1:${node.port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    for (const node of nodes) {
      const probe = new Redis(node.url);
      await waitFor(async () => /cluster_state:ok/.test(String(await probe.cluster('INFO'))), {
        timeoutMs: 60_000,
        what: 'cluster_state:ok',
      });
      probe.disconnect();
    }
    cluster = new Cluster([{ host: '127.0.0.1', port: nodes[0]?.port as number }]);
    await fill(admin);
    await fill(cluster);
    const rows = [
      await time('one redis-server, TCP', { url: single.url }),
      await time('one redis-server, Unix socket', {
        url: `redis+unix://${single.dir}/redis.sock`,
      }),
      await time('Redis Cluster, 3 masters', { url: nodes[0]?.url as string, cluster: true }),
    ];
    console.log(`${machine()}; ${QUEUES} Laravel queues, ${RUNS} snapshots each\n`);
    console.log(markdownTable(rows));
  } finally {
    admin.disconnect();
    await cluster?.quit().catch(() => undefined);
    for (const node of nodes) await node.stop();
    await single.stop();
  }
}

await main();
