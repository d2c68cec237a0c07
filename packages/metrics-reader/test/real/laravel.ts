/**
 * Laravel 8 through Debian's php-laravel-framework (Illuminate\Queue over phpredis): jobs pushed
 * by `RedisQueue::push` (laravel/producer.php), run by one `Illuminate\Queue\Worker::daemon`
 * (laravel/worker.php, as `php artisan queue:work --sleep=3` runs it) whose job records the
 * truth. Two systems: plain Laravel 8 payloads (no timestamp) with the connection's
 * `retry_after` given to the reader, and payloads carrying Horizon's fields (`pushedAt`) with
 * `retry_after` left for the reader to learn.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { RealSystem, RunContext } from './harness.js';
import { spawnReady } from './harness.js';

const PHP = '/usr/bin/php';
const APPLICATION = '/usr/share/php/Illuminate/Foundation/Application.php';
const SCRIPTS = join(dirname(fileURLToPath(import.meta.url)), 'laravel');
const RETRY_AFTER_SECONDS = 90;
/** `queue:work`'s default: an idle worker looks for a job every 3 s. */
const WORKER_SLEEP_SECONDS = 3;
const QUEUE = 'default';
const run = promisify(execFile);

function environment(ctx: RunContext, horizon: boolean): NodeJS.ProcessEnv {
  const url = new URL(ctx.redisUrl);
  const db = ctx.db ?? (url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0);
  return {
    ...process.env,
    QS_REDIS_HOST: url.hostname,
    QS_REDIS_PORT: url.port || '6379',
    QS_REDIS_DB: String(db),
    QS_PREFIX: ctx.prefix,
    QS_RETRY_AFTER: String(RETRY_AFTER_SECONDS),
    QS_HORIZON_PAYLOAD: horizon ? '1' : '0',
  };
}

function laravelSystem(name: string, horizon: boolean): RealSystem {
  return {
    name,
    async version() {
      // The framework states its version as a constant; loading it needs the whole container.
      const source = await readFile(APPLICATION, 'utf8');
      const found = /const VERSION = '([^']+)'/.exec(source)?.[1] ?? 'unknown';
      return `${found}${horizon ? ' (Horizon payload fields)' : ''}`;
    },
    source: (ctx) => ({
      queue: name,
      driver: 'laravel',
      backendName: QUEUE,
      prefix: ctx.prefix,
      redis: { url: ctx.redisUrl, ...(ctx.db === undefined ? {} : { db: ctx.db }) },
      // Plain Laravel: retry_after as config/queue.php states it; Horizon: learned.
      laravel: horizon ? null : { retryAfter: RETRY_AFTER_SECONDS },
    }),
    startWorker: (ctx) =>
      spawnReady(PHP, [join(SCRIPTS, 'worker.php'), QUEUE, String(WORKER_SLEEP_SECONDS)], {
        ready: /^ready$/,
        env: environment(ctx, horizon),
      }),
    async produce(ctx, offsetsMs) {
      await run(
        PHP,
        [
          join(SCRIPTS, 'producer.php'),
          QUEUE,
          ctx.truthKey,
          String(ctx.serviceMs),
          ...offsetsMs.map(String),
        ],
        { env: environment(ctx, horizon), maxBuffer: 1024 * 1024 },
      );
    },
    // Between its pop (the Lua script) and the job's first line, the worker decodes the
    // payload, fires JobProcessing and arms its timeout alarm: next to stress-ng that took
    // over 50 ms, so a reservation Redis already shows was not yet "started" in the truth.
    transitionSlackMs: 150,
  };
}

export const laravel8 = laravelSystem('laravel-8', false);
export const laravelHorizonPayload = laravelSystem('laravel-horizon-payload', true);
