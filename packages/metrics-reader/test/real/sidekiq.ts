/**
 * Debian's real Sidekiq 6.4 (ruby-sidekiq with ruby-redis-namespace) for the accuracy harness:
 * a `sidekiq` process with concurrency 1 requiring sidekiq/truth_job.rb, and a producer that
 * pushes with Sidekiq::Client. Each run gets its own redis-namespace (the context's prefix), so
 * its `processes`, counters and queue are its own.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { QueueSource } from '../../src/index.js';

const SCRIPTS = fileURLToPath(new URL('./sidekiq/', import.meta.url));
const QUEUE = 'default';

export interface SidekiqRunContext {
  prefix: string;
  truthKey: string;
  serviceMs: number;
  redisUrl: string;
  db?: number;
}

export interface Stoppable {
  stop(): Promise<void>;
}

/** The namespace redis-namespace puts before every key, `{namespace}:`. */
function namespaceOf(ctx: SidekiqRunContext): string {
  return ctx.prefix.replace(/:+$/, '');
}

function redisUrlOf(ctx: SidekiqRunContext): string {
  if (ctx.db === undefined) return ctx.redisUrl;
  const url = new URL(ctx.redisUrl);
  url.pathname = `/${ctx.db}`;
  return url.toString();
}

function environment(ctx: SidekiqRunContext): NodeJS.ProcessEnv {
  return {
    ...process.env,
    QSCALE_REDIS_URL: redisUrlOf(ctx),
    QSCALE_NAMESPACE: namespaceOf(ctx),
    // Sidekiq 6.4 with redis 4.8 warns about every BRPOP; the warnings are not ours to fix.
    RUBYOPT: '-W0',
  };
}

/** Spawns `command` (no shell) and resolves once a stdout line matches `ready`. */
function spawnUntilReady(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: RegExp,
  what: string,
  timeoutMs = 60_000,
): Promise<{ child: ChildProcess; lines: string[] }> {
  const child = spawn(command, args, { cwd: SCRIPTS, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} did not report ready within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    let buffered = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        if (ready.test(line)) {
          clearTimeout(timer);
          resolve({ child, lines });
        }
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code ?? signal}) before ready; stderr: ${stderr}`));
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Sends SIGTERM and waits for the exit (SIGKILL after `graceMs`). */
function stopChild(child: ChildProcess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export const sidekiq6 = {
  name: 'sidekiq-6',

  source(ctx: SidekiqRunContext): QueueSource {
    return {
      queue: 'sidekiq-6',
      driver: 'sidekiq',
      backendName: QUEUE,
      prefix: `${namespaceOf(ctx)}:`,
      redis: { url: ctx.redisUrl, ...(ctx.db === undefined ? {} : { db: ctx.db }) },
    };
  },

  /** One `sidekiq` process, one thread; ready at its first heartbeat (fetching by then). */
  async startWorker(ctx: SidekiqRunContext): Promise<Stoppable> {
    const { child } = await spawnUntilReady(
      'sidekiq',
      ['-r', `${SCRIPTS}truth_job.rb`, '-c', '1', '-q', QUEUE, '-t', '5'],
      environment(ctx),
      /^ready 6\./,
      'sidekiq 6',
    );
    return { stop: () => stopChild(child) };
  },

  /** Pushes one TruthJob per offset (ms after the producer is ready) with Sidekiq::Client. */
  async produce(ctx: SidekiqRunContext, offsetsMs: number[]): Promise<Stoppable> {
    const spec = JSON.stringify({
      queue: QUEUE,
      truthKey: ctx.truthKey,
      serviceMs: ctx.serviceMs,
      offsetsMs: offsetsMs.map((offset) => Math.round(offset)),
    });
    const { child } = await spawnUntilReady(
      'ruby',
      [`${SCRIPTS}producer.rb`, spec],
      environment(ctx),
      /^ready$/,
      'the Sidekiq producer',
    );
    return { stop: () => stopChild(child, 5_000) };
  },
};
