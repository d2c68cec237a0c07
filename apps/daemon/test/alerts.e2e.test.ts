import { join } from 'node:path';
import {
  connectRedis,
  deleteKeys,
  redisUrl,
  startPrivateRedis,
  uniquePrefix,
  waitFor,
} from '@qscale/testkit';
import { Queue } from 'bullmq';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Cleanups, launchQscaled, running, scratch, writeConfig } from './helpers/qscaled.js';
import { Receiver } from './helpers/receiver.js';

// Alerts end to end: a real qscaled, real Redis (the shared one, and a private one to stop),
// real BullMQ jobs, and real HTTP receivers on loopback ports taking the webhooks.

const redis = connectRedis();
const cleanups = new Cleanups();
afterEach(() => cleanups.run());
afterAll(async () => {
  await redis.quit();
});

async function receiver(answer?: ConstructorParameters<typeof Receiver>[0]) {
  const started = await Receiver.start(answer);
  cleanups.add(() => started.close());
  return started;
}

/** A worker that starts and stays up but takes no job: the backlog ages past the SLO. */
function idleWorker(marker: string): string {
  return `[node, -e, "process.on('SIGTERM', () => process.exit(0)); setInterval(() => {}, 1000)", --, "${marker}"]`;
}

function events(target: Receiver): string[] {
  return target.received.map((r) => `${r.body.event} ${r.body.queue ?? r.body.key}`);
}

