// bench/daemon soak: issue 17's starvation case with the real thing. A real qscaled shares
// `limits.maxWorkers` slots between many BullMQ queues (examples/bullmq/worker.mjs, one
// process per worker), each fed by its own producer that is on for a while, then quiet: on
// average fewer queues have work than there are slots, so capacity allows every queue its SLO.
// Measured from what BullMQ recorded (pickup = processedOn - timestamp of every job) and from
// the daemon's own `scale up|down` log lines (spawns, and a queue scaled up then down within
// its cooldown while it still had jobs: a reversal).
// Run: npm run build && npx pnpm@10.34.8 --filter @qscale/bench run soak
//   QUEUES=50 SLOTS=24 MINUTES=5 (producers' run; then up to DRAIN_S=120 for the last jobs)
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connectRedis, deleteKeys, freePort, redisUrl, waitFor } from '@qscale/testkit';
import { Queue } from 'bullmq';
import { machine, markdownTable } from '../lib/measure.js';

// QSCALED=path: another build of the daemon (an older commit's, for a before/after).
const QSCALED =
  process.env.QSCALED ?? fileURLToPath(new URL('../../apps/daemon/dist/bin.js', import.meta.url));
const WORKER = fileURLToPath(new URL('../../examples/bullmq/worker.mjs', import.meta.url));
const QUEUES = Number(process.env.QUEUES ?? 50);
const SLOTS = Number(process.env.SLOTS ?? 24);
const MINUTES = Number(process.env.MINUTES ?? 5);
const DRAIN_MS = Number(process.env.DRAIN_S ?? 120) * 1_000;
const SLO_MS = 15_000;
const COOLDOWN_MS = 6_000;
/** Each producer: on for ON_MS (Poisson, RATE jobs/s of JOB_MS), then quiet for OFF_MS. */
const ON_MS = 20_000;
const OFF_MS = 40_000;
const RATE = 0.5;
const JOB_MS = 400;

const names = Array.from({ length: QUEUES }, (_, i) => `s${String(i).padStart(2, '0')}`);
const prefix = `bench-soak-${randomUUID().slice(0, 8)}`;
const dir = await mkdtemp(join(tmpdir(), 'bench-soak-'));
const port = await freePort();
const marker = `--bench-soak=${prefix}`;
await writeFile(
  join(dir, 'qscale.yml'),
  `redis: { url: "${redisUrl()}" }
tick: 1s
http: { port: ${port} }
log: { level: info, format: json }
# The bench machine is shared and busy: CPU headroom must not decide who gets a slot.
limits: { maxWorkers: ${SLOTS}, cpu: { enforce: false } }
supervision: { stateFile: ${join(dir, 'state.json')} }
queues:${names
    .map(
      (name) => `
  ${name}:
    driver: bullmq
    prefix: ${prefix}
    command: [node, ${WORKER}, ${name}, "${marker}"]
    env: { REDIS_URL: "${redisUrl()}", QUEUE_PREFIX: ${prefix} }
    slo: { pickup: ${SLO_MS / 1_000}s, percentile: 95 }
    workers: { min: 0, max: 2 }
    stop: { grace: 5s }
    scaling: { cooldown: ${COOLDOWN_MS / 1_000}s }`,
    )
    .join('')}
`,
);

