/**
 * The Celery probe's scheduling (celery-probe.ts): a failed probe is retried without a
 * snapshot, probing stops when nobody reads for 10 minutes or the queue is dropped, and a
 * snapshot starts it again. Absence is checked against another reader's probes as the clock:
 * a stopped probe must not count while that one counts 20.
 */
import { redisUrl, waitFor } from '@qscale/testkit';
import { describe, expect, it } from 'vitest';
import { createMetricsReader, type MetricsReader } from '../src/index.js';
import { CELERY_SEPARATOR, publishCelery } from './helpers/celery.js';
import { redisFixture } from './helpers/setup.js';

const fixture = redisFixture();

function source(prefix: string, queue: string) {
  return {
    queue,
    driver: 'celery' as const,
    backendName: queue,
    prefix,
    redis: { url: redisUrl() },
    celery: { acksLate: true, probeIntervalMs: 20 },
  };
}

function probing(prefix: string, queues: string[], now?: () => number): MetricsReader {
  const reader = createMetricsReader({
    sources: queues.map((queue) => source(prefix, queue)),
    minSamples: 1,
    ...(now ? { now } : {}),
  });
  fixture.cleanups.push(() => reader.close());
  return reader;
}

async function probesPass(reader: MetricsReader, count: number, what: string): Promise<void> {
  const target = reader.stats().probes.count + count;
  await waitFor(() => reader.stats().probes.count >= target, {
    timeoutMs: 60_000,
    intervalMs: 20,
    what: `${count} more probes of ${what}`,
  });
}

/** Asserts `reader` does not probe while `clock` probes 20 times (after 3 to settle). */
async function expectStill(reader: MetricsReader, clock: MetricsReader): Promise<void> {
  await probesPass(clock, 3, 'the clock reader');
  const before = reader.stats().probes.count;
  await probesPass(clock, 20, 'the clock reader');
  expect(reader.stats().probes.count).toBe(before);
}

describe('Celery probe scheduling', () => {
  it('retries a failed probe on its own, without waiting for a snapshot', async () => {
    const prefix = fixture.prefix('celery-probe');
    const reader = probing(prefix, ['tasks']);
    const clock = probing(prefix, ['clock']);
    await clock.snapshot();
    await reader.snapshot();
    await probesPass(reader, 2, 'the reader');
    // A priority list of the wrong type: every probe fails (no count) until it is a list again.
    const broken = `${prefix}tasks${CELERY_SEPARATOR}3`;
    await fixture.redis.set(broken, 'x');
    await expectStill(reader, clock);
    await fixture.redis.del(broken);
    await publishCelery(fixture.redis, prefix, 'tasks', 3);
    await probesPass(reader, 3, 'the reader after the repair');
  });

  it('stops when no snapshot came for 10 minutes, and starts again at the next', async () => {
    const prefix = fixture.prefix('celery-probe');
    let offsetMs = 0;
    const reader = probing(prefix, ['tasks'], () => Date.now() + offsetMs);
    const clock = probing(prefix, ['clock']);
    await clock.snapshot();
    await reader.snapshot();
    await probesPass(reader, 2, 'the reader');
    offsetMs = 10 * 60_000 + 1_000;
    await expectStill(reader, clock);
    await reader.snapshot();
    await probesPass(reader, 2, 'the reader after a snapshot');
  });

  it('stops for a queue that was dropped, and probes the ones kept', async () => {
    const prefix = fixture.prefix('celery-probe');
    const reader = probing(prefix, ['tasks']);
    const clock = probing(prefix, ['clock']);
    await clock.snapshot();
    await reader.snapshot();
    await probesPass(reader, 2, 'the reader');
    await reader.setSources([]);
    await expectStill(reader, clock);
  });

  it('counts what its probes cost: every command sent and the bytes received', async () => {
    const prefix = fixture.prefix('celery-probe');
    const reader = probing(prefix, ['tasks']);
    await reader.snapshot();
    await probesPass(reader, 5, 'the reader');
    const { probes } = reader.stats();
    // Four LLENs (each priority step), the unacked_index ZRANGE and TIME per probe.
    expect(probes.commands).toBeGreaterThanOrEqual(6 * probes.count);
    expect(probes.receivedBytes).toBeGreaterThan(0);
  });
});
