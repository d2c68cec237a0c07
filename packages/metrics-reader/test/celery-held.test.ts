/**
 * What a Celery worker holds in kombu's `unacked` hash and `unacked_index` sorted set, written
 * as kombu's `QoS.append` writes them (kombu/transport/redis.py): the index scores each delivery
 * tag with its delivery time in float seconds, the hash maps the tag to
 * `dumps([message, exchange, routing_key])`. A countdown task carries `headers.eta` in
 * ISO-8601 (Celery's `eta.isoformat()`). The real worker's version of this is
 * test/real/celery-counts.test.ts; this one runs in milliseconds, so mutation testing runs it.
 */
import { randomUUID } from 'node:crypto';
import { redisUrl, waitFor } from '@qscale/testkit';
import { describe, expect, it } from 'vitest';
import { createMetricsReader } from '../src/index.js';
import { celeryMessage, publishCelery } from './helpers/celery.js';
import { redisFixture } from './helpers/setup.js';

const fixture = redisFixture();

/** Celery's isoformat of a UTC time: microseconds and +00:00. */
function isoEta(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000+00:00');
}

/** kombu's `QoS.append` of a message delivered `agoMs` ago from `queue`, with `eta` in its headers. */
async function hold(prefix: string, queue: string, eta: unknown, agoMs = 1_000): Promise<string> {
  const tag = randomUUID();
  const message = JSON.parse(celeryMessage(queue)) as { headers: Record<string, unknown> };
  message.headers.eta = eta;
  await holdRaw(prefix, tag, JSON.stringify([message, '', queue]), agoMs);
  return tag;
}

async function holdRaw(prefix: string, tag: string, value: string, agoMs = 1_000) {
  await fixture.redis
    .multi()
    .zadd(`${prefix}unacked_index`, (Date.now() - agoMs) / 1000, tag)
    .hset(`${prefix}unacked`, tag, value)
    .exec();
}

function reader(
  prefix: string,
  acksLate: boolean,
  options: { maxPayloadBytes?: number } = {},
  probeIntervalMs = 0,
) {
  const created = createMetricsReader({
    sources: [
      {
        queue: 'tasks',
        driver: 'celery',
        backendName: 'tasks',
        prefix,
        redis: { url: redisUrl() },
        celery: { acksLate, probeIntervalMs },
      },
    ],
    minSamples: 1,
    ...options,
  });
  fixture.cleanups.push(() => created.close());
  return created;
}

/**
 * Two ready, and held: two countdowns ahead, an ETA passed, a plain delivery, another queue's.
 * Not as many ahead as passed: swapping "ahead" and "passed" must change the counts.
 */
async function heldMix(prefix: string): Promise<void> {
  await publishCelery(fixture.redis, prefix, 'tasks');
  await publishCelery(fixture.redis, prefix, 'tasks');
  await hold(prefix, 'tasks', isoEta(Date.now() + 600_000));
  await hold(prefix, 'tasks', isoEta(Date.now() + 300_000));
  await hold(prefix, 'tasks', isoEta(Date.now() - 5_000));
  await hold(prefix, 'tasks', null);
  await hold(prefix, 'reports', null);
  await hold(prefix, 'reports', isoEta(Date.now() + 600_000));
}

