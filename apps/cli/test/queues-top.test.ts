import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { QueueSnapshot } from '@qscale/contracts';
import {
  connectRedis,
  deleteKeys,
  redisUrl,
  startPrivateRedis,
  uniquePrefix,
  waitFor,
} from '@qscale/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function start(
  args: string[],
  cwd: string,
): { child: ChildProcess; output: Run; done: Promise<Run> } {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '' },
  });
  const output: Run = { code: null, stdout: '', stderr: '' };
  child.stdout?.on('data', (chunk: Buffer) => {
    output.stdout += chunk;
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output.stderr += chunk;
  });
  const done = new Promise<Run>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      output.code = code;
      resolve(output);
    });
  });
  return { child, output, done };
}

/** Runs the built `qscale` binary as a user would. */
function qscale(args: string[], cwd: string): Promise<Run> {
  return start(args, cwd).done;
}

const redis = connectRedis();
let dir = '';
const prefixes: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qscale-queues-'));
});
afterEach(async () => {
  for (const prefix of prefixes.splice(0)) await deleteKeys(redis, `${prefix}*`);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await redis.quit();
});

/** Laravel 12 payloads pushed the way RedisQueue does (RPUSH to `queues:{name}`). */
async function laravelJobs(prefix: string, queue: string, count: number, ageMs = 0) {
  const createdAt = Math.floor((Date.now() - ageMs) / 1000);
  for (let index = 0; index < count; index++) {
    await redis.rpush(
      `${prefix}queues:${queue}`,
      JSON.stringify({ uuid: `u${index}`, id: `i${index}`, attempts: 0, createdAt, delay: null }),
    );
  }
}

function fixture(label: string): string {
  const prefix = uniquePrefix(label);
  prefixes.push(prefix);
  return prefix;
}

describe('qscale queues', () => {
  it('prints one snapshot per queue as JSON with --json', async () => {
    const prefix = fixture('cli-queues');
    await laravelJobs(prefix, 'emails', 3, 5_000);
    const run = await qscale(
      [
        'queues',
        '--redis',
        redisUrl(),
        '--driver',
        'laravel',
        '--prefix',
        prefix,
        '--queue',
        'emails',
        '--json',
        '--interval',
        '0s',
      ],
      dir,
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const [snapshot] = JSON.parse(run.stdout) as QueueSnapshot[];
    expect(snapshot).toMatchObject({
      queue: 'emails',
      backend: 'laravel',
      pending: 3,
      active: 0,
      delayed: 0,
    });
    expect(snapshot?.oldestPendingAgeMs).toBeGreaterThanOrEqual(4_000);
  });

  it('finds every queue of a driver when no --queue is given, and prints a table', async () => {
    const prefix = fixture('cli-queues');
    await laravelJobs(prefix, 'mail', 2);
    await laravelJobs(prefix, 'reports', 7);
    const run = await qscale(
      [
        'queues',
        '--redis',
        redisUrl(),
        '--driver',
        'laravel',
        '--prefix',
        prefix,
        '--interval',
        '100ms',
      ],
      dir,
    );
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines.find((text) => text.includes('backend'))).toMatch(
      /queue .*backend .*pending .*delayed .*active .*oldest .*arrival\/s .*done\/s .*p95 pickup/,
    );
    expect(lines.find((text) => text.includes(' mail '))).toMatch(/laravel .* 2 /);
    expect(lines.find((text) => text.includes(' reports '))).toMatch(/laravel .* 7 /);
  });

  it('reads the queues of a configuration file, and exits 1 naming a queue it could not read', async () => {
    const prefix = fixture('cli-queues');
    await laravelJobs(prefix, 'good', 1);
    await redis.hset(`${prefix}queues:broken`, 'not', 'a list');
    await writeFile(
      join(dir, 'qscale.yml'),
      [
        `redis: { url: "${redisUrl()}" }`,
        'defaults:',
        '  driver: laravel',
        `  prefix: "${prefix}"`,
        '  command: [php, artisan, queue:work]',
        'queues:',
        '  good: {}',
        '  broken: {}',
        '',
      ].join('\n'),
    );
    const run = await qscale(['queues', '--interval', '0s'], dir);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      `broken: WRONG_TYPE: ${prefix}queues:broken is a hash, expected a list`,
    );
    expect(run.stdout).toMatch(/ good .* 1 /);
    const one = await qscale(['queues', '--queue', 'good', '--json', '--interval', '0s'], dir);
    expect(one.code).toBe(0);
    expect((JSON.parse(one.stdout) as QueueSnapshot[]).map((snapshot) => snapshot.queue)).toEqual([
      'good',
    ]);
  });

  it.each([
    [['--redis', 'redis://127.0.0.1:6379'], '--driver is required with --redis'],
    [
      ['--redis', 'redis://x', '--driver', 'resque'],
      '--driver resque: expected one of laravel, bullmq, sidekiq, rq, celery',
    ],
    [
      ['--redis', 'http://x', '--driver', 'rq', '--queue', 'q'],
      'expected a redis://, rediss://, redis+unix:///path/to/socket or unix:///path/to/socket URL',
    ],
    [
      ['--config', 'a.yml', '--redis', 'redis://x', '--driver', 'rq'],
      'use either --config or --redis, not both',
    ],
    [['--driver', 'rq'], '--driver and --prefix go with --redis URL'],
    [['--interval', 'soon'], '--interval soon: expected a duration like 500ms, 2s, 1m, 1h'],
    [['--interval', '2'], '--interval 2: a duration needs its unit, e.g. --interval 2s'],
  ])('refuses %j with exit code 2', async (args, message) => {
    const run = await qscale(['queues', ...args], dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stderr).toContain('usage: qscale queues');
  });
});

