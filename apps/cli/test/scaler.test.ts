import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type ChannelCredentials,
  type ClientReadableStream,
  credentials,
  Metadata,
  type ServiceError,
  status,
} from '@grpc/grpc-js';
import { type DaemonState, loadExternalScaler } from '@qscale/daemon';
import {
  connectRedis,
  createTestCertificates,
  deleteKeys,
  redisUrl,
  waitFor,
} from '@qscale/testkit';
import { Queue, Worker } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';

// `qscale scaler` as KEDA's operator meets it: a real process, a gRPC client built from the
// same proto over loopback, and real BullMQ queues in the shared Redis.

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const ExternalScaler = loadExternalScaler();
type Client = InstanceType<typeof ExternalScaler>;

interface Scaler {
  process: ChildProcess;
  address: string;
  http: string | null;
  logs: () => string;
  exited: Promise<number | null>;
}

async function startScaler(dir: string): Promise<Scaler> {
  const child = spawn(process.execPath, [BIN, 'scaler', '--config', 'qscale.yml'], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '' },
  });
  let logs = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    logs += chunk;
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    logs += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await waitFor(() => /"msg":"qscale scaler ready"/.test(logs) || child.exitCode !== null, {
    timeoutMs: 30_000,
    what: 'the ready line of qscale scaler',
  });
  const ready = logs.split('\n').find((line) => line.includes('"msg":"qscale scaler ready"'));
  if (!ready) throw new Error(`qscale scaler did not start:\n${logs}`);
  const fields = JSON.parse(ready) as { externalScaler: string; http: string | null };
  return {
    process: child,
    address: fields.externalScaler,
    http: fields.http,
    logs: () => logs,
    exited,
  };
}

function ref(queue: string | undefined) {
  return {
    name: 'workers',
    namespace: 'default',
    scalerMetadata: queue === undefined ? {} : { queue, scalerAddress: 'ignored' },
  };
}

function call<Res>(client: Client, method: string, request: unknown, metadata = new Metadata()) {
  return new Promise<Res>((resolve, reject) => {
    const fn = client[method] as (
      req: unknown,
      md: Metadata,
      cb: (error: ServiceError | null, res: Res) => void,
    ) => void;
    fn.call(client, request, metadata, (error, response) =>
      error ? reject(error) : resolve(response),
    );
  });
}

async function metric(client: Client, queue: string, metadata?: Metadata): Promise<number> {
  const response = await call<{ metricValues: { metricName: string; metricValue: number }[] }>(
    client,
    'GetMetrics',
    { scaledObjectRef: ref(queue), metricName: `qscale-${queue}` },
    metadata,
  );
  return response.metricValues[0]?.metricValue ?? Number.NaN;
}

async function isActive(client: Client, queue: string, metadata?: Metadata): Promise<boolean> {
  return (await call<{ result: boolean }>(client, 'IsActive', ref(queue), metadata)).result;
}

/** GetMetrics, once the first tick has decided (before it, the service says UNAVAILABLE). */
async function firstMetric(client: Client, queue: string, metadata?: Metadata): Promise<number> {
  let value = Number.NaN;
  await waitFor(
    async () => {
      try {
        value = await metric(client, queue, metadata);
        return true;
      } catch (error) {
        if ((error as ServiceError).code === status.UNAVAILABLE) return false;
        throw error;
      }
    },
    { timeoutMs: 30_000, what: `a first decision for ${queue}` },
  );
  return value;
}

