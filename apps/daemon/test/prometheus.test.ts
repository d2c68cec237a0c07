import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectRedis, deleteKeys, redisUrl, uniquePrefix, waitFor } from '@qscale/testkit';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BULLMQ_WORKER,
  Cleanups,
  launchQscaled,
  type QscaledProcess,
  scratch,
  writeConfig,
} from './helpers/qscaled.js';

// /metrics of a real qscaled with real BullMQ workers and queues: checked by Debian's promtool
// (package `prometheus`), for the values of the capacity series, and against the Grafana
// dashboard in examples/grafana that reads it.

const PROMTOOL = process.env.PROMTOOL ?? '/usr/bin/promtool';
const DASHBOARD = fileURLToPath(
  new URL('../../../examples/grafana/qscale-dashboard.json', import.meta.url),
);

const redis = connectRedis();
const cleanups = new Cleanups();
let daemon: QscaledProcess;
const queues: Queue[] = [];

beforeAll(async () => {
  const { dir, marker, cleanup } = await scratch();
  const prefix = uniquePrefix('e2e-prom').slice(0, -1);
  cleanups.add(cleanup, () => deleteKeys(redis, `${prefix}:*`));
  const queueConfig = (name: string) => `
  ${name}:
    driver: bullmq
    prefix: ${prefix}
    command: [node, ${BULLMQ_WORKER}, ${name}, "${marker}"]
    env: { REDIS_URL: "${redisUrl()}", QUEUE_PREFIX: ${prefix} }
    slo: { pickup: 10s, percentile: 95 }
    workers: { min: 1, max: 6 }
    stop: { grace: 5s }
    spawn: { latency: 1s, minUptime: 500ms }
    scaling: { cooldown: 2s, downStabilization: 3s }`;
  const config = await writeConfig(
    dir,
    `
redis: { url: "${redisUrl()}" }
tick: 1s
http: { port: 0 }
# limits.maxWorkers holds the two queues below what they ask for: the capacity bites (config).
limits: { maxWorkers: 3, cpu: { enforce: false } }
supervision: { stateFile: ${join(dir, 'state.json')} }
queues:${queueConfig('emails')}${queueConfig('reports')}
`,
  );
  daemon = await launchQscaled(['--config', config], marker, cleanups);
  for (const name of ['emails', 'reports']) {
    const connection = connectRedis();
    const queue = new Queue(name, { connection, prefix });
    queues.push(queue);
    cleanups.add(async () => {
      await queue.close();
      await connection.quit();
    });
  }
  // More work than three workers do quickly: the strategy asks for more than the host holds.
  for (const queue of queues) {
    await queue.addBulk(Array.from({ length: 60 }, () => ({ name: 'j', data: { ms: 300 } })));
  }
  await daemon.until(
    (state) =>
      state.queues.every((queue) => (queue.snapshot?.pickupLatencyMs?.samples ?? 0) > 0) &&
      state.queues.some(
        (queue) =>
          (queue.lastDecision?.recommendation.workers ?? 0) > (queue.lastDecision?.to ?? 0),
      ),
    'pickups measured on both queues and a decision held below its recommendation',
    90_000,
  );
}, 150_000);

afterAll(async () => {
  await cleanups.run();
  await redis.quit();
});

