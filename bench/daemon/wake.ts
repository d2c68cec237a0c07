// bench/daemon wake: pickup latency of a first job on a queue scaled to zero, with the wake
// poll (`wakePoll: 250ms`) and without it (`0s`: the job waits for the next 2 s tick). A real
// qscaled manages one BullMQ queue (`workers.min: 0`) whose worker is examples/bullmq/worker.mjs
// (node and BullMQ boot included); each trial starts a fresh daemon (no worker), lets it tick
// once, then adds one job at a random phase of the tick. Pickup = the job's processedOn - timestamp (BullMQ's).
// Run: npm run build && npx pnpm@10.34.8 --filter @qscale/bench run wake   (TRIALS=8)
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectRedis, deleteKeys, freePort, redisUrl, waitFor } from '@qscale/testkit';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { machine, markdownTable } from '../lib/measure.js';

const QSCALED = fileURLToPath(new URL('../../apps/daemon/dist/bin.js', import.meta.url));
const WORKER = fileURLToPath(new URL('../../examples/bullmq/worker.mjs', import.meta.url));
const TRIALS = Number(process.env.TRIALS ?? 8);
const TICK_MS = 2_000;

/**
 * One fresh daemon and queue per trial: a queue that saw a job keeps a worker while its
 * arrival rate is recent (BullMQ's event stream shows it even to a new daemon).
 */
async function trial(wakePoll: string, dir: string, redis: Redis): Promise<number> {
  const prefix = `bench-wake-${randomUUID().slice(0, 8)}`;
  const queue = new Queue('mail', { connection: redis, prefix });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  await writeFile(
    join(dir, 'qscale.yml'),
    `redis: { url: "${redisUrl()}" }
tick: ${TICK_MS}ms
wakePoll: ${wakePoll}
http: { port: ${port} }
log: { level: warn }
limits: { cpu: { enforce: false } }
supervision: { stateFile: ${join(dir, 'state.json')} }
queues:
  mail:
    driver: bullmq
    prefix: ${prefix}
    command: [node, ${WORKER}, mail]
    env: { REDIS_URL: "${redisUrl()}", QUEUE_PREFIX: ${prefix} }
    workers: { min: 0, max: 1 }
    slo: { pickup: 5s }
    spawn: { minUptime: 200ms }
    stop: { grace: 5s }
`,
  );
  const child = spawn(process.execPath, [QSCALED, '--config', join(dir, 'qscale.yml')], {
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const health = async () => (await (await fetch(`${url}/healthz`)).json()) as { ticks: number };
    await waitFor(
      () =>
        health().then(
          (h) => h.ticks >= 1,
          () => false,
        ),
      {
        timeoutMs: 30_000,
        what: 'qscaled to tick',
      },
    );
    // Somewhere in the tick after the first one, at random.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * TICK_MS));
    const job = await queue.add('send', { ms: 10 });
    await waitFor(async () => (await queue.getJob(job.id ?? ''))?.finishedOn !== undefined, {
      timeoutMs: 30_000,
      intervalMs: 50,
      what: `job ${job.id} done`,
    });
    const done = await queue.getJob(job.id ?? '');
    return (done?.processedOn ?? Number.NaN) - (done?.timestamp ?? Number.NaN);
  } finally {
    child.kill('SIGTERM');
    await exited;
    await queue.close();
    await deleteKeys(redis, `${prefix}:*`);
  }
}

async function trials(wakePoll: string): Promise<number[]> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-wake-'));
  const redis = connectRedis();
  const pickups: number[] = [];
  try {
    for (let index = 0; index < TRIALS; index++) pickups.push(await trial(wakePoll, dir, redis));
  } finally {
    await redis.quit();
    await rm(dir, { recursive: true, force: true });
  }
  return pickups;
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
};

const rows: Record<string, string | number>[] = [];
for (const wakePoll of ['250ms', '0s']) {
  const pickups = await trials(wakePoll);
  rows.push({
    wakePoll,
    trials: pickups.length,
    'pickup p50 ms': Math.round(quantile(pickups, 0.5)),
    'pickup max ms': Math.round(Math.max(...pickups)),
    'mean ms': Math.round(pickups.reduce((sum, value) => sum + value, 0) / pickups.length),
    'all (ms)': pickups.map((value) => Math.round(value)).join(', '),
  });
}
console.log(`## daemon: first job on a queue scaled to zero\n`);
console.log(`Command: \`npx pnpm@10.34.8 --filter @qscale/bench run wake\` (TRIALS=${TRIALS}).`);
console.log(`Machine: ${machine()}.\n`);
console.log(markdownTable(rows));
