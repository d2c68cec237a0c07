import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { credentials, type ServiceError, status } from '@grpc/grpc-js';
import { connectRedis, deleteKeys, redisUrl, waitFor } from '@qscale/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { type Daemon, loadExternalScaler, parseConfig, startDaemon } from '../src/index.js';

// Scaler mode (`qscale scaler`: workers elsewhere, counted from the backend; KEDA's external
// scaler served) with a worker group: two real RQ workers listening on both member queues
// (`rq worker high default`, as the group's pods would) are the group's two pods, counted once
// each, not once per queue they listen on. A real gRPC client asks over loopback.

const ExternalScaler = loadExternalScaler();
type Client = InstanceType<typeof ExternalScaler>;
const PYTHON = '/usr/bin/python3';

function unary<T>(client: Client, method: string, request: unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const fn = client[method] as (
      req: unknown,
      cb: (error: ServiceError | null, res: T) => void,
    ) => void;
    fn.call(client, request, (error, response) => (error ? reject(error) : resolve(response)));
  });
}

function getMetrics(client: Client, queue: string): Promise<number> {
  return unary<{ metricValues: { metricValue: number }[] }>(client, 'GetMetrics', {
    scaledObjectRef: { name: 'web-workers', namespace: 'n', scalerMetadata: { queue } },
    metricName: `qscale-${queue}`,
  }).then((response) => response.metricValues[0]?.metricValue ?? Number.NaN);
}

describe('scaler mode with a worker group', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  let daemon: Daemon | null = null;
  afterEach(async () => {
    await daemon?.stop();
    daemon = null;
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });

  it("counts the group's pods once (RQ workers on both member queues), answers the group over gRPC and points a member's trigger at the group", async () => {
    const base = `qscale-test-rqg-${randomUUID().slice(0, 8)}`;
    const names = [`${base}-a`, `${base}-b`];
    const redis = connectRedis();
    cleanups.push(async () => {
      await deleteKeys(redis, `rq:worker:${base}*`);
      await deleteKeys(redis, `rq:workers:${base}*`);
      await deleteKeys(redis, `rq:queue:${base}*`);
      await redis.srem('rq:workers', ...names.map((name) => `rq:worker:${name}`));
      await redis.srem('rq:queues', `rq:queue:${base}-high`, `rq:queue:${base}-default`);
      await redis.quit();
    });
    const workers = names.map((name) => {
      const child: ChildProcess = spawn(
        PYTHON,
        [
          '-m',
          'rq.cli',
          'worker',
          '--url',
          redisUrl(),
          '--name',
          name,
          `${base}-high`,
          `${base}-default`,
        ],
        { env: { PATH: process.env.PATH ?? '', PYTHONDONTWRITEBYTECODE: '1' } },
      );
      let output = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk;
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        output += chunk;
      });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      cleanups.push(async () => {
        child.kill('SIGKILL');
        await exited;
      });
      return { output: () => output };
    });
    // RQ's ready line: registered in both queues' worker sets, waiting for jobs.
    for (const worker of workers) {
      await waitFor(() => worker.output().includes('*** Listening on'), {
        timeoutMs: 60_000,
        what: 'an RQ worker listening',
      });
    }

    const config = parseConfig(
      `redis: { url: "${redisUrl()}" }
tick: 300ms
http: { enabled: false }
externalScaler: { port: 0 }
defaults: { scaling: { cooldown: 0s, downStabilization: 0s } }
queues:
  high: { driver: rq, name: "${base}-high", slo: { pickup: 5s } }
  default: { driver: rq, name: "${base}-default", slo: { pickup: 1m } }
groups:
  web:
    queues: [high, default]
    # Run by the pods, never by the scaler.
    command: [qscale-test-no-such-worker]
    workers: { min: 0, max: 5 }
`,
      { env: {} },
    );
    daemon = await startDaemon({ config, workersElsewhere: true });
    const web = () => daemon?.state().queues.find((queue) => queue.name === 'web');
    await waitFor(() => web()?.workerCount?.registered === 2 && web()?.lastDecision != null, {
      timeoutMs: 30_000,
      what: "the group's pods counted and a decision",
    });
    // Two pods, each listening on two queues: two, not four, and from RQ's registry.
    expect(web()?.workerCount).toMatchObject({ registered: 2, source: 'rq-workers' });
    expect(web()?.workers.running).toBe(2);
    // The loop decided from the two pods that run (a fallback to the decision would say 0).
    expect(web()?.lastDecision?.from).toBe(2);

    const client = new ExternalScaler(daemon.scalerAddress ?? '', credentials.createInsecure());
    cleanups.push(async () => client.close());
    const desired = await getMetrics(client, 'web');
    const decided = daemon
      .state()
      .decisions.filter((d) => d.queue === 'web')
      .map((d) => d.to);
    expect([web()?.lastDecision?.to, ...decided]).toContain(desired);

    // A trigger naming a member would scale the group's pods from one queue: refused, naming
    // the group to use instead.
    const error = await getMetrics(client, 'high').then(
      () => null,
      (failure: ServiceError) => failure,
    );
    expect(error?.code).toBe(status.NOT_FOUND);
    expect(error?.details).toBe(
      'queue "high" (ScaledObject n/web-workers) is served by worker group "web", whose pods are scaled as one: name the group in the trigger (queue: web)',
    );
  }, 120_000);
});
