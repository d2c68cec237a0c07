/**
 * metrics-reader: what the Sidekiq tail probe (`LRANGE queue -2 -1` for every Sidekiq queue of a
 * Redis, one pipelined round trip every 100 ms between ticks) costs, next to the ticks
 * themselves. 1, 10 and 50 queues, each with jobs waiting (so every probe carries two payloads
 * per queue: the worst case), a snapshot every 2 s for DURATION_MS. Counted by the server
 * (`INFO stats` of a private redis-server: commands, bytes sent, CPU), less the INFO calls, and
 * by the reader (`stats().probes`).
 *
 *   npx pnpm@10.34.8 --filter @qscale/bench run sidekiq-probe
 *
 * Prints the Markdown lines for bench/RESULTS.md ("metrics-reader: Sidekiq tail probe").
 */
import { randomBytes } from 'node:crypto';
import { createMetricsReader } from '@qscale/metrics-reader';
import { startPrivateRedis } from '@qscale/testkit';
import { Redis } from 'ioredis';
import { machine, markdownTable } from '../lib/measure.js';

const DURATION_MS = Number(process.env.DURATION_MS ?? 20_000);
const TICK_MS = 2_000;

/** A Sidekiq 6 job as Sidekiq::Client pushes it (float-second timestamps), about 250 bytes. */
function job(queue: string): string {
  const now = Date.now() / 1000;
  return JSON.stringify({
    retry: false,
    queue,
    class: 'TruthJob',
    args: [`job-${randomBytes(4).toString('hex')}`, Date.now(), 'truth', 200],
    jid: randomBytes(12).toString('hex'),
    created_at: now,
    enqueued_at: now,
  });
}

interface ServerCounters {
  commands: number;
  outputBytes: number;
  cpuSeconds: number;
}

async function main(): Promise<void> {
  const server = await startPrivateRedis();
  const admin = new Redis(server.url);
  const counters = async (): Promise<ServerCounters> => {
    const stats = await admin.info('stats');
    const cpu = await admin.info('cpu');
    const field = (text: string, name: string) =>
      Number(new RegExp(`${name}:([\\d.]+)`).exec(text)?.[1] ?? Number.NaN);
    return {
      commands: field(stats, 'total_commands_processed'),
      outputBytes: field(stats, 'total_net_output_bytes'),
      cpuSeconds: field(cpu, 'used_cpu_user') + field(cpu, 'used_cpu_sys'),
    };
  };
  const rows: Record<string, string | number>[] = [];
  try {
    for (const queueCount of [1, 10, 50]) {
      const ns = `bench${queueCount}:`;
      const names = Array.from({ length: queueCount }, (_, index) => `q${index}`);
      for (const name of names) {
        await admin.sadd(`${ns}queues`, name);
        await admin.lpush(`${ns}queue:${name}`, ...Array.from({ length: 5 }, () => job(name)));
      }
      const reader = createMetricsReader({
        sources: names.map((name) => ({
          queue: name,
          driver: 'sidekiq' as const,
          backendName: name,
          prefix: ns,
          redis: { url: server.url },
        })),
      });
      await reader.snapshot(); // connect; the second tick arms the probe
      const before = await counters();
      const start = Date.now();
      let ticks = 0;
      let tickBytes = 0;
      let tickCommands = 0;
      let next = start;
      while (Date.now() - start < DURATION_MS) {
        next += TICK_MS;
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - Date.now())));
        await reader.snapshot();
        ticks++;
        tickBytes += reader.stats().last?.receivedBytes ?? 0;
        tickCommands += reader.stats().last?.commands ?? 0;
      }
      const seconds = (Date.now() - start) / 1000;
      const after = await counters();
      const probes = reader.stats().probes;
      await reader.close();
      // Two INFO calls per reading of the counters.
      const serverCommands = after.commands - before.commands - 2;
      rows.push({
        queues: queueCount,
        'probes / s': (probes.count / seconds).toFixed(1),
        'probe KB received / s': (probes.receivedBytes / 1024 / seconds).toFixed(1),
        'tick commands': (tickCommands / ticks).toFixed(0),
        'tick KB': (tickBytes / ticks / 1024).toFixed(2),
        'server commands / s (ticks + probes)': (serverCommands / seconds).toFixed(0),
        'server KB sent / s': ((after.outputBytes - before.outputBytes) / 1024 / seconds).toFixed(
          1,
        ),
        'server CPU %': (((after.cpuSeconds - before.cpuSeconds) / seconds) * 100).toFixed(2),
      });
    }
  } finally {
    await admin.quit();
    await server.stop();
  }
  console.log(
    `Sidekiq tail probe, ${DURATION_MS / 1000} s per row, a snapshot every 2 s, 5 jobs (~250 B each) waiting in every queue. Machine: ${machine()}.`,
  );
  console.log('');
  console.log(markdownTable(rows));
}

await main();
