import { join } from 'node:path';
import { redisUrl, uniquePrefix } from '@qscale/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanups, FIXTURES, launchQscaled, scratch, writeConfig } from './helpers/qscaled.js';

// Redaction end to end: the worker's environment, its output through the supervisor, and the
// daemon's own lines. Secrets go; queue names, worker names and hosts stay readable.

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

describe('redaction in the daemon logs', () => {
  it('removes secrets from worker output and daemon lines, and nothing else', async () => {
    const { dir, marker, cleanup } = await scratch();
    cleanups.add(cleanup);
    const config = await writeConfig(
      dir,
      `
redis: { url: "${redisUrl()}" }
tick: 1s
http: { port: 0 }
limits: { cpu: { enforce: false } }
supervision: { stateFile: ${join(dir, 'state.json')} }
queues:
  emails-high-priority:
    driver: bullmq
    prefix: ${uniquePrefix('redact').slice(0, -1)}
    command: [node, ${join(FIXTURES, 'chatty-worker.mjs')}, "${marker}", --quiet, --print-env]
    env:
      API_TOKEN: t0k3n-abcdefgh
      APP_ENV: production
      DB_PASSWORD: p4ssw0rd-xyz
      QUEUE_NAME: emails-high-priority
      REDIS_HOST: 127.0.0.1
      WORKER_NAME: mailer-worker-01
    workers: { min: 1, max: 1 }
    stop: { grace: 5s }
`,
    );
    const daemon = await launchQscaled(['--config', config], marker, cleanups);
    await daemon.until(() => daemon.hasLog(/^env /), 'the worker to print its environment');
    const printed = daemon.logs.find((line) => line.msg.startsWith('env '));
    expect(printed?.msg).toBe(
      'env API_TOKEN:[redacted] APP_ENV:production DB_PASSWORD:[redacted] QUEUE_NAME:emails-high-priority REDIS_HOST:127.0.0.1 WORKER_NAME:mailer-worker-01',
    );
    expect(printed).toMatchObject({ queue: 'emails-high-priority' });
    expect(daemon.hasLog('scale up emails-high-priority: 0 -> 1')).toBe(true);
    expect(JSON.stringify(daemon.logs)).not.toMatch(/t0k3n|p4ssw0rd/);
    // Every other line had nothing secret to hide: nothing else was redacted.
    const others = daemon.logs.filter((line) => line !== printed);
    expect(JSON.stringify(others)).not.toContain('[redacted]');
  });
});
