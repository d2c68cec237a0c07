import {
  connectRedis,
  LaravelRedisQueue,
  redisUrl,
  startPrivateRedis,
  waitFor,
} from '@qscale/testkit';
import { describe, expect, it } from 'vitest';
import { createMetricsReader, type MetricsReader, type QueueSource } from '../src/index.js';
import { redisFixture } from './helpers/setup.js';

const fixture = redisFixture();
const { cleanups } = fixture;

function laravel(prefix: string, name: string, url = redisUrl()): QueueSource {
  return { queue: name, driver: 'laravel', backendName: name, prefix, redis: { url } };
}

function track(reader: MetricsReader): MetricsReader {
  cleanups.push(() => reader.close());
  return reader;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('setSources (a configuration reload)', () => {
  it('keeps the history of unchanged queues; a new queue starts from nothing', async () => {
    const prefix = fixture.prefix('set-sources');
    const emails = new LaravelRedisQueue(fixture.redis, { prefix, queue: 'emails' });
    const reports = new LaravelRedisQueue(fixture.redis, { prefix, queue: 'reports' });
    const reader = track(
      createMetricsReader({ sources: [laravel(prefix, 'emails')], minSamples: 1 }),
    );

    for (let index = 0; index < 3; index++) await emails.push();
    await reader.snapshot();
    await pause(150);
    for (let index = 0; index < 3; index++) await emails.pop();
    const [before] = await reader.snapshot();
    expect(before?.pickupLatencyMs?.samples).toBe(3);

    // Jobs reserved on `reports` before the reader knows it: they were not picked up "now".
    for (let index = 0; index < 2; index++) await reports.push();
    await reports.pop();
    await reports.pop();

    await reader.setSources([laravel(prefix, 'emails'), laravel(prefix, 'reports')]);
    const after = await reader.snapshot();
    expect(after.map((snapshot) => snapshot.queue)).toEqual(['emails', 'reports']);
    // A reader made anew would have no pickups for emails: the window survived.
    expect(after[0]?.pickupLatencyMs?.samples).toBe(3);
    expect(after[1]).toMatchObject({ queue: 'reports', active: 2, pending: 0 });
    expect(after[1]?.pickupLatencyMs ?? null).toBeNull();

    // Its next reads measure it like any other queue.
    await reports.push();
    await reader.snapshot();
    await reports.pop();
    const [, measured] = await reader.snapshot();
    expect(measured?.pickupLatencyMs?.samples).toBe(1);
  });

  it('refuses an invalid list with INVALID_OPTIONS and goes on reading the current one', async () => {
    const prefix = fixture.prefix('set-sources');
    const reader = track(createMetricsReader({ sources: [laravel(prefix, 'emails')] }));
    await new LaravelRedisQueue(fixture.redis, { prefix, queue: 'emails' }).push();

    const invalid = [laravel(prefix, 'emails'), { ...laravel(prefix, 'x'), driver: 'nope' }];
    await expect(reader.setSources(invalid as QueueSource[])).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
      message: expect.stringContaining('sources[1].driver'),
    });
    const duplicate = [laravel(prefix, 'emails'), laravel(prefix, 'emails')];
    await expect(reader.setSources(duplicate)).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });

    const snapshots = await reader.snapshot();
    expect(snapshots).toHaveLength(1);
    expect(snapshots[0]).toMatchObject({ queue: 'emails', pending: 1 });
  });

  it('closes the connection of a Redis no queue uses any more', async () => {
    const server = await startPrivateRedis();
    cleanups.push(() => server.stop());
    const prefix = fixture.prefix('set-sources');
    const probe = connectRedis(server.url);
    cleanups.push(() => probe.quit());
    const clients = async () => {
      const info = await probe.info('clients');
      return Number(/connected_clients:(\d+)/.exec(info)?.[1]);
    };

    const reader = track(
      createMetricsReader({
        sources: [laravel(prefix, 'emails'), laravel(prefix, 'private', server.url)],
      }),
    );
    await reader.snapshot();
    expect(await clients()).toBe(2); // the probe and the reader
    expect(reader.stats().last?.connections).toBe(2);

    await reader.setSources([laravel(prefix, 'emails')]);
    // The server notices the closed socket a moment later.
    await waitFor(async () => (await clients()) === 1, { what: 'the reader gone from the server' });
    const snapshots = await reader.snapshot();
    expect(snapshots.map((snapshot) => snapshot.queue)).toEqual(['emails']);
    expect(reader.stats().last?.connections).toBe(1);
  });
});
