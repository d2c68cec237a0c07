// bench/daemon/history: the dashboard's per-queue history (apps/daemon/src/loop/history.ts)
// for 200 queues over a full hour: its memory, what recording one tick costs (all queues),
// whether recording allocates, and what /api/history costs to build and send.
// Run: npm run build && npx pnpm@10.34.8 --filter @qscale/bench run history
import { performance } from 'node:perf_hooks';
import type { QueueSnapshot } from '@qscale/contracts';
import { HISTORY_DEFAULTS, QueueHistory } from '@qscale/daemon';
import { machine, markdownTable } from '../lib/measure.js';

const QUEUES = 200;
const TICK_MS = 2_000;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc (the npm script does)');

const names = Array.from({ length: QUEUES }, (_, i) => `q${String(i).padStart(4, '0')}`);
// One snapshot per queue, reused: the loop's own snapshots exist anyway.
const snapshots = names.map(
  (queue, i) =>
    ({
      queue,
      backend: 'bullmq',
      at: 0,
      pending: 10 + i,
      delayed: 0,
      active: 1,
      oldestPendingAgeMs: 1_500,
      arrivalRate: 2.5,
      completionRate: 2.5,
      pickupLatencyMs: { p50: 200, p95: 900, p99: 1_200, samples: 50 },
      sources: {},
    }) as unknown as QueueSnapshot,
);

const heap = () => {
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
};

const before = heap();
const history = new QueueHistory();
const start = Date.UTC(2026, 11, 2);
let now = start;
/** One tick: what the daemon's loop does after `apply`. */
const tick = () => {
  for (let i = 0; i < QUEUES; i++) {
    const snapshot = snapshots[i] as QueueSnapshot & { at: number };
    snapshot.at = now;
    history.recordSnapshot(snapshot, 2, 3);
  }
  history.prune(now);
  now += TICK_MS;
};

// A full window and a bit: every ring is full and wraps.
const hourTicks = Math.ceil(HISTORY_DEFAULTS.windowMs / TICK_MS) + 60;
const tickMs: number[] = [];
for (let i = 0; i < hourTicks; i++) {
  const t0 = performance.now();
  tick();
  tickMs.push(performance.now() - t0);
}
const full = heap() - before;

// Allocation once full: heap growth over many ticks with no collection in between.
gc();
const steadyTicks = 2_000;
const heapBefore = process.memoryUsage().heapUsed;
for (let i = 0; i < steadyTicks; i++) tick();
const allocatedPerTick = (process.memoryUsage().heapUsed - heapBefore) / steadyTicks;

// What a page costs the daemon: the first full read, then one poll's worth (since the newest bucket).
const timed = (fn: () => string) => {
  const runs: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    bytes = Buffer.byteLength(fn());
    runs.push(performance.now() - t0);
  }
  runs.sort((a, b) => a - b);
  return { ms: runs[Math.floor(runs.length / 2)] ?? 0, bytes };
};
const fullView = timed(() => JSON.stringify(history.view(now)));
// The page asks only for the queues it charts (6 at first).
const sixView = timed(() => JSON.stringify(history.view(now, { queues: names.slice(0, 6) })));
const pollView = timed(() => JSON.stringify(history.view(now, { since: now - 5_000 })));

tickMs.sort((a, b) => a - b);
const at = (q: number) =>
  tickMs[Math.min(tickMs.length - 1, Math.ceil(q * tickMs.length) - 1)] ?? 0;
console.log(`## daemon: dashboard history

Command: \`npm run build && npx pnpm@10.34.8 --filter @qscale/bench run history\`
Machine: ${machine()}. ${QUEUES} queues, a ${TICK_MS / 1_000} s tick, the default window
(${HISTORY_DEFAULTS.windowMs / 60_000} min, ${HISTORY_DEFAULTS.points} points per queue, ${Math.ceil(HISTORY_DEFAULTS.windowMs / HISTORY_DEFAULTS.points / 1_000)} s buckets), ${hourTicks} ticks recorded so every ring is full.
Memory is V8 heap plus array buffers after a full collection, before and after.

${markdownTable(
  [
    {
      queues: QUEUES,
      'memory, full hour (MiB)': full / 1024 / 1024,
      'bytes per queue': full / QUEUES,
      'record one tick, all queues: p50 µs': at(0.5) * 1_000,
      'p95 µs': at(0.95) * 1_000,
      'heap growth per tick once full (bytes)': allocatedPerTick,
      '/api/history all queues, hour: ms / KiB': `${fullView.ms.toFixed(1)} / ${(fullView.bytes / 1024).toFixed(0)}`,
      '6 queues, hour: ms / KiB': `${sixView.ms.toFixed(1)} / ${(sixView.bytes / 1024).toFixed(0)}`,
      'poll (all, newest bucket): ms / KiB': `${pollView.ms.toFixed(2)} / ${(pollView.bytes / 1024).toFixed(1)}`,
    },
  ],
  2,
)}
`);