describe('alerts from a running qscaled', () => {
  it('SLO breach then recovery reach the webhook; a hanging receiver holds up neither the tick nor the other webhook', async () => {
    const { dir, marker, cleanup } = await scratch();
    const prefix = uniquePrefix('e2e-alerts').slice(0, -1);
    cleanups.add(cleanup, () => deleteKeys(redis, `${prefix}:*`));
    const ops = await receiver();
    const hanging = await receiver(() => 'hang');
    const secretPath = '/services/T0001/B0002/s3cr3tSl4ckPath';
    const config = await writeConfig(
      dir,
      `
redis: { url: "${redisUrl()}" }
tick: 500ms
http: { port: 0 }
limits: { cpu: { enforce: false } }
supervision: { stateFile: ${join(dir, 'state.json')} }
alerts:
  for: 1s
  recoverFor: 1s
  retry: { retries: 0 }
  webhooks:
    - { url: "${ops.url}${secretPath}", name: ops }
    - { url: "${hanging.url}/hook", name: hangs, timeout: 5m, token: hanging-token-123456 }
queues:
  emails:
    driver: bullmq
    prefix: ${prefix}
    command: ${idleWorker(marker)}
    slo: { pickup: 2s }
    workers: { min: 1, max: 1 }
    stop: { grace: 2s }
`,
    );
    const daemon = await launchQscaled(['--config', config], marker, cleanups);
    await daemon.until((state) => running(state, 'emails') === 1, 'the worker running');
    const connection = connectRedis();
    const queue = new Queue('emails', { connection, prefix });
    cleanups.add(async () => {
      await queue.close();
      await connection.quit();
    });

    await queue.addBulk([1, 2, 3].map(() => ({ name: 'j', data: {} })));
    await waitFor(() => ops.received.length === 1, { timeoutMs: 60_000, what: 'the breach' });
    await waitFor(() => hanging.received.length === 1, { what: 'the hanging receiver called' });
    const hungAt = (await daemon.state()).ticks;
    // Nothing will pick the jobs up: removing them ends the breach.
    await queue.drain();
    await waitFor(() => ops.received.length === 2, { timeoutMs: 60_000, what: 'the recovery' });
    expect(events(ops)).toEqual(['slo-breach emails', 'slo-recovered emails']);
    expect(ops.received[0]?.path).toBe(secretPath);
    expect(ops.received[0]?.body).toMatchObject({
      version: 1,
      status: 'firing',
      details: { sloMs: 2_000, signal: 'oldest-pending-age', workersRunning: 1 },
    });
    expect(ops.received[1]?.body.details).toMatchObject({ sloMs: 2_000 });

    // The hanging receiver still holds the breach: its recovery waits behind it, and the loop
    // went on ticking all the while. The receiver has the recovery before the daemon has its
    // answer: `sent` counts answers, so it is waited for too.
    const state = await daemon.until(
      (s) =>
        s.ticks >= hungAt + 4 && (s.alerts.webhooks.find((w) => w.name === 'ops')?.sent ?? 0) >= 2,
      'ticks while a webhook hangs, and the recovery answered',
    );
    expect(hanging.received).toHaveLength(1);
    expect(state.alerts.webhooks.find((w) => w.name === 'hangs')).toMatchObject({
      sent: 0,
      queued: 1,
    });
    expect(state.alerts.webhooks.find((w) => w.name === 'ops')).toMatchObject({ sent: 2 });
    const metrics = await (await fetch(`${daemon.url}/metrics`)).text();
    expect(metrics).toContain('qscale_alert_deliveries_total{webhook="ops",outcome="sent"} 2');
    expect(metrics).toContain('qscale_alert_queue_length{webhook="hangs"} 1');

    // Neither the URLs nor the token appear in the logs or the state.
    const logs = JSON.stringify(daemon.logs);
    expect(logs).toContain('alert: queue emails misses its pickup SLO');
    for (const secret of ['s3cr3tSl4ckPath', 'hanging-token-123456', ops.url, hanging.url]) {
      expect(logs).not.toContain(secret);
      expect(JSON.stringify(state)).not.toContain(secret);
    }
    daemon.child.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
  }, 150_000);

  it('a degraded queue and an unreachable Redis, each fired and resolved once', async () => {
    const server = await startPrivateRedis();
    cleanups.add(() => server.stop());
    const { dir, marker, cleanup } = await scratch();
    cleanups.add(cleanup);
    const ops = await receiver();
    const config = await writeConfig(
      dir,
      `
redis: { url: "${server.url}" }
tick: 500ms
http: { port: 0 }
limits: { cpu: { enforce: false } }
supervision: { stateFile: ${join(dir, 'state.json')} }
alerts:
  for: 1s
  recoverFor: 1s
  webhooks: [{ url: "${ops.url}/hook", events: [queue-degraded, queue-recovered, redis-unreachable, redis-reachable] }]
queues:
  emails:
    driver: bullmq
    prefix: alerts
    command: ${idleWorker(marker)}
    workers: { min: 0, max: 1 }
`,
    );
    const daemon = await launchQscaled(['--config', config], marker, cleanups);
    const own = connectRedis(server.url);
    own.on('error', () => {});
    cleanups.add(async () => own.disconnect());

    // A key of the wrong type where BullMQ keeps its waiting jobs: the queue cannot be read.
    await own.set('alerts:emails:wait', 'not a list');
    await waitFor(() => ops.received.length === 1, { timeoutMs: 60_000, what: 'degraded' });
    expect(ops.received[0]?.body.details).toEqual({
      reasons: [
        { reason: 'unreadable', code: 'WRONG_TYPE', message: 'cannot be read (WRONG_TYPE)' },
      ],
    });
    await own.del('alerts:emails:wait');
    await waitFor(() => ops.received.length === 2, { timeoutMs: 60_000, what: 'recovered' });

    await server.stop();
    await waitFor(() => ops.received.length === 3, { timeoutMs: 60_000, what: 'unreachable' });
    await server.start();
    await waitFor(() => ops.received.length === 4, { timeoutMs: 60_000, what: 'reachable' });
    expect(events(ops)).toEqual([
      'queue-degraded emails',
      'queue-recovered emails',
      `redis-unreachable redis:127.0.0.1:${server.port}`,
      `redis-reachable redis:127.0.0.1:${server.port}`,
    ]);
    expect(ops.received[2]?.body.details).toMatchObject({
      redis: `127.0.0.1:${server.port}`,
      queues: ['emails'],
    });
    expect(['REDIS_UNREACHABLE', 'REDIS_TIMEOUT']).toContain(
      (ops.received[2]?.body.details as { code?: string } | undefined)?.code,
    );
    daemon.child.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
  }, 150_000);

  it('a worker group: the breach names the member queue late against its own SLO, and says the other meets its own', async () => {
    const { dir, marker, cleanup } = await scratch();
    const prefix = uniquePrefix('e2e-alerts-group');
    cleanups.add(cleanup, () => deleteKeys(redis, `${prefix}*`));
    const ops = await receiver();
    // `high` has the tightest SLO (2 s): the group's pool is held to it, but a job waiting on
    // `default` breaches only past default's own 4 s.
    const config = await writeConfig(
      dir,
      `
redis: { url: "${redisUrl()}" }
tick: 500ms
http: { port: 0 }
limits: { cpu: { enforce: false } }
supervision: { stateFile: ${join(dir, 'state.json')} }
alerts:
  for: 1s
  recoverFor: 1s
  webhooks: [{ url: "${ops.url}/hook", name: ops }]
queues:
  high: { driver: rq, prefix: "${prefix}", slo: { pickup: 2s } }
  default: { driver: rq, prefix: "${prefix}", slo: { pickup: 4s } }
groups:
  web:
    queues: [high, default]
    command: ${idleWorker(marker)}
    workers: { min: 1, max: 1 }
    stop: { grace: 2s }
`,
    );
    const daemon = await launchQscaled(['--config', config], marker, cleanups);
    await daemon.until((state) => running(state, 'web') === 1, 'the group worker running');
    // Three jobs on `default` only, as RQ enqueues them; the idle worker never takes them.
    for (const id of ['a', 'b', 'c']) {
      await redis.hset(`${prefix}rq:job:${id}`, 'enqueued_at', new Date().toISOString());
      await redis.rpush(`${prefix}rq:queue:default`, id);
    }
    await waitFor(() => ops.received.length === 1, { timeoutMs: 60_000, what: 'the breach' });
    const breach = ops.received[0]?.body;
    expect(breach).toMatchObject({
      event: 'slo-breach',
      queue: 'default',
      key: 'slo:default',
      details: {
        sloMs: 4_000,
        signal: 'oldest-pending-age',
        workersRunning: 1,
        group: 'web',
        groupMembers: [{ queue: 'high', sloMs: 2_000, slo: 'ok' }],
      },
    });
    expect(
      (breach?.details as { observedMs?: number } | undefined)?.observedMs,
    ).toBeGreaterThanOrEqual(4_000);
    expect(breach?.summary).toMatch(
      /^queue default \(group web\) misses its pickup SLO: oldest pending age [\d.]+s >= 4s \(p95 target\); in group web, high \([\d.]+s of 2s\) meets its own SLO$/,
    );
    expect((await daemon.state()).alerts.firing.map((firing) => firing.key)).toEqual([
      'slo:default',
    ]);

    await redis.del(`${prefix}rq:queue:default`);
    await waitFor(() => ops.received.length === 2, { timeoutMs: 60_000, what: 'the recovery' });
    expect(events(ops)).toEqual(['slo-breach default', 'slo-recovered default']);
    expect(ops.received[1]?.body.details).toMatchObject({ sloMs: 4_000, group: 'web' });
    daemon.child.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
  }, 150_000);
});
