/**
 * metrics-reader: what the Laravel sub-tick probe (`laravel.probeIntervalMs`) costs. One
 * Laravel queue in a steady state (5 jobs waiting, RESERVED jobs running, Laravel 8-shaped
 * payloads of about 1 KB), a snapshot every 2 s for TICKS ticks, the probe off and at 250 and
 * 100 ms. Counted by the server (`INFO stats` total_commands_processed and
 * total_net_output_bytes of a private redis-server, less the INFO calls themselves), so the
 * figures cover the snapshots and the probes between them alike.
 *
 *   npx pnpm@10.34.8 --filter @qscale/bench run laravel-probe
 *
 * Environment: TICKS (default 10), RESERVED (running jobs, default 1).
 * Prints the Markdown lines for bench/RESULTS.md.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createMetricsReader } from '@qscale/metrics-reader';
import { startPrivateRedis } from '@qscale/testkit';
import { Redis } from 'ioredis';
import { machine, markdownTable } from '../lib/measure.js';

const TICKS = Number(process.env.TICKS ?? 10);
const RESERVED = Number(process.env.RESERVED ?? 1);
const TICK_MS = 2_000;
const PREFIX = 'laravel_database_';

/** A Laravel 8 object-job payload (RedisQueue::createPayloadArray), about 1 KB. */
function payload(attempts: number): string {
  return JSON.stringify({
    uuid: randomUUID(),
    displayName: 'App\\Jobs\\SendInvoice',
    job: 'Illuminate\\Queue\\CallQueuedHandler@call',
    maxTries: null,
    maxExceptions: null,
    failOnTimeout: false,
    backoff: null,
    timeout: null,
    retryUntil: null,
    data: {
      commandName: 'App\\Jobs\\SendInvoice',
      command: `O:20:"App\\Jobs\\SendInvoice":1:{s:7:"invoice";s:700:"${'x'.repeat(700)}";}`,
    },
    id: randomBytes(16).toString('hex'),
    attempts,
  });
}

async function main(): Promise<void> {
  const server = await startPrivateRedis();
  const admin = new Redis(server.url);
  try {
    const counters = async () => {
      const info = await admin.info('stats');
      return {
        commands: Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? Number.NaN),
        bytes: Number(/total_net_output_bytes:(\d+)/.exec(info)?.[1] ?? Number.NaN),
      };
    };
    // The INFO call is itself counted: measure it once and take it off.
    const a = await counters();
    const b = await counters();
    const info = { commands: b.commands - a.commands, bytes: b.bytes - a.bytes };

    const rows: Record<string, string | number>[] = [];
    for (const probeIntervalMs of [0, 250, 100]) {
      const queue = `probe-${probeIntervalMs}`;
      const key = `${PREFIX}queues:${queue}`;
      for (let i = 0; i < 5; i++) await admin.rpush(key, payload(0));
      const score = Math.floor(Date.now() / 1000) + 3600;
      for (let i = 0; i < RESERVED; i++) await admin.zadd(`${key}:reserved`, score, payload(1));
      const reader = createMetricsReader({
        sources: [
          {
            queue,
            driver: 'laravel',
            backendName: queue,
            prefix: null,
            redis: { url: server.url },
            laravel: { retryAfter: 3600, probeIntervalMs },
          },
        ],
      });
      try {
        // The first snapshot starts the probe; measure the ticks after it.
        await reader.snapshot();
        const before = await counters();
        const started = Date.now();
        for (let tick = 1; tick <= TICKS; tick++) {
          await new Promise((resolve) =>
            setTimeout(resolve, started + tick * TICK_MS - Date.now()),
          );
          await reader.snapshot();
        }
        const after = await counters();
        const stats = reader.stats();
        rows.push({
          probe: probeIntervalMs === 0 ? 'off' : `${probeIntervalMs} ms`,
          'commands / tick': ((after.commands - before.commands - info.commands) / TICKS).toFixed(
            1,
          ),
          'bytes / tick': Math.round((after.bytes - before.bytes - info.bytes) / TICKS),
          'probe round trips / tick': (stats.probes.count / (TICKS + 1)).toFixed(1),
          'KiB/s': ((after.bytes - before.bytes - info.bytes) / (TICKS * TICK_MS)).toFixed(2),
        });
      } finally {
        await reader.close();
      }
    }
    process.stdout.write(
      [
        `Laravel sub-tick probe (\`npx pnpm@10.34.8 --filter @qscale/bench run laravel-probe\`): server-side commands and bytes per 2 s tick (snapshot and probes together; private redis-server) for one Laravel queue with 5 jobs waiting and ${RESERVED} running (Laravel 8 payloads of ${payload(1).length} bytes); ${TICKS} ticks. Machine: ${machine()}.`,
        '',
        markdownTable(rows),
        '',
      ].join('\n'),
    );
  } finally {
    await admin.quit();
    await server.stop();
  }
}

await main();
