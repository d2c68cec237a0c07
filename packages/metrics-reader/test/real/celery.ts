/**
 * Celery 5 through Debian's python3-celery (kombu's Redis transport): tasks published with
 * `apply_async` (celery/produce.py), run by a real `celery worker` (prefork, concurrency 1,
 * prefetch multiplier 1) whose task records the truth (celery/qscale_celery_app.py). Every key
 * is under the run's prefix (kombu's `global_keyprefix`).
 *
 * Two systems, because Celery's acknowledgement decides what Redis shows:
 * - `celery-5` (the default early ack): a message leaves `unacked` as its task starts, so
 *   running tasks, run times and (at this load, where the list rarely keeps a backlog) pickups
 *   are not in Redis;
 * - `celery-5-acks-late`: the message stays until its task ends, and the reader's probe times
 *   deliveries and ends. kombu 5.2 with prefetch multiplier 1 and acks_late fetches the next
 *   message only when its event loop next wakes (about once a second), so this worker serves
 *   well under 3 jobs/s and a backlog builds: that is Celery's behaviour, measured as it is.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import {
  CELERY_PYTHON,
  CELERY_SCRIPTS,
  type CeleryRun,
  celeryWorkerArgs,
  celeryWorkerEnv,
  produceCelery,
} from '../helpers/celery.js';
import type { RealSystem, RunContext } from './harness.js';
import { spawnReady } from './harness.js';

const run = promisify(execFile);
const QUEUE = 'tasks';

function celeryRun(ctx: RunContext, acksLate: boolean): CeleryRun {
  return { brokerUrl: ctx.redisUrl, prefix: ctx.prefix, queue: QUEUE, acksLate };
}

function celerySystem(name: string, acksLate: boolean, unknown: RealSystem['unknown']): RealSystem {
  return {
    name,
    async version() {
      const { stdout } = await run(CELERY_PYTHON, [
        '-c',
        'import celery, kombu; print(celery.__version__, "kombu", kombu.__version__)',
      ]);
      return stdout.trim();
    },
    source: (ctx) => ({
      queue: 'celery',
      driver: 'celery',
      backendName: QUEUE,
      prefix: ctx.prefix,
      redis: { url: ctx.redisUrl },
      celery: { acksLate },
    }),
    startWorker: (ctx) =>
      spawnReady(CELERY_PYTHON, celeryWorkerArgs(celeryRun(ctx, acksLate)), {
        ready: / ready\.$/,
        cwd: CELERY_SCRIPTS,
        env: celeryWorkerEnv(celeryRun(ctx, acksLate)),
        timeoutMs: 60_000,
      }),
    produce: (ctx, offsetsMs) =>
      produceCelery(
        celeryRun(ctx, acksLate),
        ctx.truthKey,
        ctx.serviceMs,
        offsetsMs.map((offsetMs) => ({ offsetMs, id: randomUUID() })),
      ),
    ...(unknown ? { unknown } : {}),
    // The prefork pool hands the task to its child process after the fetch.
    transitionSlackMs: 150,
  };
}

const EARLY_ACK =
  'Celery acks before the task runs (default): the message leaves Redis as its task starts';

const NO_POPS =
  'at this load the list is empty at most reads and a delivery stays in `unacked` only milliseconds, so pops and arrivals cannot be told apart';

export const celery = celerySystem('celery-5', false, {
  arrivalRate: `Celery's message has no enqueue time; ${NO_POPS}`,
  completionRate: `${EARLY_ACK}; ${NO_POPS}`,
  active: `${EARLY_ACK}, and a running task is in no key`,
  serviceTimeMean: `${EARLY_ACK}; its end is in no key`,
  pickupP50: `${EARLY_ACK}; Celery's message has no enqueue time and at this load the list is empty at most reads`,
  pickupP95: `${EARLY_ACK}; Celery's message has no enqueue time and at this load the list is empty at most reads`,
});

export const celeryAcksLate = celerySystem('celery-5-acks-late', true, undefined);
