import { describe, expect, it } from 'vitest';
import {
  celeryQueueOfBinding,
  classifyKeys,
  isInteresting,
  isLaravelPayload,
  laravelPrefixForHorizon,
} from './classify.js';

describe('classifyKeys', () => {
  it('reads each system prefix from the layout of its keys', () => {
    const { candidates, registries } = classifyKeys([
      'bull:emails:meta',
      'app:{cluster}:bull:reports:meta',
      'laravel_database_queues:default',
      'laravel_database_queues:default:notify',
      'laravel_database_queues:idle:delayed',
      'myapp-database-queues:{high}:reserved',
      'queues',
      'ns:queues',
      'rq:queues',
      'tenant:rq:queues',
      '_kombu.binding.celery',
      'p:_kombu.binding.reports',
      '_kombu.binding.celery.pidbox',
      '_kombu.binding.celeryev',
      'laravel_horizon:measured_queues',
    ]);
    expect(candidates.map(({ driver, prefix, name }) => [driver, prefix, name])).toEqual([
      ['bullmq', 'bull', 'emails'],
      ['bullmq', 'app:{cluster}:bull', 'reports'],
      ['laravel', 'laravel_database_', 'default'],
      ['laravel', 'laravel_database_', 'idle'],
      ['laravel', 'myapp-database-', '{high}'],
    ]);
    expect(registries.map(({ kind, prefix }) => [kind, prefix])).toEqual([
      ['sidekiq', ''],
      ['sidekiq', 'ns:'],
      ['rq', ''],
      ['rq', 'tenant:'],
      ['celery', ''],
      ['celery', 'p:'],
      ['horizon', 'laravel_horizon:'],
    ]);
  });

  it('leaves a BullMQ queue called "queues" to BullMQ, not Laravel', () => {
    const { candidates } = classifyKeys(['bull:queues:meta', 'bull:queues:wait']);
    expect(candidates.map((candidate) => candidate.driver)).toEqual(['bullmq']);
  });

  it('ignores keys no supported system writes', () => {
    for (const key of ['session:abc', 'cache:users:1', 'queue:default', 'stat:processed']) {
      expect(isInteresting(key)).toBe(false);
    }
  });
});

describe('layout details', () => {
  it('takes the queue from a kombu binding and drops Celery internals', () => {
    expect(celeryQueueOfBinding('reports\x06\x16\x06\x16reports')).toBe('reports');
    expect(celeryQueueOfBinding('x\x06\x16\x06\x16celery@host.celery.pidbox')).toBeNull();
    expect(celeryQueueOfBinding('garbage')).toBeNull();
  });

  it('recognises a Laravel payload and nothing else', () => {
    expect(
      isLaravelPayload('{"uuid":"u","displayName":"App\\\\Jobs\\\\X","job":"h","attempts":0}'),
    ).toBe(true);
    expect(isLaravelPayload('1')).toBe(false);
    expect(isLaravelPayload('{"jid":"x","class":"HardJob"}')).toBe(false);
    expect(isLaravelPayload('{broken')).toBe(false);
    expect(isLaravelPayload(null)).toBe(false);
  });

  it('pairs a Horizon prefix with its app database prefix, or derives it', () => {
    expect(laravelPrefixForHorizon('shop_horizon:', ['laravel_database_', 'shop_database_'])).toBe(
      'shop_database_',
    );
    expect(laravelPrefixForHorizon('shop_horizon:', ['shop-database-'])).toBe('shop-database-');
    expect(laravelPrefixForHorizon('shop_horizon:', [])).toBe('shop_database_');
  });
});
