import { describe, expect, it } from 'vitest';
import { CELERY_SEPARATOR, publishCelery } from './helpers/celery.js';
import { redisFixture } from './helpers/setup.js';

const fixture = redisFixture();

describe('Celery', () => {
  it('counts every priority list, and leaves in-flight and delayed unknown', async () => {
    const prefix = fixture.prefix('celery');
    for (let index = 0; index < 3; index++) await publishCelery(fixture.redis, prefix, 'tasks');
    await publishCelery(fixture.redis, prefix, 'tasks', 6);
    await publishCelery(fixture.redis, prefix, 'tasks', 9);
    const [snapshot] = await fixture.reader('celery', prefix, ['tasks']).snapshot();
    expect(snapshot).toMatchObject({ pending: 5, active: null, delayed: null, backend: 'celery' });
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
});
