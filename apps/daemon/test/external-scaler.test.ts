import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentials, type ServiceError, status } from '@grpc/grpc-js';
import { findProcessesWithArg, redisUrl, waitFor } from '@qscale/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Daemon,
  loadConfig,
  loadExternalScaler,
  parseConfig,
  startDaemon,
} from '../src/index.js';

// qscaled serves KEDA's external scaler only when the configuration has the section; its own
// workers (here a dry run's) are what it reports. `qscale scaler` is tested in apps/cli.

const ExternalScaler = loadExternalScaler();
const CHATTY = fileURLToPath(new URL('./fixtures/chatty-worker.mjs', import.meta.url));

function config(section: string, queue = 'mail') {
  return parseConfig(text(section, queue), { env: {} });
}

function text(section: string, queue = 'mail') {
  const prefix = `qscale-test-ext-${randomUUID().slice(0, 8)}`;
  return `redis: { url: "${redisUrl()}" }
tick: 200ms
http: { enabled: false }
${section}
queues:
  ${queue}:
    driver: bullmq
    prefix: ${prefix}
    command: [node, worker.js]
    workers: { min: 2, max: 4 }
`;
}

describe('qscaled and the externalScaler section', () => {
  let daemon: Daemon | null = null;
  afterEach(async () => {
    await daemon?.stop();
    daemon = null;
  });

  it('a scaler port already in use: the start fails naming it and leaves no worker running', async () => {
    const holder = createServer().listen(0, '127.0.0.1');
    await once(holder, 'listening');
    const port = (holder.address() as AddressInfo).port;
    const dir = await mkdtemp(join(tmpdir(), 'qscale-ext-taken-'));
    const marker = `--qscale-ext-taken=${randomUUID()}`;
    try {
      const section = `externalScaler: { port: ${port} }
supervision: { stateFile: ${join(dir, 'state.json')} }`;
      const worker = `[node, ${JSON.stringify(CHATTY)}, --quiet, "${marker}"]`;
      const started = startDaemon({
        config: parseConfig(text(section).replace('[node, worker.js]', worker), { env: {} }),
      });
      await expect(started).rejects.toThrow(new RegExp(`${port}`));
      expect(await findProcessesWithArg(marker)).toEqual([]);
    } finally {
      holder.close();
      for (const info of await findProcessesWithArg(marker)) process.kill(info.pid, 'SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is not served without the section', async () => {
    daemon = await startDaemon({ config: config(''), dryRun: true });
    expect(daemon.scalerAddress).toBeNull();
  });

  it('is served with it: the decision (here the minimum of 2) and IsActive; the stream ends when the daemon stops', async () => {
    daemon = await startDaemon({ config: config('externalScaler: { port: 0 }'), dryRun: true });
    expect(daemon.scalerAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    const client = new ExternalScaler(daemon.scalerAddress ?? '', credentials.createInsecure());
    const ref = { name: 'w', namespace: 'n', scalerMetadata: { queue: 'mail' } };
    const unary = <T>(method: string, request: unknown) =>
      new Promise<T>((resolve, reject) => {
        const fn = client[method] as (
          req: unknown,
          cb: (error: ServiceError | null, res: T) => void,
        ) => void;
        fn.call(client, request, (error, response) => (error ? reject(error) : resolve(response)));
      });
    let value = -1;
    await waitFor(
      () =>
        unary<{ metricValues: { metricValue: number }[] }>('GetMetrics', {
          scaledObjectRef: ref,
          metricName: 'qscale-mail',
        }).then(
          (response) => {
            value = response.metricValues[0]?.metricValue ?? -1;
            return true;
          },
          (error: ServiceError) => {
            if (error.code !== status.UNAVAILABLE) throw error;
            return false;
          },
        ),
      { timeoutMs: 20_000, what: 'a first decision' },
    );
    expect(value).toBe(2);
    expect(await unary<{ result: boolean }>('IsActive', ref)).toEqual({ result: true });

    const open = client.StreamIsActive as (request: unknown) => NodeJS.EventEmitter;
    const stream = open.call(client, ref);
    const messages: boolean[] = [];
    stream.on('data', (message: { result: boolean }) => messages.push(message.result));
    stream.on('error', () => {});
    const ended = new Promise((resolve) => stream.once('end', resolve));
    await waitFor(() => messages.length > 0, { what: 'the first stream message' });
    // Ticks go on, the state does not change: nothing more is sent.
    const ticks = daemon.state().ticks;
    await waitFor(() => (daemon?.state().ticks ?? 0) >= ticks + 3, { what: 'three more ticks' });
    expect(messages).toEqual([true]);
    await daemon.stop();
    daemon = null;
    await ended;
    client.close();
  }, 60_000);

  it('ends a stream with NOT_FOUND when a reload removes its queue', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qscale-ext-'));
    try {
      const path = join(dir, 'qscale.yml');
      await writeFile(path, text('externalScaler: { port: 0 }'));
      daemon = await startDaemon({
        config: await loadConfig(path),
        configPath: path,
        dryRun: true,
      });
      const client = new ExternalScaler(daemon.scalerAddress ?? '', credentials.createInsecure());
      const open = client.StreamIsActive as (request: unknown) => NodeJS.EventEmitter;
      const stream = open.call(client, {
        name: 'w',
        namespace: 'n',
        scalerMetadata: { queue: 'mail' },
      });
      const messages: boolean[] = [];
      stream.on('data', (message: { result: boolean }) => messages.push(message.result));
      const failed = new Promise<ServiceError>((resolve) => stream.once('error', resolve));
      await waitFor(() => messages.length > 0, { what: 'the first stream message' });
      await writeFile(path, text('externalScaler: { port: 0 }', 'other'));
      expect(await daemon.reload()).toMatchObject({ ok: true });
      const error = await failed;
      expect(error.code).toBe(status.NOT_FOUND);
      expect(error.details).toBe(`queue "mail" was removed from qscale's configuration`);
      client.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
