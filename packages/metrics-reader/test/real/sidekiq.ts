/**
 * Debian's real Sidekiq 6.4 (ruby-sidekiq with ruby-redis-namespace): a `sidekiq` process with
 * concurrency 1 requiring sidekiq/truth_job.rb, and a producer pushing with Sidekiq::Client.
 * Each run gets its own redis-namespace under the run's prefix, so its `processes` set,
 * `stat:processed` counter and queue are its own.
 */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { RealSystem, RunContext } from './harness.js';
import { spawnReady } from './harness.js';

export const SIDEKIQ_SCRIPTS = join(dirname(fileURLToPath(import.meta.url)), 'sidekiq');
const SCRIPTS = SIDEKIQ_SCRIPTS;
const QUEUE = 'default';
const run = promisify(execFile);

/** redis-namespace puts `{namespace}:` before every key. */
const namespaceOf = (ctx: RunContext) => `${ctx.prefix}sk`;

export function sidekiqEnvironment(ctx: RunContext): NodeJS.ProcessEnv {
  const url = new URL(ctx.redisUrl);
  if (ctx.db !== undefined) url.pathname = `/${ctx.db}`;
  return {
    ...process.env,
    QSCALE_REDIS_URL: url.toString(),
    QSCALE_NAMESPACE: namespaceOf(ctx),
    // Sidekiq 6.4 under redis-rb 4.8 warns at every BRPOP; not ours to fix, only noise.
    RUBYOPT: '-W0',
  };
}

export const sidekiq6: RealSystem = {
  name: 'sidekiq-6',
  async version() {
    const { stdout } = await run('ruby', ['-e', 'require "sidekiq"; print Sidekiq::VERSION']);
    return stdout.trim();
  },
  source: (ctx) => ({
    queue: 'sidekiq-6',
    driver: 'sidekiq',
    backendName: QUEUE,
    prefix: `${namespaceOf(ctx)}:`,
    redis: { url: ctx.redisUrl, ...(ctx.db === undefined ? {} : { db: ctx.db }) },
  }),
  async startWorker(ctx) {
    // Ready at its first heartbeat: registered in `processes`, its fetcher thread running.
    return spawnReady(
      'sidekiq',
      ['-r', join(SCRIPTS, 'truth_job.rb'), '-c', '1', '-q', QUEUE, '-t', '5'],
      { ready: /^ready 6\./, env: sidekiqEnvironment(ctx), cwd: SCRIPTS, timeoutMs: 60_000 },
    );
  },
  produce: (ctx, offsetsMs) => produceSidekiq(ctx, offsetsMs, QUEUE),

  unknown: {
    serviceTimeMean:
      "null until 10 back-to-back pickups (the next job already waiting) fall in the window, or 10 heartbeats found a job in flight (Little's law): at low load (1 job/s of 200 ms) neither happens within the run, and Redis keeps no start or finish time of a Sidekiq job",
    active:
      'null while no job waits: Sidekiq keeps running jobs in process memory and writes them to Redis only at its heartbeat (every 5 s in 6.x); while jobs wait, every thread is busy and active is exact',
  },
};

/** Pushes one TruthJob per offset to `queue` with Sidekiq::Client (sidekiq/producer.rb). */
export async function produceSidekiq(
  ctx: RunContext,
  offsetsMs: number[],
  queue: string,
): Promise<void> {
  const spec = JSON.stringify({
    queue,
    truthKey: ctx.truthKey,
    serviceMs: ctx.serviceMs,
    // Offsets count from this call: Ruby's start-up is not added to every gap.
    startAtMs: Date.now(),
    offsetsMs,
  });
  await run('ruby', [join(SCRIPTS, 'producer.rb'), spec], {
    cwd: SCRIPTS,
    env: sidekiqEnvironment(ctx),
  });
}