async function failure(work: Promise<unknown>): Promise<ServiceError> {
  try {
    await work;
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error('the call succeeded; it was expected to fail');
}

/** StreamIsActive: the state now, then each change. */
function openStream(grpc: Client, request: unknown, metadata = new Metadata()) {
  const open = grpc.StreamIsActive as (
    req: unknown,
    md: Metadata,
  ) => ClientReadableStream<{ result: boolean }>;
  return open.call(grpc, request, metadata);
}

function client(address: string, creds: ChannelCredentials = credentials.createInsecure()) {
  return new ExternalScaler(address, creds);
}

describe('qscale scaler: KEDA external scaler over loopback', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });

  async function setup(extra: string, queues: string) {
    const dir = await mkdtemp(join(tmpdir(), 'qscale-scaler-'));
    const prefix = `qscale-test-scaler-${randomUUID().slice(0, 8)}`;
    const redis = connectRedis();
    cleanups.push(async () => {
      await deleteKeys(redis, `${prefix}:*`);
      await redis.quit();
      await rm(dir, { recursive: true, force: true });
    });
    await writeFile(
      join(dir, 'qscale.yml'),
      `redis: { url: "${redisUrl()}" }
tick: 1s
http: { port: 0 }
${extra}
defaults:
  driver: bullmq
  prefix: ${prefix}
  # Run by the pods, never by qscale scaler: no such program on this host is fine.
  command: [qscale-test-no-such-worker]
  scaling: { cooldown: 0s, downStabilization: 0s }
queues:
${queues}
`,
    );
    return { dir, prefix };
  }

  it('answers 0 and inactive for an empty queue, then the decided workers for 2,000 jobs, pushed on the stream; counts BullMQ workers from the backend', async () => {
    const { dir, prefix } = await setup(
      'externalScaler: { port: 0 }',
      `  mail:
    workers: { min: 0, max: 5 }
  busy:
    workers: { min: 0, max: 3 }`,
    );
    const scaler = await startScaler(dir);
    cleanups.push(async () => {
      scaler.process.kill('SIGKILL');
    });
    expect(scaler.address).toMatch(/^127\.0\.0\.1:\d+$/);
    const grpc = client(scaler.address);
    cleanups.push(async () => grpc.close());

    // An empty queue: no worker wanted.
    expect(await firstMetric(grpc, 'mail')).toBe(0);
    expect(await isActive(grpc, 'mail')).toBe(false);
    const spec = await call<{ metricSpecs: { metricName: string; targetSize: number }[] }>(
      grpc,
      'GetMetricSpec',
      ref('mail'),
    );
    expect(spec.metricSpecs).toEqual([
      { metricName: 'qscale-mail', targetSize: 1, targetSizeFloat: 1 },
    ]);

    // The stream says the state at once, then each change.
    const seen: boolean[] = [];
    const stream = openStream(grpc, ref('mail'));
    stream.on('data', (message) => seen.push(message.result));
    stream.on('error', () => {});
    cleanups.push(async () => stream.cancel());
    await waitFor(() => seen.length > 0, { timeoutMs: 15_000, what: 'the stream state' });
    expect(seen).toEqual([false]);

    const queue = new Queue('mail', { connection: { url: redisUrl() }, prefix });
    cleanups.push(() => queue.close());
    await queue.addBulk(
      Array.from({ length: 2_000 }, (_, index) => ({ name: 'm', data: { index } })),
    );

    await waitFor(() => seen.includes(true), { timeoutMs: 30_000, what: 'StreamIsActive true' });
    expect(seen.slice(0, 2)).toEqual([false, true]);
    let desired = 0;
    await waitFor(
      async () => {
        desired = await metric(grpc, 'mail');
        return desired >= 1;
      },
      { timeoutMs: 30_000, what: 'a metric of at least 1' },
    );
    expect(desired).toBeLessThanOrEqual(5);
    expect(await isActive(grpc, 'mail')).toBe(true);

    // Workers are pods: two real BullMQ workers on `busy` are counted from CLIENT LIST.
    const workers = [1, 2].map(
      () => new Worker('busy', async () => {}, { connection: { url: redisUrl() }, prefix }),
    );
    cleanups.push(() => Promise.all(workers.map((worker) => worker.close())));
    let busy: DaemonState['queues'][number] | undefined;
    await waitFor(
      async () => {
        const state = (await (await fetch(`${scaler.http}/api/state`)).json()) as DaemonState;
        busy = state.queues.find((entry) => entry.name === 'busy');
        return busy?.workerCount?.registered === 2;
      },
      { timeoutMs: 30_000, what: 'the two busy workers counted' },
    );
    expect(busy?.workerCount?.source).toBe('bullmq-clients');
    expect(busy?.workers.running).toBe(2);
    expect(busy?.pool).toBeNull();
    expect(scaler.logs()).toMatch(/"msg":"counting the workers of busy from bullmq-clients"/);

    // What KEDA gets wrong: a queue qscale does not know, a trigger without a queue.
    const unknown = await failure(metric(grpc, 'nope'));
    expect(unknown.code).toBe(status.NOT_FOUND);
    expect(unknown.details).toBe(
      `queue "nope" (ScaledObject default/workers) is not in qscale's configuration; configured: mail, busy`,
    );
    const missing = await failure(call(grpc, 'IsActive', ref(undefined)));
    expect(missing.code).toBe(status.INVALID_ARGUMENT);
    expect(missing.details).toContain(`the trigger's metadata has no queue`);
    const streamMissing = openStream(grpc, ref('nope'));
    const streamError = await new Promise<ServiceError>((resolve) =>
      streamMissing.on('error', resolve),
    );
    expect(streamError.code).toBe(status.NOT_FOUND);

    // A reload checks no worker program either (there is none here).
    scaler.process.kill('SIGHUP');
    await waitFor(() => /"msg":"configuration reloaded"/.test(scaler.logs()), {
      timeoutMs: 30_000,
      what: 'the configuration reloaded',
    });

    scaler.process.kill('SIGTERM');
    expect(await scaler.exited).toBe(0);
  }, 120_000);

  it('checks the token on every call, over TLS', async () => {
    const certs = await createTestCertificates();
    cleanups.push(() => certs.remove());
    const token = `scaler-token-${randomUUID()}`;
    const { dir } = await setup(
      `externalScaler:
  port: 0
  token: ${token}
  tls: { cert: ${certs.certFile}, key: ${certs.keyFile} }`,
      '  mail: {}',
    );
    const scaler = await startScaler(dir);
    cleanups.push(async () => {
      scaler.process.kill('SIGKILL');
    });
    const ca = await readFile(certs.caFile);
    const grpc = client(scaler.address, credentials.createSsl(ca));
    cleanups.push(async () => grpc.close());

    const bearer = new Metadata();
    bearer.set('authorization', `Bearer ${token}`);
    expect(await firstMetric(grpc, 'mail', bearer)).toBe(0);

    const none = await failure(metric(grpc, 'mail'));
    expect(none.code).toBe(status.UNAUTHENTICATED);
    expect(none.details).toBe('missing authorization: Bearer <token>');
    const wrong = new Metadata();
    wrong.set('authorization', `Bearer ${token}x`);
    const refused = await failure(isActive(grpc, 'mail', wrong));
    expect(refused.code).toBe(status.UNAUTHENTICATED);
    const stream = openStream(grpc, ref('mail'), wrong);
    const streamError = await new Promise<ServiceError>((resolve) => stream.on('error', resolve));
    expect(streamError.code).toBe(status.UNAUTHENTICATED);
    // The token is never printed.
    expect(scaler.logs()).not.toContain(token);

    // Without TLS, the client cannot talk to it at all.
    const plain = client(scaler.address);
    cleanups.push(async () => plain.close());
    const plainError = await failure(metric(plain, 'mail', bearer));
    expect(plainError.code).toBe(status.UNAVAILABLE);

    scaler.process.kill('SIGTERM');
    expect(await scaler.exited).toBe(0);
  }, 90_000);

  it('validate and scaler refuse a non-loopback listener without TLS and a client check', async () => {
    const { dir } = await setup('externalScaler: { host: 0.0.0.0, port: 0 }', '  mail: {}');
    const expected =
      'externalScaler.host: listening on 0.0.0.0 (not loopback) needs TLS and a client check: set tls.cert and tls.key and token or tls.clientCa (mutual TLS), or listen on 127.0.0.1';
    const validate = await runCli(['validate', '--config', 'qscale.yml'], dir);
    expect(validate.code).toBe(1);
    expect(validate.stderr + validate.stdout).toContain(expected);
    const scaler = await runCli(['scaler', '--config', 'qscale.yml'], dir);
    expect(scaler.code).toBe(1);
    expect(scaler.stderr).toContain(expected);
    expect(scaler.stderr).toContain(
      'qscale scaler: qscale.yml is not a usable configuration; nothing was started',
    );
  }, 60_000);
});

function runCli(
  args: string[],
  cwd: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
