import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
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

/** A real `rq worker` on a queue of its own, supervised by a pool, and a way to enqueue. */
async function startRq(graceMs: number) {
  h = new Harness();
  // The queue is named after the marker, so its worker carries it in argv.
  const queue = h.marker('rq');
  const worker = `${queue}-worker`;
  const jobIds: string[] = [];
  cleanups.push(() => forgetQueue(queue, worker, () => jobIds[0] ?? null));
  const dir = join(await h.stateFile(), '..');

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
    stop: { graceMs },
    spawn: { minUptimeMs: 300 },
  });
  const events = recordEvents<PoolEvents>(pool, ['exited', 'escalated']);
  pool.scaleTo(1);
  // RQ's ready line: its signal handlers are installed and it waits for jobs.
  await h.line(new RegExp(`\\*\\*\\* Listening on ${queue}`));
  const [rqWorker = 0] = pool.pids();

  /** Enqueues rq_jobs.<job>(...args) and waits until its work horse runs it. */
  async function runJob(job: string, args: (string | number)[]): Promise<number> {
    const pidFile = join(dir, 'horse.pid');
    const enqueued = await run(
      PYTHON,
      [
        '-c',
        [
          'import sys',
          'from redis import Redis',
          'from rq import Queue',
          'queue = Queue(sys.argv[1], connection=Redis.from_url(sys.argv[2]))',
          'args = [int(a) if a.isdigit() else a for a in sys.argv[4:]]',
          "print(queue.enqueue('rq_jobs.' + sys.argv[3], *args, job_timeout=600).id)",
        ].join('; '),
        queue,
        redisUrl(),
        job,
        pidFile,
        ...args.map(String),
      ],
      { cwd: FIXTURES },
    );
    jobIds.push(enqueued.stdout.trim());
    await waitFor(() => existsSync(pidFile), { ...WAIT, what: 'the job running in a horse' });
    const horse = Number(await readFile(pidFile, 'utf8'));
    // The horse is the worker's child in a session (and group) of its own: the worker's
    // group signal alone misses it.
    expect(await readProc(horse)).toMatchObject({ ppid: rqWorker, pgid: horse });
    return horse;
  }
  return { pool, events, rqWorker, dir, runJob };
}

describe.skipIf(!hasRq)('a real RQ worker', () => {
  it('lets the work horse (its own session) finish its job within the grace', async () => {
    const { pool, events, rqWorker, dir, runJob } = await startRq(60_000);
    const release = join(dir, 'release');
    const done = join(dir, 'done');
    const horse = await runJob('job_until_released', [release, done]);

    const stopped = pool.stop();
    await h.line(/Warm shut down requested/);
    // A SIGTERM to the horse would have failed the job at once; it is still working.
    expect(await isAlive(horse)).toBe(true);
    await writeFile(release, '');
    expect(await stopped).toEqual({ stopped: 1, escalated: 0, unkillable: 0 });
    expect(existsSync(done)).toBe(true);
    expect(eventsNamed(events, 'exited')).toMatchObject([{ pid: rqWorker, outcome: 'stopped' }]);
    expect(await isAlive(horse)).toBe(false);
  });

  it('kills the work horse with the worker once the grace is over', async () => {
    const { pool, events, rqWorker, dir, runJob } = await startRq(3_000);
    const horse = await runJob('long_job', [60]);

    const summary = await pool.stop();
    expect(summary).toMatchObject({ stopped: 1, escalated: 1, unkillable: 0 });
    expect(eventsNamed(events, 'exited')).toMatchObject([{ pid: rqWorker, outcome: 'stopped' }]);
    expect(await isAlive(horse)).toBe(false);
    expect(await isAlive(rqWorker)).toBe(false);
    expect(existsSync(join(dir, 'done'))).toBe(false);
  });
});
