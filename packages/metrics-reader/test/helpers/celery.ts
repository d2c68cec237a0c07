/**
 * Celery's Redis broker as kombu writes it (kombu/transport/redis.py): a task message is a
 * JSON envelope LPUSHed to the queue's list (`{queue}\x06\x16{3|6|9}` for other priority
 * steps) and consumed with BRPOP from the tail; `_kombu.binding.{exchange}` sets name the
 * queues. The message carries no enqueue time.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';

export const CELERY_SEPARATOR = '\x06\x16';

export function celeryMessage(queue: string, task = 'proj.tasks.send'): string {
  const id = randomUUID();
  return JSON.stringify({
    body: Buffer.from(JSON.stringify([[42], { to: 'a@b.c' }, {}])).toString('base64'),
    'content-encoding': 'utf-8',
    'content-type': 'application/json',
    headers: {
      lang: 'py',
      task,
      id,
      eta: null,
      expires: null,
      retries: 0,
      timelimit: [null, null],
      root_id: id,
      parent_id: null,
      argsrepr: '(42,)',
      kwargsrepr: "{'to': 'a@b.c'}",
      origin: 'gen1@host',
      ignore_result: false,
    },
    properties: {
      correlation_id: id,
      reply_to: randomUUID(),
      delivery_mode: 2,
      delivery_info: { exchange: '', routing_key: queue },
      priority: 0,
      body_encoding: 'base64',
      delivery_tag: randomUUID(),
    },
  });
}

/** `apply_async`: binds the queue (as kombu does on declare) and publishes one message. */
export async function publishCelery(
  redis: Redis,
  prefix: string,
  queue: string,
  priorityStep: 0 | 3 | 6 | 9 = 0,
): Promise<string> {
  const message = celeryMessage(queue);
  const list = `${prefix}${priorityStep === 0 ? queue : `${queue}${CELERY_SEPARATOR}${priorityStep}`}`;
  await redis
    .multi()
    .sadd(
      `${prefix}_kombu.binding.celery`,
      `${queue}${CELERY_SEPARATOR}${CELERY_SEPARATOR}${queue}`,
    )
    .lpush(list, message)
    .exec();
  return (JSON.parse(message) as { headers: { id: string } }).headers.id;
}

/** A worker's fetch (BRPOP, here non-blocking): the oldest message, or null. */
export async function consumeCelery(
  redis: Redis,
  prefix: string,
  queue: string,
): Promise<string | null> {
  const message = await redis.rpop(`${prefix}${queue}`);
  if (!message) return null;
  return (JSON.parse(message) as { headers: { id: string } }).headers.id;
}

/** The real Celery app and producer (test/real/celery), run by Debian's python3-celery. */
export const CELERY_PYTHON = '/usr/bin/python3';
export const CELERY_SCRIPTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'real', 'celery');

export interface CeleryRun {
  /** redis:// URL with the db. */
  brokerUrl: string;
  /** kombu's `global_keyprefix`: every key of the run is under it. */
  prefix: string;
  queue: string;
  acksLate: boolean;
}

function celeryEnv(run: CeleryRun): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PYTHONPATH: CELERY_SCRIPTS,
    QSCALE_BROKER: run.brokerUrl,
    QSCALE_PREFIX: run.prefix,
    QSCALE_QUEUE: run.queue,
    QSCALE_ACKS_LATE: run.acksLate ? '1' : '0',
  };
}

/** `celery worker` arguments: one process, prefetch multiplier 1, this run's queue only. */
export function celeryWorkerArgs(run: CeleryRun): string[] {
  return [
    '-m',
    'celery',
    '-A',
    'qscale_celery_app',
    'worker',
    '-P',
    'prefork',
    '-c',
    '1',
    '--prefetch-multiplier',
    '1',
    '-Q',
    run.queue,
    '-n',
    `${run.prefix}worker@%h`,
    '--without-gossip',
    '--without-mingle',
    '-l',
    'info',
  ];
}

export function celeryWorkerEnv(run: CeleryRun): NodeJS.ProcessEnv {
  return celeryEnv(run);
}

export interface CeleryWorker {
  output(): string;
  /** Cold shutdown (SIGQUIT: running tasks are not waited for), then waits for the exit. */
  stop(): Promise<void>;
}

/** Starts a real worker; resolves when it logs `celery@… ready.`, rejects if it exits first. */
export function startCeleryWorker(run: CeleryRun, timeoutMs = 60_000): Promise<CeleryWorker> {
  const child = spawn(CELERY_PYTHON, celeryWorkerArgs(run), {
    cwd: CELERY_SCRIPTS,
    env: celeryEnv(run),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return readyProcess(child, / ready\.$/m, timeoutMs, 'SIGQUIT');
}

export interface CeleryJob {
  offsetMs: number;
  id: string;
  countdownS?: number;
  serviceMs?: number;
  fail?: boolean;
}

/**
 * Publishes `jobs` with Celery's own `apply_async` (produce.py); resolves when the producer
 * has sent them all and exited.
 */
export async function produceCelery(
  run: CeleryRun,
  truthKey: string,
  serviceMs: number,
  jobs: CeleryJob[],
): Promise<void> {
  const child = spawn(CELERY_PYTHON, ['produce.py', truthKey, String(serviceMs)], {
    cwd: CELERY_SCRIPTS,
    env: celeryEnv(run),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stdin.end(jobs.map((job) => JSON.stringify(job)).join('\n'));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (exitCode) => resolve(exitCode));
  });
  if (code !== 0) throw new Error(`produce.py exited with ${code}:\n${output.slice(-4000)}`);
}

function readyProcess(
  child: ChildProcess,
  ready: RegExp,
  timeoutMs: number,
  stopSignal: NodeJS.Signals,
): Promise<CeleryWorker> {
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(stopSignal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
  };
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void stop().finally(() => reject(new Error(`celery worker ${why}:\n${output.slice(-4000)}`)));
    };
    const timer = setTimeout(() => fail(`not ready within ${timeoutMs} ms`), timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.length > 200_000) output = output.slice(-100_000);
      if (!settled && ready.test(output)) {
        settled = true;
        clearTimeout(timer);
        resolve({ output: () => output, stop });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', (error) => fail(error.message));
    child.once('exit', (code, signal) => fail(`exited (${signal ?? code}) before it was ready`));
  });
}
