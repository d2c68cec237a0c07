import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { secretsOf } from '../runtime/wiring.js';
import { createDaemonLogger } from './logging.js';

function capture(format: 'json' | 'pretty' | 'auto', isTTY = false) {
  const stream = Object.assign(new PassThrough(), { isTTY });
  let text = '';
  stream.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  const logger = createDaemonLogger({ level: 'info', format, destination: stream });
  return { logger, output: () => text };
}

describe('createDaemonLogger', () => {
  it('writes JSON lines with the message and structured fields', () => {
    const { logger, output } = capture('json');
    logger.info('scaled up', { queue: 'emails', from: 1, to: 3 });
    logger.debug('not at info level');
    const [line, ...rest] = output().trim().split('\n');
    expect(rest).toEqual([]);
    expect(JSON.parse(line ?? '')).toMatchObject({
      level: 30,
      msg: 'scaled up',
      queue: 'emails',
      from: 1,
      to: 3,
    });
  });

  it('never prints a secret: known values, secret-looking keys, URL credentials', () => {
    const { logger, output } = capture('json');
    logger.setSecrets(['hunter2-long-password', 'ab']);
    logger.warn('redis://app:hunter2-long-password@10.0.0.5:6379 refused', {
      url: 'rediss://default:other-secret@cache:6380/0',
      password: 'p@ss',
      nested: { apiKey: 'k-1', note: 'token hunter2-long-password in text' },
      error: new Error('AUTH hunter2-long-password failed'),
    });
    const text = output();
    expect(text).not.toMatch(/hunter2|other-secret|p@ss|k-1/);
    const entry = JSON.parse(text);
    expect(entry.msg).toBe('redis://app:[redacted]@10.0.0.5:6379 refused');
    expect(entry.url).toBe('rediss://default:[redacted]@cache:6380/0');
    expect(entry.password).toBe('[redacted]');
    expect(entry.nested).toEqual({ apiKey: '[redacted]', note: 'token [redacted] in text' });
    expect(entry.error).toEqual({ type: 'Error', message: 'AUTH [redacted] failed' });
  });

  it('redacts secrets only: queue names, worker names, hosts and plain settings stay readable', () => {
    const config = parseConfig(
      `
redis: { url: "redis://:r3dis-pass@127.0.0.1:6379" }
http: { token: a-long-enough-bearer-token }
queues:
  emails-high-priority:
    driver: bullmq
    command: [node, worker.js]
    env:
      REDIS_HOST: 127.0.0.1
      QUEUE_NAME: emails-high-priority
      WORKER_NAME: mailer-worker-01
      APP_ENV: production
      LOG_DIR: /var/log/mailer/workers
      QUEUE_KEY_PREFIX: bull-production
      AUTH_ENABLED: "true"
      DB_PASSWORD: p4ssw0rd-xyz
      STRIPE_SECRET_KEY: not-a-stripe-shape-but-secret
      SENTRY_DSN: https://0123abcd@o1.ingest.example.io/42
      DATABASE_URL: postgres://app:db-pass-123@db.internal:5432/app
`,
      { env: {} },
    );
    const { logger, output } = capture('json');
    logger.setSecrets(secretsOf(config));
    const ordinary =
      'queue emails-high-priority worker mailer-worker-01 on 127.0.0.1 (production, /var/log/mailer/workers, bull-production, true)';
    logger.info(ordinary, { queue: 'emails-high-priority', host: '127.0.0.1' });
    logger.warn(
      'worker said: p4ssw0rd-xyz not-a-stripe-shape-but-secret https://0123abcd@o1.ingest.example.io/42 db-pass-123 r3dis-pass a-long-enough-bearer-token',
    );
    const [info, warn] = output()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(info.msg).toBe(ordinary);
    expect(info).toMatchObject({ queue: 'emails-high-priority', host: '127.0.0.1' });
    expect(warn.msg).toBe(`worker said: ${Array(6).fill('[redacted]').join(' ')}`);
  });

  it('redacts common secret shapes nobody configured', () => {
    const { logger, output } = capture('json');
    const cases: [string, string][] = [
      ['Authorization: Bearer abc.def-ghi_jkl', 'Authorization: Bearer [redacted]'],
      ['authorization: bearer abc.def-ghi_jkl', 'authorization: bearer [redacted]'],
      ['token eyJhbGciOi.eyJzdWIiOiIx.sig-nature', 'token [redacted]'],
      ['key sk_live_4eC39HqLyjWDarjtT1zdp7dc', 'key [redacted]'],
      ['AKIAABCDEFGHIJKLMNOP ghp_abcdefghijklmnopqrstuvwxyz0123456789', '[redacted] [redacted]'],
      ['slack xoxb-1234567890-abcdefghij', 'slack [redacted]'],
      ['Authorization: Basic dXNlcjpzM2NyM3Q=', 'Authorization: Basic [redacted]'],
      ['basic authentication required', 'basic authentication required'],
      ['Bearer authentication failed', 'Bearer authentication failed'],
      [
        'job 42 of emails done in 15 ms on 127.0.0.1',
        'job 42 of emails done in 15 ms on 127.0.0.1',
      ],
    ];
    for (const [line] of cases) logger.info(line);
    const messages = output()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).msg);
    expect(messages).toEqual(cases.map(([, expected]) => expected));
  });

  it('stops writing, without throwing, once its destination fails (EPIPE)', async () => {
    const stream = Object.assign(new PassThrough(), { isTTY: false });
    const logger = createDaemonLogger({ level: 'info', format: 'json', destination: stream });
    logger.info('before');
    stream.destroy(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    await new Promise((resolve) => stream.once('close', resolve));
    expect(() => {
      logger.info('after');
      logger.flush();
    }).not.toThrow();
  });

  it('is human-readable on a TTY with format auto', () => {
    const { logger, output } = capture('auto', true);
    logger.info('daemon started', { queues: 2 });
    expect(output()).toMatch(/INFO.*daemon started/);
    expect(() => JSON.parse(output())).toThrow();
  });
});
