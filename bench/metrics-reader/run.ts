/**
 * metrics-reader: time and Redis round trips of one snapshot for 10, 100, 500 and 1,000 queues
 * on loopback, the five queue systems mixed, each queue holding jobs (waiting, delayed, in
 * flight) so every read returns data. A private redis-server keeps other work off the numbers.
 *
 *   npx pnpm@10.34.8 --filter @qscale/bench run metrics-reader
 *
 * Prints the Markdown section for bench/RESULTS.md. Targets (issue 3): round trips per tick do
 * not grow with the number of queues; 500 queues in under 20 ms.
 */
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import type { QueueBackend } from '@qscale/contracts';
import { createMetricsReader, type QueueSource } from '@qscale/metrics-reader';
import { startPrivateRedis } from '@qscale/testkit';
import { Redis } from 'ioredis';
import { machine, markdownTable, measure } from '../lib/measure.js';

const SIZES = [10, 100, 500, 1_000];
const DRIVERS: QueueBackend[] = ['laravel', 'bullmq', 'sidekiq', 'rq', 'celery'];
const PENDING = 20;
const DELAYED = 3;
const IN_FLIGHT = 2;
// 200 runs: with fewer, p95 is the second or third slowest run, and one collection moves it.
const RUNS = Number(process.env.RUNS ?? 200);
const TARGET_QUEUES = 500;
const TARGET_MS = 20;

/** Writes one queue of `driver` in its system's own layout. */
function populate(pipeline: ReturnType<Redis['pipeline']>, driver: QueueBackend, name: string) {
  const now = Date.now();
  const nowSec = Math.floor(now / 1000);
  switch (driver) {
    case 'laravel': {
      const key = `laravel_database_queues:${name}`;
      for (let i = 0; i < PENDING; i++) {
        pipeline.rpush(
          key,
          JSON.stringify({
            uuid: randomUUID(),
            id: randomUUID(),
            attempts: 0,
            createdAt: nowSec - 30,
            delay: null,
            displayName: 'App\\Jobs\\Bench',
            data: { command: 'x'.repeat(200) },
          }),
        );
      }
      for (let i = 0; i < DELAYED; i++) {
        pipeline.zadd(
          `${key}:delayed`,
          nowSec + 600,
          JSON.stringify({ uuid: randomUUID(), attempts: 0, createdAt: nowSec, delay: 600 }),
        );
      }
      for (let i = 0; i < IN_FLIGHT; i++) {
        pipeline.zadd(
          `${key}:reserved`,
          nowSec + 90,
          JSON.stringify({ uuid: randomUUID(), attempts: 1, createdAt: nowSec - 5, delay: null }),
        );
      }
      break;
    }
    case 'bullmq': {
      const base = `bull:${name}:`;
      pipeline.hset(`${base}meta`, 'opts.maxLenEvents', 10_000, 'version', 'bullmq:6.7.0');
      for (let i = 1; i <= PENDING; i++) {
        pipeline.hset(`${base}${i}`, {
          name: 'job',
          data: '{}',
          opts: '{}',
          timestamp: now - 30_000,
          delay: 0,
          priority: 0,
        });
        pipeline.lpush(`${base}wait`, String(i));
        pipeline.xadd(`${base}events`, '*', 'event', 'waiting', 'jobId', String(i));
      }
      pipeline.set(`${base}id`, PENDING);
      for (let i = 0; i < DELAYED; i++)
        pipeline.zadd(`${base}delayed`, (now + 600_000) * 0x1000 + i, `d${i}`);
      for (let i = 0; i < IN_FLIGHT; i++) pipeline.lpush(`${base}active`, `a${i}`);
      break;
    }
    case 'sidekiq': {
      pipeline.sadd('queues', name);
      for (let i = 0; i < PENDING; i++) {
        pipeline.lpush(
          `queue:${name}`,
          JSON.stringify({
            class: 'BenchJob',
            args: [i],
            queue: name,
            jid: randomUUID(),
            created_at: now - 30_000,
            enqueued_at: now - 30_000,
          }),
        );
      }
      break;
    }
    case 'rq': {
      pipeline.sadd('rq:queues', `rq:queue:${name}`);
      for (let i = 0; i < PENDING; i++) {
        const id = randomUUID();
        pipeline.hset(`rq:job:${id}`, {
          enqueued_at: new Date(now - 30_000).toISOString(),
          status: 'queued',
          origin: name,
        });
        pipeline.rpush(`rq:queue:${name}`, id);
      }
      for (let i = 0; i < DELAYED; i++)
        pipeline.zadd(`rq:scheduled:${name}`, nowSec + 600, randomUUID());
      for (let i = 0; i < IN_FLIGHT; i++)
        pipeline.zadd(`rq:wip:${name}`, nowSec + 60, `${randomUUID()}:exec`);
      break;
    }
    case 'celery': {
      for (let i = 0; i < PENDING; i++) {
        pipeline.lpush(
          name,
          JSON.stringify({
            body: 'W1tdLCB7fSwge31d',
            headers: { id: randomUUID(), task: 'bench' },
            properties: { delivery_tag: randomUUID(), delivery_info: { routing_key: name } },
          }),
        );
      }
      break;
    }
  }
}