interface Change {
  at: number;
  queue: string;
  from: number;
  to: number;
}
const changes: Change[] = [];
const daemon = spawn(process.execPath, [QSCALED, '--config', join(dir, 'qscale.yml')], {
  env: { PATH: process.env.PATH ?? '' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const exited = new Promise((resolve) => daemon.once('exit', resolve));
createInterface({ input: daemon.stdout }).on('line', (line) => {
  try {
    const entry = JSON.parse(line) as { msg?: string; queue?: string; from?: number; to?: number };
    if (/^scale (up|down) /.test(entry.msg ?? '') && entry.queue !== undefined)
      changes.push({
        at: Date.now(),
        queue: entry.queue,
        from: entry.from ?? 0,
        to: entry.to ?? 0,
      });
  } catch {
    // Not a log line of ours.
  }
});

const redis = connectRedis();
const queues = names.map((name) => new Queue(name, { connection: redis, prefix }));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
try {
  await waitFor(
    () =>
      fetch(`http://127.0.0.1:${port}/healthz`).then(
        async (response) => ((await response.json()) as { ticks: number }).ticks >= 1,
        () => false,
      ),
    { timeoutMs: 60_000, what: 'qscaled to tick' },
  );
  const start = Date.now();
  const end = start + MINUTES * 60_000;
  let added = 0;
  // One producer per queue, each starting at its own phase of the on/off cycle.
  await Promise.all(
    queues.map(async (queue, index) => {
      let cycleStart = start - (index * (ON_MS + OFF_MS)) / QUEUES;
      while (Date.now() < end) {
        const inCycle = Date.now() - cycleStart;
        if (inCycle >= ON_MS + OFF_MS) cycleStart += ON_MS + OFF_MS;
        else if (inCycle >= ON_MS)
          await sleep(Math.min(ON_MS + OFF_MS - inCycle, end - Date.now()));
        else {
          await queue.add('job', { ms: JOB_MS });
          added++;
          await sleep(-Math.log(1 - Math.random()) * (1_000 / RATE));
        }
      }
    }),
  );
  const producedFor = Date.now() - start;
  // Every job done, or DRAIN_MS after the producers stopped: what is left is left behind.
  const unfinished = async () =>
    (
      await Promise.all(queues.map((queue) => queue.getJobCounts('waiting', 'active', 'delayed')))
    ).reduce((sum, c) => sum + (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0), 0);
  await waitFor(async () => (await unfinished()) === 0, {
    timeoutMs: DRAIN_MS,
    intervalMs: 1_000,
    what: 'every job done',
  }).catch(() => undefined);
  const leftBehind = await unfinished();

  const perQueue: { name: string; jobs: number; p95: number; max: number }[] = [];
  let failed = 0;
  for (const queue of queues) {
    const jobs = await queue.getJobs(['completed'], 0, -1);
    failed += (await queue.getJobCounts('failed')).failed ?? 0;
    const waits = jobs.map((job) => (job.processedOn ?? Number.NaN) - job.timestamp);
    waits.sort((a, b) => a - b);
    perQueue.push({
      name: queue.name,
      jobs: waits.length,
      p95: waits[Math.max(0, Math.ceil(0.95 * waits.length) - 1)] ?? Number.NaN,
      max: waits.at(-1) ?? Number.NaN,
    });
  }
  // A reversal: a queue scaled up, then down within the cooldown (whatever the reason).
  const lastUp = new Map<string, number>();
  let reversals = 0;
  for (const change of changes) {
    if (change.to > change.from) lastUp.set(change.queue, change.at);
    else if (change.at - (lastUp.get(change.queue) ?? -Infinity) < COOLDOWN_MS) reversals++;
  }
  const spawns = changes.reduce((sum, c) => sum + Math.max(0, c.to - c.from), 0);
  const served = perQueue.filter((q) => q.jobs > 0);
  const met = served.filter((q) => q.p95 <= SLO_MS);
  const worst = [...served].sort((a, b) => b.p95 - a.p95).slice(0, 5);

  console.log(`## daemon: ${QUEUES}-queue soak on ${SLOTS} slots\n`);
  console.log(
    `Command: \`QUEUES=${QUEUES} SLOTS=${SLOTS} MINUTES=${MINUTES} npx pnpm@10.34.8 --filter @qscale/bench run soak\`.`,
  );
  console.log(`Machine: ${machine()}.\n`);
  console.log(
    markdownTable([
      {
        'produced for s': Math.round(producedFor / 1_000),
        jobs: added,
        'queues meeting p95 <= 15 s': `${met.length} of ${served.length}`,
        'worst queue p95 s': (Math.max(...served.map((q) => q.p95)) / 1_000).toFixed(1),
        'longest wait s': (Math.max(...served.map((q) => q.max)) / 1_000).toFixed(1),
        'left behind': leftBehind,
        failed,
        'scale changes': changes.length,
        spawns,
        'reversals within cooldown': reversals,
      },
    ]),
  );
  console.log('\nWorst five queues by p95:\n');
  console.log(
    markdownTable(
      worst.map((q) => ({
        queue: q.name,
        jobs: q.jobs,
        'p95 s': (q.p95 / 1_000).toFixed(1),
        'max s': (q.max / 1_000).toFixed(1),
      })),
    ),
  );
} finally {
  daemon.kill('SIGTERM');
  await exited;
  await Promise.all(queues.map((queue) => queue.close()));
  await deleteKeys(redis, `${prefix}:*`);
  await redis.quit();
  await rm(dir, { recursive: true, force: true });
}
