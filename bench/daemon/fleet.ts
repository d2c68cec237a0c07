// bench/daemon fleet: the fleet of issue 14 with real qscaled processes (dry run: they decide,
// heartbeat, lead and split, but spawn nothing; the assignment is what the e2e test checks
// with real workers). On a private redis-server, so INFO commandstats counts only them.
// (1) Redis commands per host per tick, for 3 and 20 hosts, with the fleet and without it.
// (2) Failover: from SIGKILL of the leader to a survivor leading, and to the survivors' shares
//     summing to the total again (leaseTtl 3 s, tick 1 s).
// (3) Decision agreement: a single-host qscaled and a 3-host fleet read the same BullMQ queue
//     (a producer with a varying rate, 2 consumers outside qscale); their totals are sampled.
// Run: npm run build && npx pnpm@10.34.8 --filter @qscale/bench run fleet   (TRIALS=5, WINDOW_S=20)
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { DaemonState } from '@qscale/daemon';
import { connectRedis, startPrivateRedis, waitFor } from '@qscale/testkit';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { machine, markdownTable } from '../lib/measure.js';

const QSCALED = fileURLToPath(new URL('../../apps/daemon/dist/bin.js', import.meta.url));
const WORKER = fileURLToPath(new URL('../../examples/bullmq/worker.mjs', import.meta.url));
const TRIALS = Number(process.env.TRIALS ?? 5);
const WINDOW_S = Number(process.env.WINDOW_S ?? 20);
const PREFIX = 'benchfleet';

interface Host {
  id: string;
  child: ChildProcess;
  url: string;
  exited: Promise<unknown>;
  state(): Promise<DaemonState>;
}

function config(options: { redis: string; id: string; dir: string; cluster: boolean }): string {
  return `redis: { url: "${options.redis}" }
tick: 1s
wakePoll: 0s
http: { port: 0 }
log: { level: info }
${options.cluster ? `cluster: { enabled: true, id: ${options.id}, leaseTtl: 3s }` : ''}
limits: { cpu: { enforce: false } }
supervision: { stateFile: ${join(options.dir, `${options.id}.state.json`)} }
queues:
  jobs:
    driver: bullmq
    prefix: ${PREFIX}
    command: [node, worker.mjs]
    workers: { min: 0, max: 6 }
    slo: { pickup: 5s }
    scaling: { cooldown: 2s, downStabilization: 3s }
`;
}

async function launch(dir: string, redis: string, id: string, cluster: boolean): Promise<Host> {
  const file = join(dir, `${id}.yml`);
  await writeFile(file, config({ redis, id, dir, cluster }));
  const child = spawn(process.execPath, [QSCALED, '--config', file, '--dry-run'], {
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let logs = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    logs = (logs + chunk.toString()).slice(-20_000);
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let url = '';
  await waitFor(
    () => {
      url = /"http":"(http:[^"]+)"/.exec(logs)?.[1] ?? '';
      return url !== '' || child.exitCode !== null;
    },
    { timeoutMs: 120_000, what: `qscaled ${id}` },
  );
  if (!url) throw new Error(`qscaled ${id} did not start: ${logs}`);
  return {
    id,
    child,
    url,
    exited,
    state: async () => (await (await fetch(`${url}/api/state`)).json()) as DaemonState,
  };
}

async function stopAll(hosts: Host[]): Promise<void> {
  for (const host of hosts) host.child.kill('SIGTERM');
  await Promise.all(hosts.map((host) => host.exited));
}

/** All hosts see one leader, which counts them all. */
async function settled(hosts: Host[]): Promise<DaemonState[]> {
  let states: DaemonState[] = [];
  await waitFor(
    async () => {
      states = await Promise.all(hosts.map((host) => host.state()));
      const leaders = new Set(states.map((state) => state.cluster?.leader));
      const leader = states.find((state) => state.cluster?.id === [...leaders][0]);
      return leaders.size === 1 && leader?.cluster?.members.length === hosts.length;
    },
    { timeoutMs: 120_000, intervalMs: 100, what: 'one leader over every host' },
  );
  return states;
}

