// bench/daemon: the whole daemon (qscaled, a separate process) managing many queues and
// workers on one host. Measures, over a window of ticks: tick duration (from /api/state),
// Redis round trips per tick (from /metrics), the daemon's RSS and CPU (from /proc).
// Workers are `sleep` processes: cheap to run 300 of, and the daemon cannot tell.
// Run: npm run build && npx pnpm@10.34.8 --filter @qscale/bench run daemon
import { spawn } from 'node:child_process';
import { randomInt, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  connectRedis,
  deleteKeys,
  findProcessesWithArg,
  freePort,
  redisUrl,
  waitFor,
} from '@qscale/testkit';
import { Queue } from 'bullmq';
import { machine, markdownTable } from '../lib/measure.js';

// BENCH_QSCALED runs another build (e.g. an earlier commit's) for a before/after comparison.
const QSCALED =
  process.env.BENCH_QSCALED ??
  fileURLToPath(new URL('../../apps/daemon/dist/bin.js', import.meta.url));
const WINDOW_TICKS = Number(process.env.BENCH_TICKS ?? 30);
// Steady state: history (predictive reads 2 minutes) and every window filled before measuring.
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 150);
const CLOCK_TICKS = 100; // USER_HZ on Linux

interface Scenario {
  queues: number;
  workers: number;
}

interface Outcome extends Scenario {
  tickP50Ms: number;
  tickP95Ms: number;
  tickMaxMs: number;
  roundTrips: number;
  rssMiB: number;
  cpuPercent: number;
  startupS: number;
  phaseP50Ms: Record<string, number>;
}

