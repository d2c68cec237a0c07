/**
 * Cost of the Celery probe (metrics-reader, `celery.acksLate`): a real Celery 5 worker
 * (prefork, concurrency 1, prefetch multiplier 1, acks_late), tasks of SERVICE_MS published with
 * `apply_async` at Poisson arrivals of RATE/s for DURATION_MS, the reader's `snapshot()` every
 * 2 s, for each probe interval in INTERVALS (ms, 0 = no probe). Prints the Markdown table for
 * bench/RESULTS.md ("metrics-reader: Celery probe"): what the probes add between ticks (round
 * trips, commands, bytes per second and wall time per probe) next to one snapshot's cost.
 *
 *   npx pnpm@10.34.8 --filter @qscale/bench run celery-probe
 */
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { connectRedis, deleteKeys } from '@qscale/testkit';
import { createMetricsReader } from '../../packages/metrics-reader/src/index.js';
import {
  type CeleryRun,
  produceCelery,
  startCeleryWorker,
} from '../../packages/metrics-reader/test/helpers/celery.js';
import { machine, markdownTable } from '../lib/measure.js';

const RATE = Number(process.env.RATE ?? 3);
const SERVICE_MS = Number(process.env.SERVICE_MS ?? 200);
const DURATION_MS = Number(process.env.DURATION_MS ?? 30_000);
const INTERVALS = (process.env.INTERVALS ?? '100,250,0').split(',').map(Number);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

function offsets(rate: number, durationMs: number, seed: number): number[] {
  let state = seed;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const out: number[] = [];
  for (let at = 0; ; ) {
    at += (-Math.log(1 - random()) / rate) * 1000;
    if (at >= durationMs) return out;
    out.push(Math.round(at));
  }
}

async function measureInterval(intervalMs: number): Promise<Record<string, string | number>> {
  const prefix = `qbench-celery-${randomUUID().slice(0, 8)}-`;
  const run: CeleryRun = { brokerUrl: REDIS_URL, prefix, queue: 'tasks', acksLate: true };
  const redis = connectRedis(REDIS_URL);
  const worker = await startCeleryWorker(run);
  const reader = createMetricsReader({
    sources: [
      {
        queue: 'tasks',
        driver: 'celery',
        backendName: 'tasks',
        prefix,
        redis: { url: REDIS_URL },
        celery: { acksLate: true, probeIntervalMs: intervalMs },
      },
    ],
  });
  try {
    const jobs = offsets(RATE, DURATION_MS, 7).map((offsetMs) => ({ offsetMs, id: randomUUID() }));
    const start = Date.now();
    await reader.snapshot();
    const producing = produceCelery(run, `${prefix}truth`, SERVICE_MS, jobs);
    let ticks = 0;
    let tickCommands = 0;
    let tickBytes = 0;
    let tickMs = 0;
    for (let next = start + 2000; next - start <= DURATION_MS; next += 2000) {
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - Date.now())));
      await reader.snapshot();
      const last = reader.stats().last;
      ticks++;
      tickCommands += last?.commands ?? 0;
      tickBytes += last?.receivedBytes ?? 0;
      tickMs += last?.durationMs ?? 0;
    }
    const elapsedS = (Date.now() - start) / 1000;
    await producing;
    const probes = reader.stats().probes;
    return {
      'probe interval ms': intervalMs === 0 ? 'none' : intervalMs,
      // One round trip per probe.
      'probes / s': probes.count / elapsedS,
      'probe commands / s': probes.commands / elapsedS,
      'probe bytes / s': Math.round(probes.receivedBytes / elapsedS),
      'snapshot commands': tickCommands / ticks,
      'snapshot bytes': Math.round(tickBytes / ticks),
      'snapshot ms': tickMs / ticks,
    };
  } finally {
    await reader.close();
    await worker.stop();
    await deleteKeys(redis, `${prefix}*`);
    await redis.quit();
  }
}

const before = loadavg()
  .map((value) => value.toFixed(2))
  .join(' ');
const rows = [];
for (const interval of INTERVALS) rows.push(await measureInterval(interval));
const after = loadavg()
  .map((value) => value.toFixed(2))
  .join(' ');
console.log(
  `Machine: ${machine()}; load average (1/5/15 min) ${before} before, ${after} after; ` +
    `${RATE} jobs/s of ${SERVICE_MS} ms for ${DURATION_MS} ms per row, snapshot every 2 s.\n`,
);
console.log(markdownTable(rows));
