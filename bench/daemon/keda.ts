// bench/daemon keda: KEDA's external scaler as `qscale scaler` serves it. (1) Latency of
// GetMetrics (and IsActive) over loopback with a persistent gRPC connection, as KEDA's operator
// keeps one. (2) Time from the first job on a queue at zero to StreamIsActive reporting true,
// with the wake poll (250 ms) and without it (0s: the next 2 s tick). Each wake trial starts a
// fresh scaler on a fresh queue, opens the stream, waits for its first `false`, then adds one
// job at a random phase of the tick.
// Run: npm run build && npx pnpm@10.34.8 --filter @qscale/bench run keda   (TRIALS=10, CALLS=2000)
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { type ClientReadableStream, credentials, type ServiceError } from '@grpc/grpc-js';
import { loadExternalScaler } from '@qscale/daemon';
import { connectRedis, deleteKeys, redisUrl, waitFor } from '@qscale/testkit';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { machine, markdownTable, measure } from '../lib/measure.js';

const QSCALE = fileURLToPath(new URL('../../apps/cli/dist/bin.js', import.meta.url));
const TRIALS = Number(process.env.TRIALS ?? 10);
const CALLS = Number(process.env.CALLS ?? 2_000);
const TICK_MS = 2_000;
const ExternalScaler = loadExternalScaler();
type Client = InstanceType<typeof ExternalScaler>;

const ref = { name: 'bench', namespace: 'bench', scalerMetadata: { queue: 'mail' } };

function unary<Res>(client: Client, method: string, request: unknown): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = client[method] as (
      req: unknown,
      cb: (error: ServiceError | null, res: Res) => void,
    ) => void;
    fn.call(client, request, (error, response) => (error ? reject(error) : resolve(response)));
  });
}

async function startScaler(dir: string, prefix: string, wakePoll: string) {
  await writeFile(
    join(dir, 'qscale.yml'),
    `redis: { url: "${redisUrl()}" }
tick: ${TICK_MS}ms
wakePoll: ${wakePoll}
http: { enabled: false }
log: { level: info }
externalScaler: { port: 0 }
queues:
  mail:
    driver: bullmq
    prefix: ${prefix}
    command: [node, worker.mjs]
    workers: { min: 0, max: 10 }
    slo: { pickup: 5s }
`,
  );
  const child: ChildProcess = spawn(
    process.execPath,
    [QSCALE, 'scaler', '--config', 'qscale.yml'],
    {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let logs = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    logs += chunk;
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await waitFor(() => logs.includes('"msg":"qscale scaler ready"'), {
    timeoutMs: 30_000,
    what: 'qscale scaler ready',
  });
  const line = logs.split('\n').find((entry) => entry.includes('"msg":"qscale scaler ready"'));
  const address = (JSON.parse(line ?? '{}') as { externalScaler: string }).externalScaler;
  const client = new ExternalScaler(address, credentials.createInsecure());
  // The first decision: before it, the service answers UNAVAILABLE.
  await waitFor(
    () =>
      unary(client, 'IsActive', ref).then(
        () => true,
        () => false,
      ),
    {
      timeoutMs: 30_000,
      what: 'a first decision',
    },
  );
  return {
    client,
    async stop() {
      client.close();
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function latency(): Promise<Record<string, string | number>[]> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-keda-'));
  const prefix = `bench-keda-${randomUUID().slice(0, 8)}`;
  const scaler = await startScaler(dir, prefix, '250ms');
  try {
    const request = { scaledObjectRef: ref, metricName: 'qscale-mail' };
    const rows: Record<string, string | number>[] = [];
    for (const [method, body] of [
      ['GetMetrics', request],
      ['IsActive', ref],
    ] as const) {
      const timing = await measure(() => unary(scaler.client, method, body), {
        runs: CALLS,
        warmup: 100,
      });
      rows.push({
        call: method,
        calls: timing.runs,
        'mean ms': timing.meanMs,
        'p50 ms': timing.p50Ms,
        'p95 ms': timing.p95Ms,
        'max ms': timing.maxMs,
      });
    }
    return rows;
  } finally {
    await scaler.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function wakeTrial(wakePoll: string, redis: Redis): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-keda-'));
  const prefix = `bench-keda-${randomUUID().slice(0, 8)}`;
  const scaler = await startScaler(dir, prefix, wakePoll);
  const queue = new Queue('mail', { connection: redis, prefix });
  try {
    const seen: { result: boolean; at: number }[] = [];
    const open = scaler.client.StreamIsActive as (
      request: unknown,
    ) => ClientReadableStream<{ result: boolean }>;
    const stream = open.call(scaler.client, ref);
    stream.on('data', (message) => seen.push({ result: message.result, at: performance.now() }));
    stream.on('error', () => {});
    await waitFor(() => seen.length > 0, { timeoutMs: 10_000, what: 'the stream state' });
    if (seen[0]?.result !== false) throw new Error('the queue was not at zero');
    await new Promise((resolve) => setTimeout(resolve, Math.random() * TICK_MS));
    const added = performance.now();
    await queue.add('send', {});
    await waitFor(() => seen.some((message) => message.result), {
      timeoutMs: 30_000,
      intervalMs: 5,
      what: 'StreamIsActive true',
    });
    stream.cancel();
    return (seen.find((message) => message.result)?.at ?? Number.NaN) - added;
  } finally {
    await queue.close();
    await scaler.stop();
    await deleteKeys(redis, `${prefix}:*`);
    await rm(dir, { recursive: true, force: true });
  }
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
};

const latencyRows = await latency();
const redis = connectRedis();
const wakeRows: Record<string, string | number>[] = [];
try {
  for (const wakePoll of ['250ms', '0s']) {
    const times: number[] = [];
    for (let index = 0; index < TRIALS; index++) times.push(await wakeTrial(wakePoll, redis));
    wakeRows.push({
      wakePoll,
      trials: times.length,
      'p50 ms': Math.round(quantile(times, 0.5)),
      'max ms': Math.round(Math.max(...times)),
      'mean ms': Math.round(times.reduce((sum, value) => sum + value, 0) / times.length),
      'all (ms)': times.map((value) => Math.round(value)).join(', '),
    });
  }
} finally {
  await redis.quit();
}
console.log(`## daemon: KEDA external scaler (qscale scaler)\n`);
console.log(
  `Command: \`npx pnpm@10.34.8 --filter @qscale/bench run keda\` (CALLS=${CALLS}, TRIALS=${TRIALS}).`,
);
console.log(
  `Machine: ${machine()}, load average ${(await import('node:os')).loadavg()[0]?.toFixed(1)} at the end.\n`,
);
console.log('GetMetrics and IsActive, one after another on one connection over loopback:\n');
console.log(markdownTable(latencyRows, 3));
console.log('\nFirst job on a queue at zero to StreamIsActive true (tick 2 s):\n');
console.log(markdownTable(wakeRows));
