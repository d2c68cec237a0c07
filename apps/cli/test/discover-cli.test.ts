import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMAND_PLACEHOLDER, loadConfig } from '@qscale/daemon';
import {
  connectRedis,
  deleteKeys,
  freePort,
  LaravelRedisQueue,
  redisUrl,
  startPrivateRedis,
  uniquePrefix,
} from '@qscale/testkit';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initDiscover } from '../src/internal/discover/index.js';
import type { CliIo } from '../src/internal/io.js';
import { BIN, fillPlaceholders, run } from './helpers/discover.js';

let redis: Redis;
let dir: string;
const scopes: string[] = [];

beforeAll(async () => {
  redis = connectRedis();
  dir = await mkdtemp(join(tmpdir(), 'qscale-discover-'));
});
afterEach(async () => {
  for (const scope of scopes.splice(0)) await deleteKeys(redis, `${scope}*`);
});
afterAll(async () => {
  await redis.quit();
  await rm(dir, { recursive: true, force: true });
});

function newScope(): string {
  const scope = uniquePrefix('discover-cli');
  scopes.push(scope);
  return scope;
}

/** An in-process command line: what it printed, and its exit code. */
function capture(): CliIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text) },
    env: {},
    out: () => out,
    err: () => err,
  };
}

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

describe('qscale init --discover', () => {
  it('writes a config that passes validate --schema-only once filled in, and refuses it before (end to end)', async () => {
    const scope = newScope();
    await new LaravelRedisQueue(redis, {
      prefix: `${scope}laravel_database_`,
      queue: 'invoices',
    }).push();
    const file = join(dir, 'e2e.yml');
    const env = { PATH: process.env.PATH ?? '' };
    const init = await run(
      process.execPath,
      [
        BIN,
        'init',
        '--discover',
        '--redis',
        redisUrl(),
        '--prefix',
        scope,
        '--measure',
        '1s',
        '--config',
        file,
      ],
      env,
    );
    expect(init.stderr).toBe('');
    expect(init.code).toBe(0);
    expect(init.stdout).toContain(`found 1 queue on 127.0.0.1:6379 (db 0) under "${scope}"`);
    expect(init.stdout).toContain(`wrote ${file}`);

    const refused = await run(
      process.execPath,
      [BIN, 'validate', '--config', file, '--schema-only'],
      env,
    );
    expect(refused.code).toBe(1);
    expect(refused.stdout + refused.stderr).toContain(
      `queues.invoices.command: still holds the placeholder ${COMMAND_PLACEHOLDER}: fill in`,
    );

    await writeFile(file, fillPlaceholders(await readFile(file, 'utf8')));
    const valid = await run(
      process.execPath,
      [BIN, 'validate', '--config', file, '--schema-only'],
      env,
    );
    expect(valid.stdout + valid.stderr).toContain('invoices');
    expect(valid.code).toBe(0);
    // Three CLI starts: slow on a busy machine until commands load lazily.
  }, 180_000);

  it('never writes or prints the password: the config reads it from REDIS_PASSWORD', async () => {
    const secret = 'pw-that-must-not-leak-42';
    const server = await startPrivateRedis(['--requirepass', secret]);
    try {
      const url = `redis://:${secret}@127.0.0.1:${server.port}/3`;
      const setup = connectRedis(url);
      await new LaravelRedisQueue(setup, { queue: 'default' }).push();
      await setup.quit();
      const file = join(dir, 'secret.yml');
      const io = capture();
      const options = { redis: url, measureMs: 0, scope: '', file, force: false };
      expect(await initDiscover(options, io)).toBe(0);

      const text = await readFile(file, 'utf8');
      for (const output of [text, io.out(), io.err()]) expect(output).not.toContain(secret);
      expect(text).toContain(`url: "redis://127.0.0.1:${server.port}/3"`);
      expect(text).toContain('password: "${REDIS_PASSWORD}"');
      expect(io.out()).toContain('set REDIS_PASSWORD where qscaled runs');

      await writeFile(file, fillPlaceholders(text));
      const config = await loadConfig(file, { env: { REDIS_PASSWORD: secret } });
      expect(config.redis).toMatchObject({ password: secret, db: null });
      expect(config.queues.map((queue) => queue.name)).toEqual(['default']);

      // A wrong password: refused, named by address, never echoed.
      const wrong = capture();
      const badUrl = `redis://:not-${secret}@127.0.0.1:${server.port}`;
      const code = await initDiscover({ ...options, redis: badUrl, force: true }, wrong);
      expect(code).toBe(1);
      expect(wrong.err()).toContain(`cannot use Redis at 127.0.0.1:${server.port} (db 0)`);
      expect(wrong.err() + wrong.out()).not.toContain(secret);
    } finally {
      await server.stop();
    }
  }, 60_000);

  it('names the address of an unreachable Redis, without its password, and writes nothing', async () => {
    const port = await freePort();
    const file = join(dir, 'unreachable.yml');
    const io = capture();
    const options = {
      redis: `redis://:hunter2-secret@127.0.0.1:${port}`,
      measureMs: 10_000,
      scope: '',
      file,
      force: false,
    };
    expect(await initDiscover(options, io)).toBe(1);
    expect(io.err()).toMatch(
      new RegExp(
        `^qscale init: cannot use Redis at 127\\.0\\.0\\.1:${port} \\(db 0\\): .*ECONNREFUSED`,
      ),
    );
    expect(io.err()).not.toContain('hunter2');
    expect(await exists(file)).toBe(false);
  });

  it('says so, exits 1 and writes nothing when there is no queue', async () => {
    const scope = newScope();
    await redis.set(`${scope}session:1`, 'not a queue');
    const file = join(dir, 'empty.yml');
    const io = capture();
    const options = { redis: redisUrl(), measureMs: 10_000, scope, file, force: false };
    expect(await initDiscover(options, io)).toBe(1);
    expect(io.err()).toBe(
      `qscale init: no queues found on Redis at 127.0.0.1:6379 (db 0) under "${scope}" (1 keys looked at, for Laravel, Horizon, BullMQ, Sidekiq, RQ and Celery layouts); nothing written\n`,
    );
    expect(await exists(file)).toBe(false);
  });

  it('refuses to overwrite a file without --force, before watching anything', async () => {
    const file = join(dir, 'existing.yml');
    await writeFile(file, 'mine\n');
    const io = capture();
    const options = {
      redis: redisUrl(),
      measureMs: 600_000,
      scope: newScope(),
      file,
      force: false,
    };
    expect(await initDiscover(options, io)).toBe(1);
    expect(io.err()).toBe(`qscale init: ${file} already exists; pass --force to overwrite it\n`);
    expect(await readFile(file, 'utf8')).toBe('mine\n');
  });
});
