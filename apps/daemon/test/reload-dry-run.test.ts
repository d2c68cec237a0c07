import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connectRedis, deleteKeys, redisUrl, uniquePrefix, waitFor } from '@qscale/testkit';
import { Queue } from 'bullmq';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  BULLMQ_WORKER,
  Cleanups,
  launchQscaled,
  markedProcesses,
  type QscaledProcess,
  running,
  scratch,
  writeConfig,
} from './helpers/qscaled.js';

const redis = connectRedis();
const cleanups = new Cleanups();
afterEach(() => cleanups.run());
afterAll(async () => {
  await redis.quit();
});

function config(options: { dir: string; prefix: string; marker: string; queues: string }): string {
  return `
redis: { url: "${redisUrl()}" }
tick: 1s
http: { port: 0 }
limits: { cpu: { enforce: false } }
supervision: { stateFile: ${join(options.dir, 'state.json')} }
defaults:
  driver: bullmq
  prefix: ${options.prefix}
  env: { REDIS_URL: "${redisUrl()}", QUEUE_PREFIX: ${options.prefix} }
  stop: { grace: 5s }
  spawn: { minUptime: 500ms }
  scaling: { cooldown: 1s, downStabilization: 2s }
queues:
${options.queues}`;
}

function queue(name: string, marker: string, workers: string): string {
  return `  ${name}:
    command: [node, ${BULLMQ_WORKER}, ${name}, "${marker}"]
    workers: ${workers}
`;
}

function launch(args: string[], marker: string): Promise<QscaledProcess> {
  return launchQscaled(args, marker, cleanups);
}

describe('qscaled reload and dry run', () => {
  it('SIGHUP applies a valid file (queues added, bounds changed, queues removed) and keeps the running one on an invalid file', async () => {
    const { dir, marker, cleanup } = await scratch();
    const prefix = uniquePrefix('reload').slice(0, -1);
    cleanups.add(cleanup, () => deleteKeys(redis, `${prefix}:*`));
    const path = await writeConfig(
      dir,
      config({
        dir,
        prefix,
        marker,
        queues:
          queue('first', marker, '{ min: 1, max: 3 }') +
          queue('second', marker, '{ min: 1, max: 3 }'),
      }),
    );
    const daemon = await launch(['--config', path], marker);
    await daemon.until(
      (state) => running(state, 'first') === 1 && running(state, 'second') === 1,
      'one worker per queue',
    );

    // Valid: first gets min 2, second goes away, third arrives.
    await writeFile(
      path,
      config({
        dir,
        prefix,
        marker,
        queues:
          queue('first', marker, '{ min: 2, max: 3 }') +
          queue('third', marker, '{ min: 1, max: 2 }'),
      }),
    );
    daemon.child.kill('SIGHUP');
    const reloaded = await daemon.until(
      (state) =>
        state.queues.map((entry) => entry.name).join() === 'first,third' &&
        running(state, 'first') === 2 &&
        running(state, 'third') === 1,
      'the new configuration applied',
    );
    expect(reloaded.queues.find((entry) => entry.name === 'first')?.bounds).toEqual({
      min: 2,
      max: 3,
    });
    const applied = daemon.logs.find((line) => line.msg === 'configuration reloaded');
    expect(applied?.changed).toEqual(
      expect.arrayContaining([
        'queue third added',
        'queue second removed',
        'queue first: strategy or scaling',
      ]),
    );
    // The removed queue's worker was stopped, not orphaned: 2 + 1 processes are left.
    await waitFor(async () => (await markedProcesses(marker)).live.length === 3, {
      what: "the removed queue's worker gone",
    });

    // Invalid: the running configuration stays, and every problem is logged.
    const invalid = config({
      dir,
      prefix,
      marker,
      queues: queue('first', marker, '{ min: 1, max: ten }'),
    });
    await writeFile(path, invalid.replace('tick: 1s', 'tick: soon'));
    daemon.child.kill('SIGHUP');
    await daemon.until(
      () => daemon.hasLog('configuration not reloaded; the running one stays'),
      'the refusal logged',
    );
    const refusal = daemon.logs.find(
      (line) => line.msg === 'configuration not reloaded; the running one stays',
    );
    expect(refusal?.problems).toEqual([
      expect.stringMatching(
        /^tick: expected a duration like 500ms, 30s or 5m, got "soon" \(.*qscale\.yml:3:7\)$/,
      ),
      expect.stringMatching(
        /^queues\.first\.workers\.max: expected a whole number >= 1, got "ten"/,
      ),
    ]);
    const after = await daemon.state();
    expect(after.queues.map((entry) => entry.name)).toEqual(['first', 'third']);
    expect(running(after, 'first')).toBe(2);

    daemon.child.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
    expect(await markedProcesses(marker)).toEqual({ live: [], zombies: [] });
  }, 120_000);

  it('--dry-run decides and reports, but spawns nothing', async () => {
    const { dir, marker, cleanup } = await scratch();
    const prefix = uniquePrefix('dry').slice(0, -1);
    cleanups.add(cleanup, () => deleteKeys(redis, `${prefix}:*`));
    const path = await writeConfig(
      dir,
      config({ dir, prefix, marker, queues: queue('jobs', marker, '{ min: 1, max: 6 }') }),
    );
    const jobs = new Queue('jobs', { connection: connectRedis(), prefix });
    cleanups.add(async () => {
      await jobs.close();
    });
    const daemon = await launch(['--config', path, '--dry-run'], marker);
    await jobs.addBulk(Array.from({ length: 200 }, () => ({ name: 'j', data: { ms: 500 } })));
    const decided = await daemon.until(
      (state) => state.decisions.some((decision) => decision.direction === 'up' && decision.to > 1),
      'a scale-up decision in the dry run',
    );
    expect(decided.dryRun).toBe(true);
    expect(decided.queues[0]?.pool).toBeNull();
    expect(decided.queues[0]?.workers.running).toBe(decided.queues[0]?.lastDecision?.to);
    expect(await markedProcesses(marker)).toEqual({ live: [], zombies: [] });
    daemon.child.kill('SIGINT');
    expect((await daemon.exited).code).toBe(0);
  }, 120_000);
});