function commandStats(info: string): Map<string, number> {
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    calls.set(match[1] ?? '', Number(match[2]));
  }
  return calls;
}

const FLEET_COMMANDS = new Set(['evalsha', 'eval']);
const SCRIPT_COMMANDS = new Set(['get', 'set', 'sadd', 'smembers', 'srem', 'pexpire', 'incr']);

async function commandsPerTick(admin: Redis, redis: string, count: number, cluster: boolean) {
  const dir = await mkdtemp(join(tmpdir(), 'qscale-bench-fleet-'));
  const hosts: Host[] = [];
  try {
    for (let index = 0; index < count; index++) {
      hosts.push(await launch(dir, redis, `h${String(index).padStart(2, '0')}`, cluster));
    }
    if (cluster) await settled(hosts);
    const ticks = async () =>
      (await Promise.all(hosts.map((host) => host.state()))).reduce((sum, s) => sum + s.ticks, 0);
    await admin.config('RESETSTAT');
    const before = await ticks();
    await new Promise((resolve) => setTimeout(resolve, WINDOW_S * 1_000));
    const stats = commandStats(String(await admin.info('commandstats')));
    const hostTicks = (await ticks()) - before;
    let total = 0;
    let fleet = 0;
    let inScripts = 0;
    for (const [name, calls] of stats) {
      if (name === 'config' || name === 'info') continue;
      total += calls;
      if (FLEET_COMMANDS.has(name)) fleet += calls;
      if (SCRIPT_COMMANDS.has(name)) inScripts += calls;
    }
    return { hostTicks, total, fleet, inScripts };
  } finally {
    await stopAll(hosts);
    await rm(dir, { recursive: true, force: true });
  }
}

async function failover(redis: string) {
  const dir = await mkdtemp(join(tmpdir(), 'qscale-bench-fleet-'));
  const hosts: Host[] = [];
  const rows: Record<string, string | number>[] = [];
  try {
    for (const id of ['a', 'b', 'c']) hosts.push(await launch(dir, redis, id, true));
    for (let trial = 1; trial <= TRIALS; trial++) {
      const states = await settled(hosts);
      await waitFor(
        async () => {
          const now = await Promise.all(hosts.map((host) => host.state()));
          return now.reduce((sum, s) => sum + (s.queues[0]?.workers.running ?? 0), 0) === 6;
        },
        { timeoutMs: 120_000, intervalMs: 100, what: 'six workers' },
      );
      const leaderId = states[0]?.cluster?.leader;
      const leader = hosts.find((host) => host.id === leaderId) as Host;
      const survivors = hosts.filter((host) => host !== leader);
      const killedAt = performance.now();
      leader.child.kill('SIGKILL');
      let newLeaderMs = Number.NaN;
      let sixMs = Number.NaN;
      await waitFor(
        async () => {
          const now = await Promise.all(survivors.map((host) => host.state()));
          const at = performance.now() - killedAt;
          if (Number.isNaN(newLeaderMs) && now.every((s) => s.cluster?.leader !== leaderId)) {
            if (now.every((s) => s.cluster?.leader && s.cluster.leader === now[0]?.cluster?.leader))
              newLeaderMs = at;
          }
          const running = now.reduce((sum, s) => sum + (s.queues[0]?.workers.running ?? 0), 0);
          if (!Number.isNaN(newLeaderMs) && running === 6) sixMs = at;
          return !Number.isNaN(sixMs);
        },
        { timeoutMs: 60_000, intervalMs: 50, what: 'the survivors to run six' },
      );
      rows.push({ trial, 'new leader (ms)': newLeaderMs, 'six again (ms)': sixMs });
      await leader.exited;
      hosts[hosts.indexOf(leader)] = await launch(dir, redis, leader.id, true);
    }
    return rows;
  } finally {
    await stopAll(hosts);
    await rm(dir, { recursive: true, force: true });
  }
}

