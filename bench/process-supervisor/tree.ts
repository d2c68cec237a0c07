// process-supervisor: the cost of walking /proc for workers' descendants (issue 17: stops that
// reach a child which left the worker's group). WORKERS node workers each start a `sleep` in a
// session of its own (like RQ's work horse), so the walk has real descendants to find.
//
//   npm run build && npx pnpm@10.34.8 --filter @qscale/bench run process-supervisor-tree
//
// Prints the Markdown for bench/RESULTS.md. Options (environment):
//   WORKERS=200       workers, each with one setsid'd child
//   RUNS=200          timed walks after 5 warm-up ones
//   CPU_SECONDS=20    each supervisor-CPU window (periodic walks every 1 s, then none)
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { LogFields } from '@qscale/contracts';
import { startSupervisor, type WorkerPool } from '@qscale/process-supervisor';
// The walk is internal to the package (no public API to time one walk alone): the built file.
import { ProcessTree } from '../../packages/process-supervisor/dist/internal/tree.js';
import { machine, markdownTable, measure } from '../lib/measure.js';

const WORKERS = Number(process.env.WORKERS ?? 200);
const RUNS = Number(process.env.RUNS ?? 200);
const CPU_SECONDS = Number(process.env.CPU_SECONDS ?? 20);
const WORKER = fileURLToPath(new URL('./worker.mjs', import.meta.url));

const load = () => loadavg()[0]?.toFixed(2) ?? '?';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, what: string, timeoutMs = 120_000) {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A supervisor with WORKERS ready workers, each with its setsid'd child. */
async function withWorkers<T>(treeScanMs: number, fn: (pool: WorkerPool) => Promise<T>) {
  const dir = await mkdtemp(join(tmpdir(), 'qscale-bench-tree-'));
  let ready = 0;
  const logger = {
    debug() {},
    info(message: string, fields?: LogFields) {
      if (message === 'ready' && fields?.stream === 'stdout') ready++;
    },
    warn() {},
    error(message: string, fields?: LogFields) {
      console.error(message, fields);
    },
  };
  const supervisor = await startSupervisor({
    stateFile: join(dir, 'state.json'),
    logger,
    treeScanMs,
  });
  try {
    const pool = await supervisor.createPool({
      name: 'bench-tree',
      command: [process.execPath, WORKER, 'setsid-child'],
      stop: { graceMs: 5_000 },
    });
    pool.scaleTo(WORKERS);
    await until(() => ready >= WORKERS && pool.counts().running === WORKERS, 'workers ready');
    return await fn(pool);
  } finally {
    await supervisor.stop({ graceMs: 2_000 });
    await rm(dir, { recursive: true, force: true });
  }
}

/** One tree over the pool's workers, as the supervisor keeps it (roots are our children). */
function treeOver(pool: WorkerPool) {
  const tree = new ProcessTree({ scanMs: 0, onError: (error) => console.error(error) });
  const families = pool.pids().map((pid) =>
    tree.track({
      pid,
      startTicks: null,
      isChild: true,
      queue: 'bench-tree',
      worker: String(pid),
    }),
  );
  return { tree, families };
}

async function walks(pool: WorkerPool) {
  const loop = monitorEventLoopDelay({ resolution: 1 });
  // Full walks: every process read (a tree's first walk, then every 120th or after a pause).
  const full = await measure(() => treeOver(pool).tree.scan(), { runs: 30, warmup: 3 });
  // The steady state: one tree, walked again and again (incremental, every 120th one full).
  const { tree, families } = treeOver(pool);
  await tree.scan();
  const found = families.reduce((sum, family) => sum + family.members.size, 0);
  const reads: number[] = [];
  const cpuStart = process.cpuUsage();
  loop.enable();
  const steady = await measure(
    async () => {
      await tree.scan();
      reads.push(tree.lastScan.read);
    },
    { runs: RUNS, warmup: 5 },
  );
  loop.disable();
  const cpu = process.cpuUsage(cpuStart);
  // Before a stop signal: every known descendant read again (start time, current group).
  const verifiedReads: number[] = [];
  const verified = await measure(
    async () => {
      await tree.scan({ verify: true });
      verifiedReads.push(tree.lastScan.read);
    },
    { runs: 50, warmup: 3 },
  );
  const median = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  return {
    listed: tree.lastScan.listed,
    found,
    full,
    steady,
    readsMedian: median(reads),
    verified,
    verifiedReadsMedian: median(verifiedReads),
    cpuMsPerWalk: (cpu.user + cpu.system) / 1_000 / (RUNS + 5),
    loopMaxMs: loop.max / 1e6,
    loopP99Ms: loop.percentile(99) / 1e6,
  };
}

/** The supervisor's own CPU with its workers idle, with periodic walks or without. */
async function idleCpu() {
  await sleep(2_000);
  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  await sleep(CPU_SECONDS * 1_000);
  const cpu = process.cpuUsage(cpuStart);
  return ((cpu.user + cpu.system) / 1_000 / (performance.now() - wallStart)) * 100;
}

const loadBefore = load();
const walked = await withWorkers(1_000, async (pool) => ({
  ...(await walks(pool)),
  cpuWithWalks: await idleCpu(),
}));
const cpuWithout = await withWorkers(0, () => idleCpu());
const loadAfter = load();

const r = (value: number, digits = 2) => Number(value.toFixed(digits));
console.log(`### Walking /proc for workers' descendants

Command: \`npm run build && npx pnpm@10.34.8 --filter @qscale/bench run process-supervisor-tree\`
(WORKERS=${WORKERS} RUNS=${RUNS} CPU_SECONDS=${CPU_SECONDS}).
Machine: ${cpus().length} cores, ${machine()}; load average (1 min) ${loadBefore} before, ${loadAfter} after.
${WORKERS} node workers, each with a \`sleep\` in a session of its own; ${walked.listed} processes on
the host in all; the first walk found the ${walked.found} children. "Full" reads every
process's \`/proc/PID/stat\` (a tree's first walk, then every 120th, or after a 10 s pause);
"steady" is the walk the supervisor repeats every \`treeScanMs\` (1 s): only PIDs it has not
seen (the full ones included); "verified" runs before each stop signal (shared by all the workers stopping at
that moment) and also reads every known descendant again.

${markdownTable(
  [
    {
      walk: 'full',
      'processes read': walked.listed,
      'p50 ms': r(walked.full.p50Ms),
      'p95 ms': r(walked.full.p95Ms),
      'max ms': r(walked.full.maxMs),
    },
    {
      walk: 'steady (every 1 s)',
      'processes read': `${walked.readsMedian} (median)`,
      'p50 ms': r(walked.steady.p50Ms),
      'p95 ms': r(walked.steady.p95Ms),
      'max ms': r(walked.steady.maxMs),
    },
    {
      walk: 'verified (before a stop signal)',
      'processes read': `${walked.verifiedReadsMedian} (median)`,
      'p50 ms': r(walked.verified.p50Ms),
      'p95 ms': r(walked.verified.p95Ms),
      'max ms': r(walked.verified.maxMs),
    },
  ],
  2,
)}

Steady walks cost ${r(walked.cpuMsPerWalk, 3)} ms of CPU each (main thread and libuv's pool);
event-loop delay while walking back to back: p99 ${r(walked.loopP99Ms, 1)} ms, max ${r(walked.loopMaxMs, 1)} ms.
The supervisor's own CPU with the ${WORKERS} workers idle over ${CPU_SECONDS} s: ${r(walked.cpuWithWalks, 3)} % of
one core with a walk every second, ${r(cpuWithout, 3)} % with \`treeScanMs: 0\` (walks at stops only).
`);
