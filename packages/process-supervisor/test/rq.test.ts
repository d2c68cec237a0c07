import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connectRedis, deleteKeys, readProc, redisUrl, waitFor } from '@qscale/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { PoolEvents } from '../src/index.js';
import { eventsNamed, FIXTURES, Harness, isAlive, recordEvents, WAIT } from './helpers.js';

// Debian's python3-rq. `python3` on PATH may be another Python without rq: use this one.
const PYTHON = '/usr/bin/python3';
const hasRq = spawnSync(PYTHON, ['-c', 'import rq'], { stdio: 'ignore' }).status === 0;
if (!hasRq && process.env.CI) {
  throw new Error(`${PYTHON} cannot import rq: install python3-rq (.ci/run does)`);
}

const run = promisify(execFile);
let h: Harness;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  try {
    await h.cleanup();
  } finally {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  }
});

/** Removes what RQ wrote to Redis for one queue, worker and job. */
async function forgetQueue(queue: string, worker: string, jobId: () => string | null) {
  const redis = connectRedis();
  try {
    // The queue name (the test's marker) is unique, and part of the worker's name.
    await deleteKeys(redis, `rq:*${queue}*`);
    const job = jobId();
    if (job) await deleteKeys(redis, `rq:*${job}*`);
    await redis.srem('rq:workers', `rq:worker:${worker}`);
    await redis.srem('rq:queues', `rq:queue:${queue}`);
  } finally {
    redis.disconnect();
  }
}

describe.skipIf(!hasRq)('a real RQ worker', () => {
  it('stops the work horse (its own session) with the worker, within the grace', async () => {
    h = new Harness();
    // The queue is named after the marker, so its worker carries it in argv.
    const queue = h.marker('rq');
    const worker = `${queue}-worker`;
    let jobId: string | null = null;
    cleanups.push(() => forgetQueue(queue, worker, () => jobId));
    const pidFile = join(await h.stateFile(), '..', 'horse.pid');

    const supervisor = await h.supervisor();
    const pool = await supervisor.createPool({
      name: 'rq',
      command: [
        PYTHON,
        '-m',
        'rq.cli',
        'worker',
        '--url',
        redisUrl(),
        '--name',
        worker,
        '--path',
        FIXTURES,
        queue,
      ],
      cwd: FIXTURES,
      env: { PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' },
      stop: { graceMs: 3_000 },
      spawn: { minUptimeMs: 300 },
    });
    const events = recordEvents<PoolEvents>(pool, ['exited', 'escalated']);
    pool.scaleTo(1);
    // RQ's ready line: its signal handlers are installed and it waits for jobs.
    await h.line(new RegExp(`\\*\\*\\* Listening on ${queue}`));
    const [rqWorker = 0] = pool.pids();

    const enqueued = await run(
      PYTHON,
      [
        '-c',
        [
          'import sys',
          'from redis import Redis',
          'from rq import Queue',
          'queue = Queue(sys.argv[1], connection=Redis.from_url(sys.argv[2]))',
          "print(queue.enqueue('rq_jobs.long_job', sys.argv[3], 60, job_timeout=600).id)",
        ].join('; '),
        queue,
        redisUrl(),
        pidFile,
      ],
      { cwd: FIXTURES },
    );
    jobId = enqueued.stdout.trim();
    await waitFor(() => existsSync(pidFile), { ...WAIT, what: 'the job running in a horse' });
    const horse = Number(await readFile(pidFile, 'utf8'));
    const info = await readProc(horse);
    // The horse is the worker's child in a session (and group) of its own: the worker's
    // group signal alone misses it.
    expect(info).toMatchObject({ ppid: rqWorker, pgid: horse });

    const summary = await pool.stop();
    expect(summary).toMatchObject({ stopped: 1, unkillable: 0 });
    expect(eventsNamed(events, 'exited')).toMatchObject([{ pid: rqWorker, outcome: 'stopped' }]);
    expect(await isAlive(horse)).toBe(false);
    expect(await isAlive(rqWorker)).toBe(false);
  });
});
