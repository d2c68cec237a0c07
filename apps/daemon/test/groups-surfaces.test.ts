import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, type ServiceError } from '@grpc/grpc-js';
import { connectRedis, deleteKeys, redisUrl, uniquePrefix, waitFor } from '@qscale/testkit';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  type Daemon,
  loadConfig,
  loadExternalScaler,
  parseConfig,
  startDaemon,
} from '../src/index.js';

// A worker group everywhere a queue appears: /api/state (the group with its members and each
// member's term, the decision record), /metrics (the group's pool as a queue, the members'
// own figures) and KEDA's external scaler (`queue: <group>`). A dry run decides without
// spawning; the jobs are RQ's as it enqueues them.

const ExternalScaler = loadExternalScaler();
const redis = connectRedis();
afterAll(async () => {
  await redis.quit();
});

describe('a worker group on every surface of the daemon', () => {
  let daemon: Daemon | null = null;
  let prefix = '';
  afterEach(async () => {
    await daemon?.stop();
    daemon = null;
    await deleteKeys(redis, `${prefix}*`);
  });

  it('shows in /api/state, /metrics and the external scaler under the group name', async () => {
    prefix = uniquePrefix('groups-surfaces');
    for (const [queue, ids] of [
      ['high', ['a', 'b', 'c', 'd']],
      ['low', ['e', 'f']],
    ] as const) {
      for (const id of ids) {
        await redis.hset(`${prefix}rq:job:${id}`, 'enqueued_at', new Date().toISOString());
        await redis.rpush(`${prefix}rq:queue:${queue}`, id);
      }
    }
    const config = parseConfig(
      `redis: { url: "${redisUrl()}" }
tick: 200ms
http: { port: 0 }
externalScaler: { port: 0 }
queues:
  high: { driver: rq, prefix: "${prefix}", slo: { pickup: 5s } }
  low: { driver: rq, prefix: "${prefix}", slo: { pickup: 2m } }
  other: { driver: rq, prefix: "${prefix}", command: [rq, worker, other] }
groups:
  web:
    queues: [high, low]
    command: [rq, worker, high, low]
    workers: { min: 1, max: 6 }
`,
      { env: {} },
    );
    daemon = await startDaemon({ config, dryRun: true });
    const url = daemon.url as string;
    await waitFor(() => daemon?.state().decisions.some((d) => d.queue === 'web') ?? false, {
      timeoutMs: 30_000,
      what: 'a decision of the group',
    });

    // /api/state: the pool entries, the group's members in order, each with its term.
    const state = (await (await fetch(`${url}/api/state`)).json()) as ReturnType<Daemon['state']>;
    expect(state.queues.map((queue) => queue.name)).toEqual(['other', 'web']);
    const web = state.queues.find((queue) => queue.name === 'web');
    expect(web?.group?.discipline).toBe('priority');
    expect(web?.group?.members.map((m) => [m.name, m.snapshot?.pending, m.slo.pickupMs])).toEqual([
      ['high', 4, 5_000],
      ['low', 2, 120_000],
    ]);
    expect(web?.snapshot?.pending).toBe(6);
    const decision = state.decisions.find((d) => d.queue === 'web');
    const members = (decision?.recommendation as { members?: { queue: string }[] } | undefined)
      ?.members;
    expect(members?.map((member) => member.queue)).toEqual(['high', 'low']);
    expect(decision?.recommendation.terms).toHaveProperty('need:high');
    expect(decision?.to).toBeGreaterThanOrEqual(1);

    // /metrics: the group's pool is a queue; its members have their own figures.
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^qscale_queue_workers_desired\{queue="web"\} \d+$/m);
    expect(metrics).toMatch(/^qscale_group_member_pending_jobs\{group="web",queue="high"\} 4$/m);
    expect(metrics).toMatch(
      /^qscale_group_member_slo_pickup_seconds\{group="web",queue="low"\} 120$/m,
    );
    expect(metrics).toMatch(
      /^qscale_group_member_workers_needed\{group="web",queue="high"\} \d+$/m,
    );
    expect(metrics).not.toMatch(/qscale_queue_workers_desired\{queue="high"\}/);

    // KEDA's external scaler: `queue: web` answers the group's decision.
    const client = new ExternalScaler(daemon.scalerAddress ?? '', credentials.createInsecure());
    const desired = await new Promise<number>((resolve, reject) => {
      const fn = client.GetMetrics as (
        req: unknown,
        cb: (error: ServiceError | null, res: { metricValues: { metricValue: number }[] }) => void,
      ) => void;
      fn.call(
        client,
        {
          scaledObjectRef: { name: 'w', namespace: 'n', scalerMetadata: { queue: 'web' } },
          metricName: 'qscale-web',
        },
        (error, response) =>
          error ? reject(error) : resolve(response.metricValues[0]?.metricValue ?? -1),
      );
    });
    client.close();
    // One of the group's decided counts (a tick may have decided again since).
    const decided = daemon
      .state()
      .decisions.filter((d) => d.queue === 'web')
      .map((d) => d.to);
    expect(decided).toContain(desired);
  });

  it('reloads a group: a member SLO redefines its sizer; a queue turned into a group is refused', async () => {
    prefix = uniquePrefix('groups-reload');
    const dir = await mkdtemp(join(tmpdir(), 'qscale-groups-reload-'));
    const file = join(dir, 'qscale.yml');
    const write = (highPickup: string, tail: string) =>
      writeFile(
        file,
        `redis: { url: "${redisUrl()}" }
tick: 200ms
http: { enabled: false }
queues:
  high: { driver: rq, prefix: "${prefix}", slo: { pickup: ${highPickup} } }
  low: { driver: rq, prefix: "${prefix}" }
${tail}`,
      );
    const group = `groups:
  web:
    queues: [high, low]
    command: [rq, worker, high, low]
`;
    try {
      await write('5s', group);
      daemon = await startDaemon({
        config: await loadConfig(file),
        configPath: file,
        dryRun: true,
      });
      await write('10s', group);
      expect(await daemon.reload()).toEqual({
        ok: true,
        changed: ['queue web: strategy or scaling'],
      });
      const members = daemon.state().queues.find((queue) => queue.name === 'web')?.group?.members;
      expect(members?.map((member) => member.slo.pickupMs)).toEqual([10_000, 30_000]);

      await write(
        '10s',
        `  web: { driver: rq, prefix: "${prefix}", command: [rq, worker, web] }
groups:
  both:
    queues: [high, low]
    command: [rq, worker, high, low]
`,
      );
      expect(await daemon.reload()).toEqual({
        ok: false,
        problems: [
          'web: a queue cannot become a worker group (or the reverse) on reload; rename it or restart qscaled',
        ],
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
