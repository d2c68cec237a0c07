import { join } from 'node:path';
import { connectRedis, deleteKeys, redisUrl, uniquePrefix, waitFor } from '@qscale/testkit';
import { Queue } from 'bullmq';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { DecisionRecord } from '../src/index.js';
import {
  BULLMQ_WORKER,
  Cleanups,
  launchQscaled,
  markedProcesses,
  scratch,
  writeConfig,
} from './helpers/qscaled.js';

// Issue 17, scaled down: twelve BullMQ queues that each want one worker share six slots
// (`limits.maxWorkers: 6`), with bursts of jobs arriving queue after queue. The real qscaled,
// real worker processes, the real Redis. Checked from the daemon's own decision records (its
// `scale up|down` log lines) and the pickup times the jobs recorded; nothing here asserts how
// fast the machine is.

const redis = connectRedis();
const cleanups = new Cleanups();
afterEach(() => cleanups.run());
afterAll(async () => {
  await redis.quit();
});

const QUEUES = Array.from({ length: 12 }, (_, i) => `c${String(i).padStart(2, '0')}`);
const SLOTS = 6;
const COOLDOWN_MS = 6_000;

describe('qscaled under contention', () => {
  it('12 queues on 6 slots: every queue served, every job done, no reversal of a queue with work within the cooldown', async () => {
    const { dir, marker, cleanup } = await scratch();
    const prefix = uniquePrefix('e2e-contention').slice(0, -1);
    cleanups.add(cleanup, () => deleteKeys(redis, `${prefix}:*`));
    const url = redisUrl();
    const queueConfig = (name: string) => `
  ${name}:
    driver: bullmq
    prefix: ${prefix}
    command: [node, ${BULLMQ_WORKER}, ${name}, "${marker}"]
    env: { REDIS_URL: "${url}", QUEUE_PREFIX: ${prefix} }
    slo: { pickup: 15s, percentile: 95 }
    workers: { min: 0, max: 1 }
    stop: { grace: 5s }
    spawn: { latency: 1s, minUptime: 500ms }
    scaling: { cooldown: ${COOLDOWN_MS / 1_000}s, downStabilization: 2s }`;
    const config = await writeConfig(
      dir,
      `
redis: { url: "${url}" }
tick: 1s
http: { port: 0 }
# The machine running the tests may be busy: CPU headroom must not decide this test.
limits: { maxWorkers: ${SLOTS}, cpu: { enforce: false } }
supervision: { stateFile: ${join(dir, 'state.json')} }
queues:${QUEUES.map(queueConfig).join('')}
`,
    );
    const daemon = await launchQscaled(['--config', config], marker, cleanups);
    const connection = connectRedis(url);
    const queues = QUEUES.map((name) => new Queue(name, { connection, prefix }));
    cleanups.add(async () => {
      await Promise.all(queues.map((queue) => queue.close()));
      await connection.quit();
    });

    // Three waves; in each, every queue gets a burst of 3 jobs of 300 ms, one queue every
    // 300 ms, starting with a different queue each wave.
    const added = new Map<string, number>(QUEUES.map((name) => [name, 0]));
    for (let wave = 0; wave < 3; wave++) {
      for (let i = 0; i < QUEUES.length; i++) {
        const index = (i + wave * 5) % QUEUES.length;
        const queue = queues[index] as Queue;
        await queue.addBulk([0, 1, 2].map(() => ({ name: 'job', data: { ms: 300 } })));
        added.set(queue.name, (added.get(queue.name) ?? 0) + 3);
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    }
    const total = [...added.values()].reduce((sum, n) => sum + n, 0);

    // Every job done: none left behind, none failed.
    await waitFor(
      async () => {
        const counts = await Promise.all(queues.map((queue) => queue.getJobCounts('completed')));
        return counts.reduce((sum, c) => sum + (c.completed ?? 0), 0) === total;
      },
      { timeoutMs: 120_000, intervalMs: 500, what: `all ${total} jobs completed` },
    );
    for (const queue of queues) {
      const counts = await queue.getJobCounts('completed', 'failed', 'waiting', 'active');
      expect({ queue: queue.name, ...counts }).toEqual({
        queue: queue.name,
        completed: added.get(queue.name),
        failed: 0,
        waiting: 0,
        active: 0,
      });
    }
    const pickups = new Map<string, number[]>();
    for (const queue of queues) {
      const jobs = await queue.getJobs(['completed'], 0, 100);
      pickups.set(
        queue.name,
        jobs.map((job) => (job.processedOn ?? Number.NaN) - job.timestamp),
      );
    }

    // The daemon's own decision records (every change of a queue's count, with its trace).
    const { decisions } = await daemon.state();
    // Fewer than the 200 the daemon keeps: none was dropped.
    expect(decisions.length).toBeLessThan(200);
    daemon.child.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
    expect(await markedProcesses(marker)).toEqual({ live: [], zombies: [] });

    // No queue left unserved: each got a worker, and each job recorded its pickup.
    for (const name of QUEUES) {
      expect({ name, servedBy: decisions.some((d) => d.queue === name && d.to > d.from) }).toEqual({
        name,
        servedBy: true,
      });
      expect(pickups.get(name)?.every((ms) => Number.isFinite(ms) && ms >= 0)).toBe(true);
    }
    // After every tick, the daemon's decided counts fit the six slots.
    const current = new Map<string, number>();
    decisions.forEach((decision, i) => {
      current.set(decision.queue, decision.to);
      if (decisions[i + 1]?.tick === decision.tick) return;
      const sum = [...current.values()].reduce((a, b) => a + b, 0);
      expect({ tick: decision.tick, sum }).toEqual({
        tick: decision.tick,
        sum: Math.min(sum, SLOTS),
      });
    });
    // No up-then-down of a queue within the cooldown, except an idle queue (nothing waiting,
    // running or arriving) handing its slot to a queue with waiting jobs, as its edit says.
    const lastUp = new Map<string, number>();
    const idleReleases: DecisionRecord[] = [];
    const reversals: DecisionRecord[] = [];
    for (const decision of decisions) {
      if (decision.to > decision.from) {
        lastUp.set(decision.queue, decision.at);
        continue;
      }
      const up = lastUp.get(decision.queue);
      if (up === undefined || decision.at - up >= COOLDOWN_MS) continue;
      const why = decision.edits.at(-1)?.why ?? '';
      if (why.includes(`${decision.queue} is idle`)) idleReleases.push(decision);
      else reversals.push(decision);
    }
    expect(reversals).toEqual([]);
    // Whoever took a slot is named in the trace of the queue that gave it up.
    for (const release of idleReleases) {
      expect(release.edits.at(-1)?.why).toMatch(/the slots went to c\d\d \(\+1: /);
    }
    const all = [...pickups.values()].flat();
    console.log(
      `contention e2e: ${total} jobs, ${decisions.filter((d) => d.to > d.from).length} scale-ups, ` +
        `${decisions.filter((d) => d.to < d.from).length} scale-downs, ${idleReleases.length} idle ` +
        `releases within the cooldown, 0 reversals with work; pickup max ${Math.max(...all)} ms`,
    );
  }, 180_000);
});