describe('qscale top', () => {
  it('refreshes the table every interval and stops after --count refreshes', async () => {
    const prefix = fixture('cli-top');
    await laravelJobs(prefix, 'live', 4);
    const run = await qscale(
      [
        'top',
        '--redis',
        redisUrl(),
        '--driver',
        'laravel',
        '--prefix',
        prefix,
        '--queue',
        'live',
        '--interval',
        '200ms',
        '--count',
        '3',
      ],
      dir,
    );
    expect(run.code).toBe(0);
    expect(run.stdout.match(/^qscale top /gm)).toHaveLength(3);
    expect(run.stdout).toMatch(
      /queue .*pending .*active .*oldest .*arrival\/s .*done\/s .*p95 pickup/,
    );
    expect(run.stdout).toMatch(/ live .* 4 /);
  });

  it('prints one JSON array per refresh with --json', async () => {
    const prefix = fixture('cli-top');
    await laravelJobs(prefix, 'live', 1);
    const run = await qscale(
      [
        'top',
        '--redis',
        redisUrl(),
        '--driver',
        'laravel',
        '--prefix',
        prefix,
        '--queue',
        'live',
        '--interval',
        '100ms',
        '-n',
        '2',
        '--json',
      ],
      dir,
    );
    expect(run.code).toBe(0);
    const refreshes = run.stdout
      .trim()
      .split('\n')
      .map((text) => JSON.parse(text) as QueueSnapshot[]);
    expect(refreshes).toHaveLength(2);
    expect(refreshes[1]?.[0]?.pending).toBe(1);
  });

  it('exits 0 on Ctrl-C (SIGINT), closing its Redis connection', async () => {
    // A private server, so the only other client is this test's own.
    const server = await startPrivateRedis();
    const admin = connectRedis(server.url);
    try {
      const clients = async () =>
        ((await admin.client('LIST')) as string).trim().split('\n').length;
      const top = start(
        ['top', '--redis', server.url, '--driver', 'rq', '--queue', 'default', '--interval', '5s'],
        dir,
      );
      await waitFor(() => top.output.stdout.includes('qscale top'), { what: 'the first refresh' });
      expect(await clients()).toBe(2);
      top.child.kill('SIGINT');
      const run = await top.done;
      expect(run.code).toBe(0);
      expect(run.stderr).toBe('');
      await waitFor(async () => (await clients()) === 1, {
        what: 'the connection of top to close',
      });
    } finally {
      await admin.quit();
      await server.stop();
    }
  });
});
