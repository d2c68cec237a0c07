import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connectRedis, deleteKeys, redisUrl } from '@qscale/testkit';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  Cleanups,
  FIXTURES,
  launchQscaled,
  markedProcesses,
  running,
  scratch,
  writeConfig,
} from './helpers/qscaled.js';

// A Sidekiq queue whose list is empty shows `active: null` (running jobs reach Redis only at
// the heartbeat). Real Sidekiq 6.4 workers spawned by the real qscaled: once drained, the
// queue must go back to zero workers.

const run = promisify(execFile);
const APP = join(FIXTURES, 'sidekiq-sleep.rb');
const redis = connectRedis();
const cleanups = new Cleanups();
afterEach(() => cleanups.run());
afterAll(async () => {
  await redis.quit();
});

describe('qscaled with Sidekiq', () => {
  it('a drained Sidekiq queue scales to zero', async () => {
    const { dir, marker, cleanup } = await scratch();
    const namespace = `qscale-e2e-sk-${randomUUID().slice(0, 8)}`;
    cleanups.add(cleanup, () => deleteKeys(redis, `${namespace}:*`));
    const env = { REDIS_URL: redisUrl(), SIDEKIQ_NAMESPACE: namespace };
    const config = await writeConfig(
      dir,
      `
redis: { url: "${redisUrl()}" }
tick: 1s
http: { port: 0 }
limits: { cpu: { enforce: false } }
supervision: { stateFile: ${join(dir, 'state.json')} }
queues:
  mail:
    driver: sidekiq
    prefix: "${namespace}:"
    command: [sidekiq, -r, ${APP}, -q, mail, -c, "1", -g, "${marker}"]
    env: { REDIS_URL: "${redisUrl()}", SIDEKIQ_NAMESPACE: ${namespace} }
    workers: { min: 0, max: 3 }
    stop: { signal: [SIGTSTP, SIGTERM], grace: 10s }
    spawn: { latency: 3s, minUptime: 500ms }
    scaling: { cooldown: 2s, downStabilization: 3s }
`,
    );
    const daemon = await launchQscaled(['--config', config], marker, cleanups);
    await run('ruby', [APP, 'mail', '40', '300'], {
      env: { PATH: process.env.PATH ?? '', ...env },
    });
    await daemon.until((state) => running(state, 'mail') >= 1, 'a Sidekiq worker started', 90_000);
    const empty = await daemon.until(
      (state) => state.queues[0]?.snapshot?.pending === 0,
      'the queue drained',
      120_000,
    );
    // What the policies see of a drained Sidekiq queue: running jobs unknown.
    expect(empty.queues[0]?.snapshot?.active).toBeNull();
    // Zero workers, and the strategy itself says the queue is drained (on a loaded machine a
    // policy may reach zero a few ticks before the completion window empties).
    const drained = await daemon.until(
      (state) =>
        running(state, 'mail') === 0 &&
        state.queues[0]?.workers.stopping === 0 &&
        /^drained and quiet/.test(state.queues[0]?.lastDecision?.recommendation.reason ?? ''),
      'the drained queue back to zero workers, recommended by the quiet rule',
      120_000,
    );
    expect(drained.queues[0]?.lastDecision?.to).toBe(0);
    expect(drained.queues[0]?.lastDecision?.recommendation.reason).toMatch(/^drained and quiet/);
    expect((await markedProcesses(marker)).live).toEqual([]);
    daemon.child.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
  }, 300_000);
});