describe('Celery held deliveries (unacked)', () => {
  it('early ack: a countdown ahead is delayed, other held ones are reserved (pending)', async () => {
    const prefix = fixture.prefix('celery-held');
    await heldMix(prefix);
    const [snapshot] = await reader(prefix, false).snapshot();
    expect(snapshot).toMatchObject({ pending: 4, delayed: 2, active: null });
    expect(snapshot?.error).toBeUndefined();
  });

  it('acks_late: held and due is running (active), a countdown ahead is delayed', async () => {
    const prefix = fixture.prefix('celery-held');
    await heldMix(prefix);
    const [snapshot] = await reader(prefix, true).snapshot();
    expect(snapshot).toMatchObject({ pending: 2, delayed: 2, active: 2 });
    expect(snapshot?.error).toBeUndefined();
  });

  it('leaves out a delivery acked between reading the index and its message', async () => {
    const prefix = fixture.prefix('celery-held');
    await hold(prefix, 'tasks', null);
    // In the index, gone from the hash: the worker acked it in between.
    await fixture.redis.zadd(`${prefix}unacked_index`, Date.now() / 1000, randomUUID());
    const [snapshot] = await reader(prefix, true).snapshot();
    expect(snapshot).toMatchObject({ pending: 0, delayed: 0, active: 1 });
  });

  it.each([
    [
      'not JSON',
      '\x80\x04\x95pickle',
      'BAD_PAYLOAD',
      /is not JSON .*expected kombu's \[message, exchange, routing_key\]/,
    ],
    [
      'not a triple',
      '{"body":"x"}',
      'BAD_PAYLOAD',
      /is .*expected kombu's \[message, exchange, routing_key\]/,
    ],
    ['a routing key that is no string', '[{}, "", 7]', 'BAD_PAYLOAD', /expected kombu's \[message/],
    [
      'an ETA that is no time',
      JSON.stringify([{ headers: { eta: 'tomorrow' } }, '', 'tasks']),
      'BAD_PAYLOAD',
      /headers\.eta a string of 8 bytes, expected an ISO-8601 time$/,
    ],
    [
      'an ETA that is a number',
      JSON.stringify([{ headers: { eta: 1_767_225_600 } }, '', 'tasks']),
      'BAD_PAYLOAD',
      /headers\.eta number 1767225600, expected an ISO-8601 time or null/,
    ],
    [
      'a message over maxPayloadBytes',
      JSON.stringify([{ pad: 'x'.repeat(600) }, '', 'tasks']),
      'PAYLOAD_TOO_LARGE',
      /is \d+ bytes, above maxPayloadBytes 512/,
    ],
  ])(
    'names a held message that is %s, and counts nothing from a partial view',
    async (_what, value, code, message) => {
      const prefix = fixture.prefix('celery-held');
      const tag = randomUUID();
      await holdRaw(prefix, tag, value);
      const [snapshot] = await reader(prefix, false, { maxPayloadBytes: 512 }).snapshot();
      expect(snapshot?.error?.code).toBe(code);
      expect(snapshot?.error?.message).toContain(`HGET ${prefix}unacked ${tag}`);
      expect(snapshot?.error?.message).toMatch(message);
      expect(snapshot).toMatchObject({ pending: null, delayed: null });
    },
  );

  it('a held message without headers runs as soon as it can', async () => {
    const prefix = fixture.prefix('celery-held');
    await holdRaw(prefix, randomUUID(), JSON.stringify([null, '', 'tasks']));
    await holdRaw(prefix, randomUUID(), JSON.stringify([{ body: 'e30=' }, '', 'tasks']));
    const [snapshot] = await reader(prefix, true).snapshot();
    expect(snapshot).toMatchObject({ delayed: 0, active: 2 });
    expect(snapshot?.error).toBeUndefined();
  });

  it('acks_late with the probe: times a task delivered and acked between two snapshots', async () => {
    const prefix = fixture.prefix('celery-held');
    const metrics = reader(prefix, true, {}, 20);
    const probesPass = async (count: number) => {
      const target = metrics.stats().probes.count + count;
      await waitFor(() => metrics.stats().probes.count >= target, {
        timeoutMs: 60_000,
        intervalMs: 20,
        what: `${count} more probes`,
      });
    };
    await metrics.snapshot();
    await publishCelery(fixture.redis, prefix, 'tasks');
    await probesPass(2);
    // The worker takes it (BRPOP, then QoS.append), runs it, and acks it (late).
    await fixture.redis.rpop(`${prefix}tasks`);
    const tag = await hold(prefix, 'tasks', null, 0);
    await probesPass(2);
    await fixture.redis
      .multi()
      .zrem(`${prefix}unacked_index`, tag)
      .hdel(`${prefix}unacked`, tag)
      .exec();
    // Rates need half a second of observations behind them: 30 probes of 20 ms.
    await probesPass(30);
    const [snapshot] = await metrics.snapshot();
    expect(snapshot).toMatchObject({ pending: 0, active: 0, delayed: 0 });
    expect(snapshot?.arrivalRate).toBeGreaterThan(0);
    expect(snapshot?.completionRate).toBeGreaterThan(0);
    expect(snapshot?.sources.completionRate).toBe('observed');
    expect(snapshot?.serviceTimeMs?.mean).toBeGreaterThan(0);
    expect(snapshot?.sources.serviceTimeMs).toBe('observed');
    expect(snapshot?.pickupLatencyMs?.samples).toBe(1);
    expect(metrics.stats().probes.commands).toBeGreaterThan(0);
  });
});
