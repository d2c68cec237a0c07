import { describe, expect, it } from 'vitest';
import { CELERY_SEPARATOR, publishCelery } from './helpers/celery.js';
import { redisFixture } from './helpers/setup.js';

const fixture = redisFixture();

describe('Celery', () => {
  it('counts every priority list; with early ack (the default) in-flight is unknown', async () => {
    const prefix = fixture.prefix('celery');
    for (let index = 0; index < 3; index++) await publishCelery(fixture.redis, prefix, 'tasks');
    await publishCelery(fixture.redis, prefix, 'tasks', 6);
    await publishCelery(fixture.redis, prefix, 'tasks', 9);
    const [snapshot] = await fixture.reader('celery', prefix, ['tasks']).snapshot();
    expect(snapshot).toMatchObject({ pending: 5, active: null, delayed: 0, backend: 'celery' });
    expect(snapshot?.sources.pending).toBe('counter');
    expect(snapshot?.error).toBeUndefined();
  });

  it('ages a message it saw arrive, as an estimate within one read', async () => {
    const prefix = fixture.prefix('celery');
    const metrics = fixture.reader('celery', prefix, ['tasks']);
    const beforeLastEmpty = Date.now();
    await metrics.snapshot();
    await publishCelery(fixture.redis, prefix, 'tasks');
    await metrics.snapshot();
    const afterSeen = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 800));
    const beforeRead = Date.now();
    const [snapshot] = await metrics.snapshot();
    const afterRead = Date.now();
    expect(snapshot?.sources.oldestPendingAgeMs).toBe('estimate');
    // Placed between the read that saw no message and the one that saw it: however long
    // those reads took on a busy machine, the age is within them.
    expect(snapshot?.oldestPendingAgeMs).toBeGreaterThanOrEqual(beforeRead - afterSeen);
    expect(snapshot?.oldestPendingAgeMs).toBeLessThanOrEqual(afterRead - beforeLastEmpty);
  });

  it('flags a message that is not JSON and a queue key of the wrong type', async () => {
    const prefix = fixture.prefix('celery');
    await fixture.redis.lpush(`${prefix}garbled`, '\x80\x04\x95pickle');
    await fixture.redis.zadd(`${prefix}sorted${CELERY_SEPARATOR}6`, 1, 'x');
    const [garbled, sorted] = await fixture
      .reader('celery', prefix, ['garbled', 'sorted'])
      .snapshot();
    expect(garbled?.pending).toBe(1);
    expect(garbled?.error?.code).toBe('BAD_PAYLOAD');
    expect(sorted?.pending).toBeNull();
    expect(sorted?.error?.message).toContain('is a sorted set, expected a list');
  });

  it('counts arrivals from pops plus growth, on the plain list and the priority lists', async () => {
    const prefix = fixture.prefix('celery');
    for (let index = 0; index < 10; index++) await publishCelery(fixture.redis, prefix, 'tasks');
    const metrics = fixture.reader('celery', prefix, ['tasks']);
    await metrics.snapshot();
    // A worker takes 4 from the tail (kombu's BRPOP); 6 more arrive, and 2 at priority 6.
    for (let index = 0; index < 4; index++) await fixture.redis.rpop(`${prefix}tasks`);
    for (let index = 0; index < 6; index++) await publishCelery(fixture.redis, prefix, 'tasks');
    for (let index = 0; index < 2; index++) await publishCelery(fixture.redis, prefix, 'tasks', 6);
    // A rate needs 500 ms of known intervals (windows.ts): read until the reader reports one.
    // Later reads see no change, so arrivals and completions stay in the same proportion.
    let [snapshot] = await metrics.snapshot();
    expect(snapshot?.error).toBeUndefined();
    while (snapshot?.completionRate === null) {
      [snapshot] = await metrics.snapshot();
      expect(snapshot?.error).toBeUndefined();
    }
    expect(snapshot?.pending).toBe(14);
    // Over the same interval: 14 - 10 + 4 = 8 arrivals and 4 completions.
    expect(snapshot?.completionRate).toBeGreaterThan(0);
    expect((snapshot?.arrivalRate ?? 0) / (snapshot?.completionRate ?? 1)).toBeCloseTo(2, 2);
    // A read that cannot count every list gives no rates rather than wrong ones.
    await fixture.redis.del(`${prefix}tasks${CELERY_SEPARATOR}9`);
    await fixture.redis.zadd(`${prefix}tasks${CELERY_SEPARATOR}9`, 1, 'x');
    const [broken] = await metrics.snapshot();
    expect(broken?.pending).toBeNull();
    await fixture.redis.del(`${prefix}tasks${CELERY_SEPARATOR}9`);
    await fixture.redis.rpop(`${prefix}tasks`);
    const [after] = await metrics.snapshot();
    expect(after?.pending).toBe(13);
  });

  it('ages a priority list from when its oldest message was first seen there', async () => {
    const prefix = fixture.prefix('celery');
    const metrics = fixture.reader('celery', prefix, ['tasks']);
    await publishCelery(fixture.redis, prefix, 'tasks', 6);
    // The first read learns the list holds jobs; the second sees its oldest (no age yet).
    await metrics.snapshot();
    const beforeSeen = Date.now();
    const [seen] = await metrics.snapshot();
    const afterSeen = Date.now();
    expect(seen).toMatchObject({ pending: 1, oldestPendingAgeMs: null });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const beforeAged = Date.now();
    const [aged] = await metrics.snapshot();
    const afterAged = Date.now();
    expect(aged?.sources.oldestPendingAgeMs).toBe('estimate');
    expect(aged?.oldestPendingAgeMs).toBeGreaterThanOrEqual(beforeAged - afterSeen);
    expect(aged?.oldestPendingAgeMs).toBeLessThanOrEqual(afterAged - beforeSeen);
    // A new oldest (the first was taken) is first seen again; an emptied list is forgotten.
    await fixture.redis.rpop(`${prefix}tasks${CELERY_SEPARATOR}6`);
    await publishCelery(fixture.redis, prefix, 'tasks', 6);
    expect((await metrics.snapshot())[0]?.oldestPendingAgeMs).toBeNull();
    await fixture.redis.rpop(`${prefix}tasks${CELERY_SEPARATOR}6`);
    expect((await metrics.snapshot())[0]).toMatchObject({ pending: 0, oldestPendingAgeMs: 0 });
  });

  it('ages the queue from the priority list whose oldest message was seen first', async () => {
    const prefix = fixture.prefix('celery');
    const metrics = fixture.reader('celery', prefix, ['tasks']);
    await publishCelery(fixture.redis, prefix, 'tasks', 3);
    await metrics.snapshot();
    const beforeFirst = Date.now();
    await metrics.snapshot();
    const afterFirst = Date.now();
    // Step 3's oldest is first seen by the second read, step 9's by the fourth, 300 ms later.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await publishCelery(fixture.redis, prefix, 'tasks', 9);
    await metrics.snapshot();
    await metrics.snapshot();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const afterNewer = Date.now();
    const [snapshot] = await metrics.snapshot();
    const afterLast = Date.now();
    // The time since step 3's was seen (in the read ending at `afterFirst`): not since step 9's.
    expect(snapshot?.oldestPendingAgeMs).toBeGreaterThanOrEqual(afterNewer - afterFirst);
    expect(snapshot?.oldestPendingAgeMs).toBeLessThanOrEqual(afterLast - beforeFirst);
  });

  it('counts nothing held when unacked_index holds more than maxJobsPerTick deliveries', async () => {
    const prefix = fixture.prefix('celery');
    await publishCelery(fixture.redis, prefix, 'tasks');
    const now = Date.now() / 1000;
    await fixture.redis.zadd(`${prefix}unacked_index`, now, 't1', now, 't2', now, 't3');
    const [over] = await fixture
      .reader('celery', prefix, ['tasks'], { maxJobsPerTick: 2 })
      .snapshot();
    expect(over).toMatchObject({ pending: null, delayed: null });
    expect(over?.error?.message).toContain(
      `${prefix}unacked_index holds more than maxJobsPerTick (2) deliveries`,
    );
    // At the limit, the deliveries are read (here acked before their HGET: none held).
    await fixture.redis.zrem(`${prefix}unacked_index`, 't3');
    const [within] = await fixture
      .reader('celery', prefix, ['tasks'], { maxJobsPerTick: 2 })
      .snapshot();
    expect(within).toMatchObject({ pending: 1, delayed: 0 });
  });

  it('names a delivery whose unacked_index score is no time', async () => {
    const prefix = fixture.prefix('celery');
    await fixture.redis.zadd(`${prefix}unacked_index`, '+inf', 'tag-1');
    const [snapshot] = await fixture.reader('celery', prefix, ['tasks']).snapshot();
    expect(snapshot?.error?.code).toBe('BAD_PAYLOAD');
    expect(snapshot?.error?.message).toBe(
      `${prefix}unacked_index has score a string of 3 bytes for tag-1, expected a time`,
    );
  });
});
