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
    await metrics.snapshot();
    const publishedAt = Date.now();
    await publishCelery(fixture.redis, prefix, 'tasks');
    await metrics.snapshot();
    await new Promise((resolve) => setTimeout(resolve, 800));
    const [snapshot] = await metrics.snapshot();
    expect(snapshot?.sources.oldestPendingAgeMs).toBe('estimate');
    expect(Math.abs((snapshot?.oldestPendingAgeMs ?? 0) - (Date.now() - publishedAt))).toBeLessThan(
      900,
    );
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
});
