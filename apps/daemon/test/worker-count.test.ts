import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '@qscale/contracts';
import { createMetricsReader } from '@qscale/metrics-reader';
import { connectRedis, deleteKeys, redisUrl, startPrivateRedis, waitFor } from '@qscale/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { QueueConfig } from '../src/config/schema.js';
import { parseConfig } from '../src/index.js';
import { readerSource, readerSources } from '../src/runtime/wiring.js';
import { createWorkerCounter, observedWorkers } from '../src/scaler/worker-count.js';

// Scaler mode counts workers that run elsewhere from the queue system's own registry: real
// Sidekiq 6 processes and real RQ workers here (BullMQ: test/../cli/test/scaler.test.ts).

const SIDEKIQ_APP = fileURLToPath(new URL('./fixtures/sidekiq-app.rb', import.meta.url));
const PYTHON = '/usr/bin/python3';

function queuesOf(yaml: string) {
  return parseConfig(`redis: { url: "${redisUrl()}" }\ndefaults: { command: [worker] }\n${yaml}`, {
    env: {},
  }).queues;
}

describe('counting workers from the backend', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  const started: ChildProcess[] = [];
  afterEach(async () => {
    for (const child of started.splice(0)) child.kill('SIGKILL');
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });

  /** A counter over a metrics reader of `queues`, as the daemon builds it. */
  const counterOf = (queues: readonly QueueConfig[], logger: Logger = console) => {
    // The reader logs its own connection problems: only the counter's warnings go to `logger`.
    const reader = createMetricsReader({ sources: queues.map(readerSource) });
    cleanups.push(() => reader.close());
    return createWorkerCounter({ logger, reader });
  };

  const startProcess = (command: string, args: string[], env: Record<string, string>) => {
    const child = spawn(command, args, {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.push(child);
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk;
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    return { child, exited, output: () => output };
  };

  it('Sidekiq: live processes serving the queue, from <namespace>:processes', async () => {
    const namespace = `qscale-test-sk-${randomUUID().slice(0, 8)}`;
    const redis = connectRedis();
    cleanups.push(async () => {
      await deleteKeys(redis, `${namespace}:*`);
      await redis.quit();
    });
    const sidekiq = (queue: string) =>
      startProcess('sidekiq', ['-r', SIDEKIQ_APP, '-q', queue, '-c', '1'], {
        REDIS_URL: redisUrl(),
        SIDEKIQ_NAMESPACE: namespace,
      });
    const first = sidekiq('mail');
    sidekiq('mail');
    sidekiq('other');
    const [mail, other] = queuesOf(`queues:
  mail: { driver: sidekiq, prefix: "${namespace}:" }
  other: { driver: sidekiq, prefix: "${namespace}:" }`);
    if (!mail || !other) throw new Error('two queues expected');
    const counter = counterOf([mail, other]);
    // Each process registers itself at its first heartbeat.
    await waitFor(async () => (await redis.scard(`${namespace}:processes`)) === 3, {
      timeoutMs: 90_000,
      intervalMs: 200,
      what: 'three Sidekiq processes registered',
    });
    const counts = await counter.count([mail, other]);
    expect(counts.get('mail')).toEqual({ registered: 2, source: 'sidekiq-processes' });
    expect(counts.get('other')).toEqual({ registered: 1, source: 'sidekiq-processes' });

    // A process that stops unregisters: one left on mail.
    first.child.kill('SIGTERM');
    await first.exited;
    await waitFor(async () => (await counter.count([mail])).get('mail')?.registered === 1, {
      timeoutMs: 30_000,
      what: 'the stopped Sidekiq process gone from the count',
    });
  }, 150_000);

  it('Sidekiq worker group: each process serving any member counted once, not once per member queue', async () => {
    const namespace = `qscale-test-skg-${randomUUID().slice(0, 8)}`;
    const redis = connectRedis();
    cleanups.push(async () => {
      await deleteKeys(redis, `${namespace}:*`);
      await redis.quit();
    });
    const sidekiq = (...queues: string[]) =>
      startProcess('sidekiq', ['-r', SIDEKIQ_APP, ...queues.flatMap((q) => ['-q', q]), '-c', '1'], {
        REDIS_URL: redisUrl(),
        SIDEKIQ_NAMESPACE: namespace,
      });
    // Two pods of the group (weighted, as `sidekiq -q high,3 -q default,1`), one of another queue.
    sidekiq('high,3', 'default,1');
    sidekiq('high,3', 'default,1');
    sidekiq('other');
    const queues = parseConfig(
      `redis: { url: "${redisUrl()}" }
queues:
  high: { driver: sidekiq, prefix: "${namespace}:" }
  default: { driver: sidekiq, prefix: "${namespace}:" }
  other: { driver: sidekiq, prefix: "${namespace}:", command: [worker] }
groups:
  web: { queues: [high, default], command: [worker], weights: { high: 3 } }`,
      { env: {} },
    ).queues;
    const reader = createMetricsReader({ sources: queues.flatMap(readerSources) });
    cleanups.push(() => reader.close());
    const counter = createWorkerCounter({ logger: console, reader });
    await waitFor(async () => (await redis.scard(`${namespace}:processes`)) === 3, {
      timeoutMs: 90_000,
      intervalMs: 200,
      what: 'three Sidekiq processes registered',
    });
    // Each member queue alone shows both pods: summing the members would say four.
    const members = await reader.workerCounts(['high', 'default']);
    expect(members.map((count) => [count.queue, count.workers])).toEqual([
      ['high', 2],
      ['default', 2],
    ]);
    const counts = await counter.count(queues);
    expect(counts.get('web')).toEqual({ registered: 2, source: 'sidekiq-processes' });
    expect(counts.get('other')).toEqual({ registered: 1, source: 'sidekiq-processes' });
  }, 150_000);

  it('RQ: live workers of rq:workers:<queue>', async () => {
    const queue = `qscale-test-rq-${randomUUID().slice(0, 8)}`;
    const redis = connectRedis();
    const names = [`${queue}-a`, `${queue}-b`];
    cleanups.push(async () => {
      await deleteKeys(redis, `rq:worker:${queue}*`);
      await redis.del(`rq:workers:${queue}`, `rq:queue:${queue}`);
      await redis.srem('rq:workers', ...names.map((name) => `rq:worker:${name}`));
      await redis.srem('rq:queues', `rq:queue:${queue}`);
      await redis.quit();
    });
    const workers = names.map((name) =>
      startProcess(PYTHON, ['-m', 'rq.cli', 'worker', '--url', redisUrl(), '--name', name, queue], {
        PYTHONDONTWRITEBYTECODE: '1',
      }),
    );
    // RQ's ready line: registered, its signal handlers installed, waiting for jobs.
    for (const worker of workers) {
      await waitFor(() => worker.output().includes(`*** Listening on ${queue}`), {
        timeoutMs: 60_000,
        what: 'an RQ worker listening',
      });
    }
    const [source] = queuesOf(`queues:\n  jobs: { driver: rq, name: "${queue}" }`);
    if (!source) throw new Error('one queue expected');
    const counter = counterOf([source]);
    await waitFor(async () => (await counter.count([source])).get('jobs')?.registered === 2, {
      timeoutMs: 60_000,
      intervalMs: 200,
      what: 'two RQ workers counted',
    });
    expect((await counter.count([source])).get('jobs')?.source).toBe('rq-workers');
    workers[0]?.child.kill('SIGTERM');
    await workers[0]?.exited;
    expect((await counter.count([source])).get('jobs')).toEqual({
      registered: 1,
      source: 'rq-workers',
    });
  }, 120_000);

  it('Laravel has no registry, and a Redis that cannot be read falls back to the decision, saying why', async () => {
    const [laravel] = queuesOf('queues:\n  jobs: { driver: laravel }');
    const [unreachable] = parseConfig(
      'queues:\n  mail: { driver: bullmq, command: [w], redis: { url: "redis://127.0.0.1:1" } }',
      { env: {} },
    ).queues;
    if (!laravel || !unreachable) throw new Error('queues expected');
    const warnings: string[] = [];
    const counter = counterOf([laravel, unreachable], {
      ...console,
      warn: (message: string) => warnings.push(message),
    });
    const counts = await counter.count([laravel, unreachable]);
    expect(counts.get('jobs')).toEqual({ registered: null, source: 'decision' });
    expect(counts.get('mail')?.source).toBe('decision');
    expect(counts.get('mail')?.note).toMatch(/^the worker registry cannot be read: /);
    expect(warnings).toEqual(['cannot count the workers; using the last decision']);
  }, 30_000);

  it("RQ behind a Unix socket: counted over the reader's connection (redis+unix://)", async () => {
    const server = await startPrivateRedis([
      '--unixsocket',
      'redis.sock',
      '--unixsocketperm',
      '700',
    ]);
    cleanups.push(() => server.stop());
    const socket = join(server.dir ?? '', 'redis.sock');
    const queue = `qscale-test-unix-${randomUUID().slice(0, 8)}`;
    const worker = startProcess(
      PYTHON,
      ['-m', 'rq.cli', 'worker', '--url', `unix://${socket}`, '--name', `${queue}-a`, queue],
      { PYTHONDONTWRITEBYTECODE: '1' },
    );
    await waitFor(() => worker.output().includes(`*** Listening on ${queue}`), {
      timeoutMs: 60_000,
      what: `an RQ worker listening on the Unix socket:\n${worker.output()}`,
    });
    const [source] = parseConfig(
      `redis: { url: "redis+unix://${socket}" }\nqueues:\n  jobs: { driver: rq, name: "${queue}", command: [w] }`,
      { env: {} },
    ).queues;
    if (!source) throw new Error('one queue expected');
    const counter = counterOf([source]);
    await waitFor(async () => (await counter.count([source])).get('jobs')?.registered === 1, {
      timeoutMs: 30_000,
      intervalMs: 200,
      what: 'the RQ worker counted through the Unix socket',
    });
    expect((await counter.count([source])).get('jobs')).toEqual({
      registered: 1,
      source: 'rq-workers',
    });
  }, 120_000);
});

describe('observedWorkers', () => {
  it('counts pods decided but not registered yet as starting', () => {
    expect(observedWorkers({ registered: 2, source: 'bullmq-clients' }, 5, 0, 1)).toEqual({
      running: 2,
      starting: 3,
      stopping: 0,
      concurrency: 1,
    });
    // More registered than decided (pods still stopping): what runs is what counts.
    expect(observedWorkers({ registered: 4, source: 'rq-workers' }, 1, 0, 1).running).toBe(4);
    expect(observedWorkers({ registered: 4, source: 'rq-workers' }, 1, 0, 1).starting).toBe(0);
    // Before any decision: the registry alone.
    expect(observedWorkers({ registered: 3, source: 'rq-workers' }, null, 0, 1).starting).toBe(0);
  });

  it('without a registry: the last decision, raised to the busy workers the queue shows', () => {
    const none = { registered: null, source: 'decision' } as const;
    expect(observedWorkers(none, 3, 2, 1).running).toBe(3);
    expect(observedWorkers(none, 1, 7, 2).running).toBe(4);
    expect(observedWorkers(none, null, null, 1).running).toBe(0);
  });
});
