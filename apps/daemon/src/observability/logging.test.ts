import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
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
    expect(entry.msg).toBe('redis://app:***@10.0.0.5:6379 refused');
    expect(entry.url).toBe('rediss://default:***@cache:6380/0');
    expect(entry.password).toBe('[redacted]');
    expect(entry.nested).toEqual({ apiKey: '[redacted]', note: 'token [redacted] in text' });
    expect(entry.error).toEqual({ type: 'Error', message: 'AUTH [redacted] failed' });
  });

  it('is human-readable on a TTY with format auto', () => {
    const { logger, output } = capture('auto', true);
    logger.info('daemon started', { queues: 2 });
    expect(output()).toMatch(/INFO.*daemon started/);
    expect(() => JSON.parse(output())).toThrow();
  });
});
