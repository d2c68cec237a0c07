/**
 * Issue 12's case with a real Celery 5 worker (Debian's python3-celery, kombu's Redis
 * transport): 7 countdown tasks held by the worker, one long task running, 25 ready tasks.
 * Celery's default early ack and `acks_late` show different things in Redis; each is checked
 * against the raw keys once they reached that state (waited for, never slept).
 */
import { randomUUID } from 'node:crypto';
import { redisUrl, waitFor } from '@qscale/testkit';
import { describe, expect, it } from 'vitest';
import { createMetricsReader } from '../../src/index.js';
import {
  type CeleryJob,
  type CeleryRun,
  produceCelery,
  startCeleryWorker,
} from '../helpers/celery.js';
import { redisFixture } from '../helpers/setup.js';

const fixture = redisFixture();

// A real Celery worker on a loaded machine: it may take long to get there.
const patiently = { timeoutMs: 120_000, intervalMs: 100 };

const jobs = (count: number, extra: Partial<CeleryJob> = {}): CeleryJob[] =>
  Array.from({ length: count }, () => ({ offsetMs: 0, id: randomUUID(), ...extra }));

describe.each([
  { acksLate: false, label: 'early ack (Celery default)' },
  { acksLate: true, label: 'acks_late' },
])('Celery 5 worker, $label', ({ acksLate }) => {
  it('counts countdown tasks as delayed, ready ones as pending', async () => {
    const prefix = fixture.prefix('celery-real');
    const run: CeleryRun = { brokerUrl: redisUrl(), prefix, queue: 'tasks', acksLate };
    const truthKey = `${prefix}truth`;
    const worker = await startCeleryWorker(run);
    fixture.cleanups.push(() => worker.stop());
    const redis = fixture.redis;
    const held = () => redis.zcard(`${prefix}unacked_index`);

    await produceCelery(run, truthKey, 200, jobs(7, { countdownS: 600 }));
    await waitFor(async () => (await held()) === 7, {
      ...patiently,
      what: 'the worker to hold the 7 countdown tasks',
    });
    await produceCelery(run, truthKey, 200, jobs(1, { serviceMs: 600_000 }));
    // Early ack: the long task leaves `unacked` as it starts (and the worker reserves no
    // other yet: nothing is ready); acks_late: it stays there while it runs.
    await waitFor(
      async () => {
        const [listed, holding] = await Promise.all([redis.llen(`${prefix}tasks`), held()]);
        return listed === 0 && holding === (acksLate ? 8 : 7);
      },
      { ...patiently, what: 'the long task to be taken' },
    );
    await produceCelery(run, truthKey, 200, jobs(25));
    // With early ack the worker reserves one more message (its prefetch slot is free again).
    const reserved = acksLate ? 0 : 1;
    await waitFor(
      async () => {
        const [listed, holding] = await Promise.all([redis.llen(`${prefix}tasks`), held()]);
        return listed === 25 - reserved && holding === 7 + (acksLate ? 1 : reserved);
      },
      { ...patiently, what: 'the 25 ready tasks to be queued' },
    );

    const reader = createMetricsReader({
      sources: [
        {
          queue: 'tasks',
          driver: 'celery',
          backendName: 'tasks',
          prefix,
          redis: { url: redisUrl() },
          celery: { acksLate },
        },
      ],
    });
    fixture.cleanups.push(() => reader.close());
    const [snapshot] = await reader.snapshot();
    expect(snapshot?.error).toBeUndefined();
    expect(snapshot).toMatchObject({ pending: 25, delayed: 7, active: acksLate ? 1 : null });
    expect(snapshot?.sources.delayed).toBe('counter');
    // Nothing finished: the truth list is still empty (the long task still runs).
    expect(await redis.llen(truthKey)).toBe(0);
  }, 240_000);
});
