import { join } from 'node:path';
import { connectRedis, deleteKeys, redisUrl, uniquePrefix } from '@qscale/testkit';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Cleanups, FIXTURES, launchQscaled, scratch, writeConfig } from './helpers/qscaled.js';

// A job's arguments are often secrets. A payload the reader cannot parse must be reported by
// where it is and what is wrong with it, never by quoting it, in the status API or the logs.

const redis = connectRedis();
const cleanups = new Cleanups();
afterEach(() => cleanups.run());
afterAll(async () => {
  await redis.quit();
});

describe('a job payload that is not JSON', () => {
  it('is reported by key and size in /api/state and the logs, never by its text', async () => {
    const { dir, marker, cleanup } = await scratch();
    const prefix = uniquePrefix('echo');
    cleanups.add(cleanup, () => deleteKeys(redis, `${prefix}*`));
    // Plain text that no redaction pattern knows: only not echoing it keeps it out.
    const payload = 'charge card 4111111111111111 cvc 737 for customer hunter-two-secret';
    await redis.lpush(`${prefix}queues:billing`, payload);
    const config = await writeConfig(
      dir,
      `
redis: { url: "${redisUrl()}" }
tick: 1s
http: { port: 0 }
limits: { cpu: { enforce: false } }
supervision: { stateFile: ${join(dir, 'state.json')} }
queues:
  billing:
    driver: laravel
    prefix: "${prefix}"
    command: [node, ${join(FIXTURES, 'chatty-worker.mjs')}, "${marker}", --quiet]
    workers: { min: 0, max: 1 }
    stop: { grace: 5s }
`,
    );
    const daemon = await launchQscaled(['--config', config], marker, cleanups);
    const state = await daemon.until(
      (current) => current.queues[0]?.snapshot?.error?.code === 'BAD_PAYLOAD',
      'the unreadable payload reported',
    );
    const error = state.queues[0]?.snapshot?.error;
    expect(error?.message).toContain(`${prefix}queues:billing`);
    expect(error?.message).toContain(`${Buffer.byteLength(payload)} bytes that are not JSON`);
    expect(JSON.stringify(state)).not.toMatch(/4111|hunter-two|charge card/);
    const raw = await (await fetch(`${daemon.url}/api/state`)).text();
    expect(raw).not.toMatch(/4111|hunter-two|charge card/);
    expect(JSON.stringify(daemon.logs)).not.toMatch(/4111|hunter-two|charge card/);
  });
});