async function agreement(redis: string, admin: Redis) {
  const dir = await mkdtemp(join(tmpdir(), 'qscale-bench-fleet-'));
  const hosts: Host[] = [];
  const consumers: ChildProcess[] = [];
  const connection = connectRedis(redis);
  const queue = new Queue('jobs', { connection, prefix: PREFIX });
  let producing = true;
  try {
    await admin.flushall();
    const single = await launch(dir, redis, 'single', false);
    hosts.push(single);
    for (const id of ['a', 'b', 'c']) hosts.push(await launch(dir, redis, id, true));
    await settled(hosts.slice(1));
    for (let index = 0; index < 2; index++) {
      consumers.push(
        spawn(process.execPath, [WORKER, 'jobs'], {
          env: { PATH: process.env.PATH ?? '', REDIS_URL: redis, QUEUE_PREFIX: PREFIX },
          stdio: 'ignore',
        }),
      );
    }
    // 0 to 16 jobs/s of 250 ms in a 40 s wave: two consumers hold 8/s.
    const started = performance.now();
    const producer = (async () => {
      while (producing) {
        const t = (performance.now() - started) / 1_000;
        const rate = 8 + 8 * Math.sin((2 * Math.PI * t) / 40);
        const count = Math.round(rate / 4);
        if (count > 0) {
          await queue.addBulk(
            Array.from({ length: count }, () => ({ name: 'j', data: { ms: 250 } })),
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();
    let samples = 0;
    let equal = 0;
    let withinOne = 0;
    let diffSum = 0;
    const end = performance.now() + 120_000;
    while (performance.now() < end) {
      const [one, ...fleet] = await Promise.all(hosts.map((host) => host.state()));
      const singleTotal = one?.queues[0]?.lastDecision?.to;
      const fleetTotal = fleet.find((s) => s.cluster?.leader === s.cluster?.id)?.cluster?.totals
        .jobs;
      if (singleTotal !== undefined && fleetTotal !== undefined) {
        samples++;
        const diff = Math.abs(singleTotal - fleetTotal);
        if (diff === 0) equal++;
        if (diff <= 1) withinOne++;
        diffSum += diff;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    producing = false;
    await producer;
    return { samples, equal, withinOne, meanDiff: diffSum / Math.max(1, samples) };
  } finally {
    producing = false;
    for (const consumer of consumers) consumer.kill('SIGTERM');
    await stopAll(hosts);
    await queue.close();
    connection.disconnect();
    await rm(dir, { recursive: true, force: true });
  }
}

async function main() {
  const server = await startPrivateRedis();
  const admin = connectRedis(server.url);
  try {
    // Work in the queue, so the decisions are not all zero.
    const connection = connectRedis(server.url);
    const queue = new Queue('jobs', { connection, prefix: PREFIX });
    await queue.addBulk(Array.from({ length: 2_000 }, () => ({ name: 'j', data: { ms: 250 } })));
    await queue.close();
    connection.disconnect();
    console.log(`## daemon: fleet\n\n${machine()}; private redis-server; window ${WINDOW_S} s\n`);
    const rows: Record<string, string | number>[] = [];
    for (const count of [3, 20]) {
      for (const cluster of [false, true]) {
        const measured = await commandsPerTick(admin, server.url, count, cluster);
        rows.push({
          hosts: count,
          fleet: cluster ? 'on' : 'off',
          'host ticks': measured.hostTicks,
          'commands / host tick (all)': measured.total / measured.hostTicks,
          'fleet EVALSHA / host tick': measured.fleet / measured.hostTicks,
          'commands in scripts / host tick': measured.inScripts / measured.hostTicks,
        });
        console.error(JSON.stringify(rows.at(-1)));
      }
    }
    console.log(markdownTable(rows));
    const failovers = await failover(server.url);
    console.log(`\n${markdownTable(failovers, 0)}`);
    const agreed = await agreement(server.url, admin);
    console.log(
      `\nagreement: ${agreed.samples} samples, equal ${((100 * agreed.equal) / agreed.samples).toFixed(1)} %, within one ${((100 * agreed.withinOne) / agreed.samples).toFixed(1)} %, mean |difference| ${agreed.meanDiff.toFixed(2)}`,
    );
  } finally {
    admin.disconnect();
    await server.stop();
  }
}

await main();