function sources(count: number, url: string): QueueSource[] {
  return Array.from({ length: count }, (_, index) => {
    const driver = DRIVERS[index % DRIVERS.length] as QueueBackend;
    return {
      queue: `${driver}-${index}`,
      driver,
      backendName: `q${index}`,
      prefix: null,
      redis: { url },
    };
  });
}

async function main(): Promise<void> {
  const server = await startPrivateRedis();
  const admin = new Redis(server.url);
  const load = loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');
  const redisVersion = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1] ?? '?';
  try {
    const all = sources(Math.max(...SIZES), server.url);
    for (let start = 0; start < all.length; start += 100) {
      const pipeline = admin.pipeline();
      for (const source of all.slice(start, start + 100))
        populate(pipeline, source.driver, source.backendName);
      await pipeline.exec();
    }

    const rows: Record<string, string | number>[] = [];
    let targetMet: boolean | null = null;
    for (const size of SIZES) {
      const reader = createMetricsReader({ sources: all.slice(0, size) });
      try {
        const cpuBefore = process.cpuUsage();
        const timing = await measure(() => reader.snapshot(), { runs: RUNS, warmup: 5 });
        const cpu = process.cpuUsage(cpuBefore);
        // CPU time of this process per snapshot: less sensitive than wall time to a busy machine.
        const cpuMs = (cpu.user + cpu.system) / 1000 / (RUNS + 5);
        const last = reader.stats().last;
        const snapshots = await reader.snapshot();
        const errors = snapshots.filter((snapshot) => snapshot.error).length;
        if (errors > 0)
          throw new Error(
            `${errors} queues read with an error, e.g. ${JSON.stringify(snapshots.find((s) => s.error)?.error)}`,
          );
        if (size === TARGET_QUEUES) targetMet = timing.p95Ms < TARGET_MS;
        // The daemon's wake probe (queues without workers, between ticks): counts only.
        const probe = await measure(() => reader.readyQueues(), { runs: RUNS, warmup: 5 });
        rows.push({
          queues: size,
          'round trips / tick': last?.maxRoundTripsPerConnection ?? 0,
          'commands / tick': last?.commands ?? 0,
          'mean ms': timing.meanMs,
          'p50 ms': timing.p50Ms,
          'p95 ms': timing.p95Ms,
          'max ms': timing.maxMs,
          'CPU ms': cpuMs,
          'readyQueues p50 / p95 ms': `${probe.p50Ms.toFixed(2)} / ${probe.p95Ms.toFixed(2)}`,
        });
      } finally {
        await reader.close();
      }
    }
    const loadAfter = loadavg()
      .map((value) => value.toFixed(2))
      .join(' ');

    const section = [
      '## metrics-reader',
      '',
      'Command (from the repository root, after `npx pnpm@10.34.8 exec turbo run build`):',
      '`npx pnpm@10.34.8 --filter @qscale/bench run metrics-reader`',
      '',
      `One \`snapshot()\` of N queues (the five systems in equal shares, each queue holding ${PENDING} waiting, ${DELAYED} delayed and ${IN_FLIGHT} in-flight jobs where its system has them), on one connection to a private redis-server ${redisVersion} on loopback; ${RUNS} timed runs after 5 warm-up runs.`,
      `Machine: ${machine()}; load average (1/5/15 min) ${load} before, ${loadAfter} after.`,
      '',
      markdownTable(rows),
      '',
      `Targets: round trips per tick do not grow with the number of queues (one here at every size; a second only runs when some queue has new jobs whose details are needed); ${TARGET_QUEUES} queues in under ${TARGET_MS} ms (p95): ${targetMet ? 'met' : 'missed'}. "CPU ms" is this process's CPU time per snapshot, averaged over the warm-up and timed runs (it includes the garbage collector's helper threads, hence above the wall time; redis-server is a separate process).`,
      '',
    ].join('\n');
    process.stdout.write(`${section}\n`);
  } finally {
    await admin.quit();
    await server.stop();
  }
}

await main();
