/**
 * metrics-reader: bytes Redis sends per tick while a 5 MB job (above `maxPayloadBytes`) sits at
 * the head of a Laravel queue that nothing consumes, alone and with a backlog behind it that
 * keeps growing. Counted by the server (`INFO stats` total_net_output_bytes of a private
 * redis-server, less the INFO reply itself), so the figure does not depend on the reader's
 * own bookkeeping and can be taken on any version of it.
 *
 *   npx pnpm@10.34.8 --filter @qscale/bench run oversize-head
 *
 * Prints the Markdown lines for the metrics-reader section of bench/RESULTS.md.
 */
import { randomUUID } from 'node:crypto';
import { createMetricsReader } from '@qscale/metrics-reader';
import { startPrivateRedis } from '@qscale/testkit';
import { Redis } from 'ioredis';
import { machine, markdownTable } from '../lib/measure.js';

const TICKS = Number(process.env.TICKS ?? 10);
const BLOB_BYTES = 5 * 1024 * 1024;

function payload(blobBytes = 200): string {
  return JSON.stringify({
    uuid: randomUUID(),
    id: randomUUID(),
    attempts: 0,
    createdAt: Math.floor(Date.now() / 1000),
    delay: null,
    displayName: 'App\\Jobs\\Bench',
    data: { command: 'x'.repeat(blobBytes) },
  });
}

async function main(): Promise<void> {
  const server = await startPrivateRedis();
  const admin = new Redis(server.url);
  try {
    const sent = async () => {
      const info = await admin.info('stats');
      return Number(/total_net_output_bytes:(\d+)/.exec(info)?.[1] ?? Number.NaN);
    };
    // The INFO reply is itself counted: measure its size once and take it off.
    const a = await sent();
    const b = await sent();
    const infoBytes = b - a;

    const rows: Record<string, string | number>[] = [];
    for (const scenario of ['alone', 'backlog'] as const) {
      const queue = `huge-${scenario}`;
      const key = `laravel_database_queues:${queue}`;
      await admin.rpush(key, payload(BLOB_BYTES));
      if (scenario === 'backlog') for (let i = 0; i < 20; i++) await admin.rpush(key, payload());
      const reader = createMetricsReader({
        sources: [
          {
            queue,
            driver: 'laravel',
            backendName: queue,
            prefix: null,
            redis: { url: server.url },
          },
        ],
      });
      try {
        const perTick: number[] = [];
        for (let tick = 0; tick < TICKS; tick++) {
          if (scenario === 'backlog') await admin.rpush(key, payload());
          const before = await sent();
          await reader.snapshot();
          perTick.push((await sent()) - before - infoBytes);
        }
        const later = perTick.slice(1);
        rows.push({
          head: scenario === 'alone' ? '5 MB job alone' : '5 MB job, backlog growing behind it',
          'first tick bytes': perTick[0] ?? 0,
          'later ticks: mean bytes': Math.round(later.reduce((s, v) => s + v, 0) / later.length),
          'later ticks: max bytes': Math.max(...later),
          [`MiB/s at a 1 s tick (${TICKS} ticks)`]: (
            perTick.reduce((s, v) => s + v, 0) /
            TICKS /
            1024 /
            1024
          ).toFixed(3),
        });
      } finally {
        await reader.close();
      }
    }
    process.stdout.write(
      [
        `Oversize head (\`npx pnpm@10.34.8 --filter @qscale/bench run oversize-head\`): bytes Redis sent per tick (server-side \`total_net_output_bytes\`, private redis-server) for one Laravel queue whose head is a ${BLOB_BYTES} byte job nobody takes; ${TICKS} ticks. Machine: ${machine()}.`,
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