async function runScenario({ queues, workers }: Scenario): Promise<Outcome> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-daemon-'));
  // `sleep` adds up its arguments: a unique fraction of a second marks this run's workers.
  const marker = `0.${randomInt(1e9)}${Date.now() % 1e6}`;
  const prefix = `bench-daemon-${randomUUID().slice(0, 8)}`;
  const redis = connectRedis();
  // Some queues get two workers so that the total is `workers`.
  const names = Array.from({ length: queues }, (_, i) => `q${String(i).padStart(4, '0')}`);
  const perQueue = names.map((_, i) => (i < workers - queues ? 2 : 1));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const yaml = `redis: { url: "${redisUrl()}" }
tick: 2s
http: { port: ${port} }
limits: { maxWorkers: ${workers + 10}, cpu: { enforce: false } }
supervision: { stateFile: ${join(dir, 'state.json')} }
log: { level: warn }
defaults:
  driver: bullmq
  prefix: ${prefix}
  command: [sleep, "3600", "${marker}"]
  spawn: { minUptime: 200ms }
  stop: { grace: 5s }
queues:
${names.map((name, i) => `  ${name}: { workers: { min: ${perQueue[i]}, max: ${perQueue[i]} } }`).join('\n')}
`;
  await writeFile(join(dir, 'qscale.yml'), yaml);

  // A little backlog in every queue, so each read has something to look at.
  const connection = connectRedis();
  for (const name of names) {
    const queue = new Queue(name, { connection, prefix });
    await queue.addBulk(Array.from({ length: 10 }, () => ({ name: 'job', data: {} })));
    await queue.close();
  }

  const started = Date.now();
  // BENCH_PROFILE=DIR writes a CPU profile of the daemon there (open it in Chrome DevTools).
  const profile = process.env.BENCH_PROFILE
    ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROFILE]
    : [];
  const child = spawn(
    process.execPath,
    [...profile, QSCALED, '--config', join(dir, 'qscale.yml')],
    {
      env: { PATH: process.env.PATH ?? '', NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS ?? '' },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  try {
    await waitFor(
      () =>
        fetch(`${url}/healthz`).then(
          (r) => r.ok,
          () => false,
        ),
      {
        timeoutMs: 60_000,
        what: 'qscaled to listen',
      },
    );
    const state = async () => (await (await fetch(`${url}/api/state`)).json()) as StateView;
    await waitFor(
      async () => (await state()).queues.reduce((sum, q) => sum + q.workers.running, 0) === workers,
      { timeoutMs: 180_000, intervalMs: 500, what: `${workers} workers running` },
    );
    const startupS = (Date.now() - started) / 1_000;
    await new Promise((resolve) => setTimeout(resolve, WARMUP_S * 1_000));

    const ticks: number[] = [];
    const trips: number[] = [];
    const phases: Record<string, number[]> = {};
    const cpuBefore = await cpuTicks(child.pid ?? 0);
    const windowStart = Date.now();
    // /healthz is cheap: watch the loop through it, so the bench itself does not load the
    // daemon; the heavy /api/state and /metrics are read every tenth tick only.
    const health = async () =>
      (await (await fetch(`${url}/healthz`)).json()) as {
        ticks: number;
        lastTickMs: number | null;
      };
    let lastTick = (await health()).ticks;
    while (ticks.length < WINDOW_TICKS) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const now = await health();
      if (now.ticks === lastTick || now.lastTickMs === null) continue;
      lastTick = now.ticks;
      ticks.push(now.lastTickMs);
      if (ticks.length % 10 === 0) {
        const detail = await state();
        for (const [phase, ms] of Object.entries(detail.lastTick?.phasesMs ?? {})) {
          phases[phase] = [...(phases[phase] ?? []), ms];
        }
        const metrics = await (await fetch(`${url}/metrics`)).text();
        trips.push(Number(/^qscale_redis_round_trips (\d+)/m.exec(metrics)?.[1] ?? Number.NaN));
      }
    }
    const cpuAfter = await cpuTicks(child.pid ?? 0);
    const elapsedS = (Date.now() - windowStart) / 1_000;
    const rssKiB = Number(
      /VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${child.pid}/status`, 'utf8'))?.[1],
    );
    ticks.sort((a, b) => a - b);
    const at = (q: number) =>
      ticks[Math.min(ticks.length - 1, Math.ceil(q * ticks.length) - 1)] ?? 0;
    return {
      queues,
      workers,
      tickP50Ms: at(0.5),
      tickP95Ms: at(0.95),
      tickMaxMs: ticks.at(-1) ?? 0,
      roundTrips: Math.max(...trips),
      rssMiB: rssKiB / 1024,
      cpuPercent: ((cpuAfter - cpuBefore) / CLOCK_TICKS / elapsedS) * 100,
      startupS,
      phaseP50Ms: Object.fromEntries(
        Object.entries(phases).map(([phase, values]) => [
          phase,
          values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0,
        ]),
      ),
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    for (const info of await findProcessesWithArg(marker)) process.kill(info.pid, 'SIGKILL');
    await deleteKeys(redis, `${prefix}:*`);
    await redis.quit();
    await connection.quit();
    await rm(dir, { recursive: true, force: true });
  }
}

interface StateView {
  ticks: number;
  lastTick: { durationMs: number; phasesMs: Record<string, number> } | null;
  queues: { workers: { running: number } }[];
}

async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
const scenarios: Scenario[] = [
  { queues: 10, workers: 15 },
  { queues: 200, workers: 300 },
];
const rows: Record<string, string | number>[] = [];
for (const scenario of scenarios) {
  const outcome = await runScenario(scenario);
  rows.push({
    queues: outcome.queues,
    workers: outcome.workers,
    'tick p50 ms': outcome.tickP50Ms,
    'tick p95 ms': outcome.tickP95Ms,
    'tick max ms': outcome.tickMaxMs,
    'Redis round trips/tick': outcome.roundTrips,
    'daemon RSS MiB': outcome.rssMiB,
    'daemon CPU %': outcome.cpuPercent,
    'start to all running s': outcome.startupS,
    'p50 ms by phase (read/resources/decide/apply)': ['read', 'resources', 'decide', 'apply']
      .map((phase) => (outcome.phaseP50Ms[phase] ?? 0).toFixed(1))
      .join(' / '),
  });
}
console.log(`## daemon

Command: \`npm run build && npx pnpm@10.34.8 --filter @qscale/bench run daemon\`
Machine: ${machine()}, load average at start ${load}. qscaled runs as its own process with a
2 s tick; workers are \`sleep\` processes; every queue holds 10 BullMQ jobs. Figures over
${WINDOW_TICKS} ticks, after every worker runs and ${WARMUP_S} s of warm-up (steady state). Targets: tick under 50 ms, round trips independent
of the number of queues, RSS under 150 MB.

${markdownTable(rows, 1)}
`);