async function scrape(): Promise<string> {
  const response = await fetch(`${daemon.url}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
}

/** `name{labels} value` lines as records; labels as written (`queue="emails",state="running"`). */
function samples(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match) throw new Error(`not a sample line: ${line}`);
      const labels = Object.fromEntries(
        [...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
      );
      return { name: match[1] as string, labels, value: Number(match[3]) };
    });
}

function promtool(input: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(PROMTOOL, ['check', 'metrics'], (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') {
        reject(new Error(`cannot run ${PROMTOOL} (apt-get install prometheus): ${error.message}`));
        return;
      }
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, output: stdout + stderr });
    });
    child.stdin?.end(input);
  });
}

describe('/metrics of a running qscaled', () => {
  it('passes promtool check metrics with no problem', async () => {
    const text = await scrape();
    // The series that need jobs and a held decision are there, so promtool sees them too.
    expect(text).toMatch(/^qscale_queue_pickup_latency_p95_seconds\{queue="emails"\} /m);
    expect(text).toMatch(/^qscale_queue_workers_held_back\{/m);
    const result = await promtool(text);
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  });

  it('a bad exposition fails promtool, so the check above can fail', async () => {
    const result = await promtool(
      '# HELP x_seconds a gauge with a quantile label\n# TYPE x_seconds gauge\nx_seconds{quantile="0.5"} 1\n',
    );
    expect(result.output).toContain('non-summary metrics should not have "quantile" label');
    expect(result.code).not.toBe(0);
  });

  it('exports host capacity, its limiting resource and what the host reads', async () => {
    const state = await daemon.state();
    const all = samples(await scrape());
    const one = (name: string, labels: Record<string, string> = {}) =>
      all.filter(
        (s) =>
          s.name === name &&
          Object.entries(labels).every(([key, value]) => s.labels[key] === value),
      );
    // limits.maxWorkers (3) is below what CPU (not enforced) and memory allow.
    expect(one('qscale_host_capacity_workers').map((s) => s.value)).toEqual([3]);
    const limiter = one('qscale_host_capacity_limited_by');
    expect(Object.fromEntries(limiter.map((s) => [s.labels.resource, s.value]))).toEqual({
      config: 1,
      cpu: 0,
      memory: 0,
    });
    expect(one('qscale_host_memory_limit_bytes')[0]?.value).toBe(
      state.resources?.memory.limitBytes,
    );
    expect(one('qscale_host_cpu_limit_cores')[0]?.value).toBe(state.resources?.cpu.limitCores);
    expect(one('qscale_host_headroom_memory_bytes')[0]?.value).toBeGreaterThan(0);
    for (const queue of ['emails', 'reports']) {
      expect(one('qscale_queue_slo_pickup_seconds', { queue })[0]?.value).toBe(10);
      expect(one('qscale_queue_slo_pickup_quantile', { queue })[0]?.value).toBe(0.95);
      expect(one('qscale_queue_worker_memory_bytes', { queue })[0]?.value).toBeGreaterThan(0);
    }
  });

  it('exports desired vs recommended workers and the policy that held them back', async () => {
    let held: ReturnType<typeof samples> = [];
    let all: ReturnType<typeof samples> = [];
    // One scrape is one moment: the figures below are compared within it.
    await waitFor(
      async () => {
        all = samples(await scrape());
        held = all.filter((s) => s.name === 'qscale_queue_workers_held_back');
        return held.length > 0;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: 'a scrape with a decision held back' },
    );
    const value = (name: string, queue: string) =>
      all.find((s) => s.name === name && s.labels.queue === queue)?.value ?? Number.NaN;
    const desired = ['emails', 'reports'].map((q) => value('qscale_queue_workers_desired', q));
    expect(desired.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(3);
    for (const series of held) {
      const queue = series.labels.queue as string;
      expect(series.value).toBe(
        value('qscale_queue_workers_recommended', queue) -
          value('qscale_queue_workers_desired', queue),
      );
      expect(series.value).toBeGreaterThan(0);
    }
    // The host's three slots are what held them: the allocator's fair share.
    expect(held.map((s) => s.labels.policy)).toContain('fair-share');
  });

  it('every metric the Grafana dashboard queries is exported', async () => {
    const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as { panels: unknown[] };
    const text = await scrape();
    const types = new Map(
      [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1] as string, m[2] as string]),
    );
    const exprs = JSON.stringify(dashboard)
      .match(/"(?:expr|definition)":"(?:[^"\\]|\\.)*"/g)
      ?.map((field) => JSON.parse(`{${field}}`) as Record<string, string>)
      .map((field) => Object.values(field)[0] as string);
    expect(exprs?.length).toBeGreaterThan(10);
    const used = new Set(exprs?.flatMap((expr) => expr.match(/\bqscale_[a-z0-9_]+/g) ?? []));
    const missing = [...used].filter((name) => {
      if (types.has(name)) return false;
      const histogram = /^(.*)_(?:bucket|sum|count)$/.exec(name)?.[1];
      return !(histogram && types.get(histogram) === 'histogram');
    });
    expect(missing).toEqual([]);
    expect(used.size).toBeGreaterThan(20);
  });
});
