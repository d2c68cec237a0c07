/**
 * RQ through Debian's python3-rq: jobs enqueued by `rq.Queue.enqueue` (rq/producer.py), run by
 * a real `rq worker` (forking a work horse per job, as in production) whose job function
 * (rq/jobs.py) records the truth. RQ has no key prefix, so the run's prefix names the queue,
 * the job ids and the worker instead.
 */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { connectRedis } from '@qscale/testkit';
import type { RealSystem, RunContext } from './harness.js';
import { spawnReady } from './harness.js';

const PYTHON = '/usr/bin/python3';
const SCRIPTS = join(dirname(fileURLToPath(import.meta.url)), 'rq');
const run = promisify(execFile);

const queueName = (ctx: RunContext) => `${ctx.prefix}q`;

export const rq: RealSystem = {
  name: 'rq',
  async version() {
    const { stdout } = await run(PYTHON, ['-c', 'import rq; print(rq.__version__)']);
    return stdout.trim();
  },
  source: (ctx) => ({
    queue: 'rq',
    driver: 'rq',
    backendName: queueName(ctx),
    prefix: null,
    redis: { url: ctx.redisUrl },
  }),
  async startWorker(ctx) {
    const worker = await spawnReady(
      PYTHON,
      [
        '-m',
        'rq.cli',
        'worker',
        '--url',
        ctx.redisUrl,
        '--path',
        SCRIPTS,
        '--name',
        `${ctx.prefix}worker`,
        queueName(ctx),
      ],
      { ready: /Listening on/ },
    );
    return {
      async stop() {
        await worker.stop();
        // A worker stopped by SIGTERM leaves its queue listed in `rq:queues`.
        const redis = connectRedis(ctx.redisUrl);
        await redis.srem('rq:queues', `rq:queue:${queueName(ctx)}`);
        await redis.quit();
      },
    };
  },
  async produce(ctx, offsetsMs) {
    await run(
      PYTHON,
      [
        join(SCRIPTS, 'producer.py'),
        ctx.redisUrl,
        queueName(ctx),
        ctx.prefix,
        ctx.truthKey,
        String(ctx.serviceMs),
        JSON.stringify(offsetsMs),
      ],
      { cwd: SCRIPTS, env: { ...process.env, PYTHONPATH: SCRIPTS } },
    );
  },
  cleanupPatterns: (ctx) => [`rq:*${ctx.prefix}*`],
  // The worker forks a work horse between its pop and the job function.
  transitionSlackMs: 150,
};
