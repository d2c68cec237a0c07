import { waitFor } from '@qscale/testkit';
import { describe, expect, it } from 'vitest';
import { redisFixture } from './helpers/setup.js';
import { pushSidekiq, scheduleSidekiq, sidekiqJob } from './helpers/sidekiq.js';

const fixture = redisFixture();

/** A process heartbeat with `jobs` in flight, as launcher.rb writes it. */
async function heartbeat(prefix: string, identity: string, jobs: Record<string, unknown>[]) {
  const redis = fixture.redis;
  await redis.sadd(`${prefix}processes`, identity);
  await redis.hset(`${prefix}${identity}`, { beat: Date.now() / 1000, busy: jobs.length });
  for (const [index, job] of jobs.entries()) {
    await redis.hset(
      `${prefix}${identity}:work`,
      `tid-${index}`,
      JSON.stringify({
        queue: job.queue,
        payload: JSON.stringify(job),
        run_at: Math.floor(Date.now() / 1000),
      }),
    );
  }
}

describe('Sidekiq', () => {
  it('counts each queue, its due scheduled jobs and its in-flight jobs, and reads Sidekiq 7 float-second ages', async () => {
    const prefix = fixture.prefix('sidekiq');
    const redis = fixture.redis;
    const fiveSecondsAgo = Date.now() - 5_000;
    for (let index = 0; index < 3; index++)
      await pushSidekiq(redis, prefix, 'mail', 7, fiveSecondsAgo);
    const beforeOther = Date.now();
    await pushSidekiq(redis, prefix, 'other', 7);
    await pushSidekiq(redis, prefix, 'other', 7);
    const dueAt = Date.now() - 8_000;
    await scheduleSidekiq(redis, prefix, 'mail', dueAt, 7);
    await scheduleSidekiq(redis, prefix, 'mail', Date.now() + 60_000, 7);
    await heartbeat(prefix, 'host:1:abc', [
      sidekiqJob('mail', 7),
      sidekiqJob('mail', 7),
      sidekiqJob('other', 7),
    ]);

    const [mail, other] = await fixture.reader('sidekiq', prefix, ['mail', 'other']).snapshot();
    // Ages as of the read, however long the writes and the read took (+1: float seconds).
    const afterRead = Date.now();
    // Two queues share the global `schedule`: delayed unknown. The processes' info is absent:
    // which threads serve which queue is unknown, so is active.
    expect(mail).toMatchObject({ pending: 4, active: null, delayed: null, backend: 'sidekiq' });
    // The due scheduled job has waited since its `at`, eight seconds ago.
    expect(mail?.oldestPendingAgeMs).toBeGreaterThanOrEqual(7_900);
    expect(mail?.oldestPendingAgeMs).toBeLessThanOrEqual(afterRead - dueAt + 1);
    expect(other).toMatchObject({ pending: 2, active: null });
    expect(other?.oldestPendingAgeMs).toBeLessThanOrEqual(afterRead - beforeOther + 1);
    expect(mail?.error).toBeUndefined();
  });

  it('reads Sidekiq 8 millisecond timestamps and the Pro paused set', async () => {
    const prefix = fixture.prefix('sidekiq');
    const enqueuedAt = Date.now() - 3_000;
    await pushSidekiq(fixture.redis, prefix, 'eight', 8, enqueuedAt);
    await fixture.redis.sadd(`${prefix}paused`, 'eight');
    const [snapshot] = await fixture.reader('sidekiq', prefix, ['eight']).snapshot();
    const afterRead = Date.now();
    expect(snapshot?.paused).toBe(true);
    expect(snapshot?.oldestPendingAgeMs).toBeGreaterThanOrEqual(2_950);
    expect(snapshot?.oldestPendingAgeMs).toBeLessThanOrEqual(afterRead - enqueuedAt);
  });

  it('gives garbage an error on its own queue: non-JSON, no enqueued_at, a hash for a list', async () => {
    const prefix = fixture.prefix('sidekiq');
    const redis = fixture.redis;
    await redis.lpush(`${prefix}queue:garbled`, '{"class":"Hard');
    const { enqueued_at: _e, created_at: _c, ...untimed } = sidekiqJob('untimed', 8);
    await redis.lpush(`${prefix}queue:untimed`, JSON.stringify(untimed));
    await redis.hset(`${prefix}queue:hashed`, 'a', '1');
    await pushSidekiq(redis, prefix, 'fine', 8);
    const [garbled, timeless, hashed, fine] = await fixture
      .reader('sidekiq', prefix, ['garbled', 'untimed', 'hashed', 'fine'])
      .snapshot();
    expect(garbled).toMatchObject({ pending: 1, oldestPendingAgeMs: null });
    expect(garbled?.error?.code).toBe('BAD_PAYLOAD');
    expect(timeless).toMatchObject({ pending: 1, oldestPendingAgeMs: null });
    expect(timeless?.error?.code).toBe('MISSING_TIMESTAMP');
    expect(hashed?.pending).toBeNull();
    expect(hashed?.error?.message).toContain(`${prefix}queue:hashed is a hash, expected a list`);
    expect(fine?.error).toBeUndefined();
    expect(fine?.pending).toBe(1);
  });

  it('reads the in-flight jobs of Sidekiq 6 from {identity}:workers under a redis-namespace', async () => {
    // Sidekiq 6.4 launcher.rb: `{identity}:workers`, tid -> {"queue","payload" (job JSON
    // string),"run_at" (integer seconds)}; info has concurrency and queues, no version.
    const namespace = fixture.prefix('sidekiq6').replace(/:$/, '');
    const prefix = `${namespace}:`;
    const redis = fixture.redis;
    const identity = 'web-1:4242:0a1b2c3d4e5f';
    await redis.sadd(`${prefix}processes`, identity);
    await redis.hset(`${prefix}${identity}`, {
      info: JSON.stringify({ hostname: 'web-1', pid: 4242, concurrency: 2, queues: ['mail'] }),
      busy: 2,
      beat: Date.now() / 1000,
    });
    for (const tid of ['ox1', 'ox2']) {
      await redis.hset(
        `${prefix}${identity}:workers`,
        tid,
        JSON.stringify({
          queue: 'mail',
          payload: JSON.stringify(sidekiqJob('mail', 7)),
          run_at: Math.floor(Date.now() / 1000),
        }),
      );
    }
    await pushSidekiq(redis, prefix, 'mail', 7);
    const reader = fixture.reader('sidekiq', prefix, ['mail']);
    // A job waits and both threads serve only `mail`: both are busy now.
    const [mail] = await reader.snapshot();
    expect(mail).toMatchObject({ pending: 1, active: 2, delayed: 0 });
    expect(mail?.sources.active).toBe('estimate');
    expect(mail?.error).toBeUndefined();
    // Nothing waits: the heartbeat's two jobs may have finished since. Unknown, not stale.
    await redis.del(`${prefix}queue:mail`);
    const [drained] = await reader.snapshot();
    expect(drained).toMatchObject({ pending: 0, active: null });
    // A quiet process (TSTP) stops fetching: a waiting job no longer proves its threads busy.
    await pushSidekiq(redis, prefix, 'mail', 7);
    await redis.hset(`${prefix}${identity}`, 'quiet', 'true');
    const [quiet] = await reader.snapshot();
    expect(quiet).toMatchObject({ pending: 1, active: null });
  });

  it("shares stat:processed among queues by the heartbeats' busy threads, times it by the beats, and gives the run time by Little's law", async () => {
    // Sidekiq 6 under a namespace: two processes serving high and default, beating every 5 s
    // (a clock the test drives): each beat flushes its jobs to stat:processed and rewrites
    // its jobs in flight. p1 (1 thread) runs a high job at each beat, p2 (2 threads) one high
    // and one default job; 10 jobs per 5 s in all.
    const prefix = `${fixture.prefix('sidekiq-group').replace(/:$/, '')}:`;
    const redis = fixture.redis;
    const startMs = Date.now() - 60_000;
    let nowMs = startMs;
    await redis.sadd(`${prefix}queues`, 'high', 'default');
    const processes = [
      { identity: 'web-1:1:aa', threads: 1, flushed: 4, running: ['high'] },
      { identity: 'web-1:2:bb', threads: 2, flushed: 6, running: ['high', 'default'] },
    ];
    const beat = async (atMs: number) => {
      for (const process of processes) {
        await redis.sadd(`${prefix}processes`, process.identity);
        await redis.incrby(`${prefix}stat:processed`, atMs === startMs ? 0 : process.flushed);
        await redis.hset(`${prefix}${process.identity}`, {
          info: JSON.stringify({
            concurrency: process.threads,
            queues: ['high', 'default'],
            started_at: startMs / 1000,
          }),
          beat: atMs / 1000,
        });
        await redis.del(`${prefix}${process.identity}:workers`);
        for (const [index, queue] of process.running.entries())
          await redis.hset(
            `${prefix}${process.identity}:workers`,
            `tid-${index}`,
            JSON.stringify({ queue, payload: JSON.stringify(sidekiqJob(queue, 7)), run_at: 0 }),
          );
      }
    };
    // Three busy heartbeats before a share: the first beat after the start has two.
    const reader = fixture.reader('sidekiq', prefix, ['high', 'default'], {
      minSamples: 3,
      now: () => nowMs,
    });
    const read = async (atMs: number) => {
      nowMs = atMs;
      return reader.snapshot();
    };
    await beat(startMs);
    await read(startMs + 1_000);
    await beat(startMs + 5_000);
    const [early, earlyDefault] = await read(startMs + 5_500);
    // Two heartbeats found jobs: which queue ran what is not known yet.
    expect(early).toMatchObject({ completionRate: null, serviceTimeMs: null });
    expect(earlyDefault).toMatchObject({ completionRate: null, serviceTimeMs: null });
    await beat(startMs + 10_000);
    const [high, low] = await read(startMs + 11_000);
    // 20 jobs in 10 s, high ran 2 of the 3 busy threads at every beat: the first 10 jobs,
    // counted before the share was known, are shared out with the rest.
    expect(high?.completionRate).toBeCloseTo(4 / 3, 3);
    expect(low?.completionRate).toBeCloseTo(2 / 3, 3);
    expect(high?.sources.completionRate).toBe('estimate');
    // 3 threads busy for 10 s, 20 jobs: 1.5 s each; the p95 of a log-normal with CV 1.
    expect(high?.serviceTimeMs).toEqual({ mean: 1_500, p95: 4_172 });
    expect(low?.serviceTimeMs).toEqual({ mean: 1_500, p95: 4_172 });
  });

  it('reads Sidekiq 7/8 process hashes: {identity}:work, concurrency beside info, capsules', async () => {
    // 7.3.9/8.1.7 launcher.rb: `{identity}:work`; the hash has `concurrency` and `info` lists
    // capsules with their queues.
    const prefix = fixture.prefix('sidekiq7');
    const redis = fixture.redis;
    const identity = 'web-2:77:aa11bb22cc33';
    await redis.sadd(`${prefix}processes`, identity);
    await redis.hset(`${prefix}${identity}`, {
      info: JSON.stringify({
        hostname: 'web-2',
        pid: 77,
        version: '8.1.7',
        queues: ['critical'],
        capsules: {
          default: {
            concurrency: 3,
            mode: 'strict',
            weights: { critical: 0 },
            queues: ['critical'],
          },
        },
      }),
      concurrency: 3,
      busy: 1,
      beat: Date.now() / 1000,
    });
    await redis.hset(
      `${prefix}${identity}:work`,
      'tid-9',
      JSON.stringify({
        queue: 'critical',
        payload: JSON.stringify(sidekiqJob('critical', 8)),
        run_at: Date.now(),
      }),
    );
    await pushSidekiq(redis, prefix, 'critical', 8);
    await redis.zadd(
      `${prefix}schedule`,
      Date.now() / 1000 + 600,
      JSON.stringify(sidekiqJob('critical', 8)),
    );
    const [critical] = await fixture.reader('sidekiq', prefix, ['critical']).snapshot();
    // The capsule's three threads, all busy while a job waits; the only queue owns `schedule`.
    expect(critical).toMatchObject({ pending: 1, active: 3, delayed: 1 });
    expect(critical?.error).toBeUndefined();
  });

  it('probes the tail between ticks: a pickup is timed to the probe, not to the tick', async () => {
    const prefix = fixture.prefix('sidekiq');
    const redis = fixture.redis;
    // A clock the test moves: each probe reads it, so the pickup's place is known exactly.
    let clock = 1_767_225_600_000;
    const reader = fixture.reader('sidekiq', prefix, ['probe'], { now: () => clock });
    await pushSidekiq(redis, prefix, 'probe', 8, clock - 5_000);
    await reader.snapshot();
    clock += 2_000;
    await reader.snapshot(); // a second tick arms the probe for twice the time between ticks
    clock += 500;
    const probesAt = async (count: number) =>
      waitFor(async () => reader.stats().probes.count >= count, {
        timeoutMs: 30_000,
        what: 'the tail probe',
      });
    let seen = reader.stats().probes.count;
    await probesAt(seen + 2); // one sent after the clock moved: the job still waits at + 500
    await redis.rpop(`${prefix}queue:probe`);
    clock += 100;
    seen = reader.stats().probes.count;
    await probesAt(seen + 2); // gone at + 600
    clock += 900;
    const [snapshot] = await reader.snapshot();
    // Taken between 2 500 and 2 600 ms after the second tick's start, enqueued 7 000 ms before
    // it: 7 000 + 550. A tick-only reader would place it a whole interval later.
    expect(snapshot?.pickupLatencyMs?.p50).toBeGreaterThanOrEqual(7_550 * 0.99);
    expect(snapshot?.pickupLatencyMs?.p50).toBeLessThanOrEqual(7_550 * 1.01);
    expect(reader.stats().probes.commands).toBeGreaterThanOrEqual(2);
  });

  it('leaves to the ticks a queue whose next job has waited over 20 s: the probe reads only the others', async () => {
    const prefix = fixture.prefix('sidekiq');
    const redis = fixture.redis;
    let clock = Date.now();
    await pushSidekiq(redis, prefix, 'stale', 8, clock - 60_000);
    await pushSidekiq(redis, prefix, 'fresh', 8, clock);
    const reader = fixture.reader('sidekiq', prefix, ['stale', 'fresh'], { now: () => clock });
    await reader.snapshot();
    clock += 2_000;
    await reader.snapshot(); // a tick 2 s later arms the probe (the clock then stands still)
    await waitFor(async () => reader.stats().probes.count >= 3, {
      timeoutMs: 20_000,
      what: 'three probes',
    });
    const { count: roundTrips, commands } = reader.stats().probes;
    // One LRANGE per probe: the fresh queue's.
    expect(commands).toBe(roundTrips);
  });
});
