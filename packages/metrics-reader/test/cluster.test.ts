import { freePort, LaravelRedisQueue, onFreePorts, waitFor } from '@qscale/testkit';
import { Queue } from 'bullmq';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetricsReader, type QueueSource } from '../src/index.js';
import { keySlot } from '../src/internal/cluster-layout.js';
import { redisCli, type Server, startServer } from './helpers/servers.js';

// Three masters, no replicas, private to this file.
const nodes: Server[] = [];
const direct: Redis[] = [];
let cluster: Cluster;

function node(port: number): Redis {
  const redis = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  direct.push(redis);
  return redis;
}

/**
 * One cluster node on a free port, with its cluster bus on another free port (by default the
 * bus is the port + 10000, which nothing checked was free).
 */
function startNode(): Promise<Server> {
  return onFreePorts(async () => {
    const port = await freePort();
    const busPort = await freePort();
    return startServer(
      [
        '--port',
        String(port),
        '--cluster-port',
        String(busPort),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        'nodes.conf',
        '--cluster-node-timeout',
        '5000',
        // A master going down (last test) leaves the others serving their slots.
        '--cluster-require-full-coverage',
        'no',
      ],
      { port },
    );
  });
}

beforeAll(async () => {
  for (let index = 0; index < 3; index++) nodes.push(await startNode());
  await redisCli([
    '--cluster',
    'create',
    ...nodes.map((server) => `127.0.0.1:${server.port}`),
    '--cluster-replicas',
    '0',
    '--cluster-yes',
  ]);
  for (const server of nodes) {
    const redis = node(server.port);
    await waitFor(async () => /cluster_state:ok/.test(String(await redis.cluster('INFO'))), {
      timeoutMs: 60_000,
      what: `cluster node ${server.port} to report cluster_state:ok`,
    });
  }
  cluster = new Cluster([{ host: '127.0.0.1', port: nodes[0]?.port as number }]);
}, 120_000);

afterAll(async () => {
  // A master is down by now: disconnect rather than wait for its QUIT.
  cluster?.disconnect();
  for (const redis of direct) redis.disconnect();
  for (const server of nodes) await server.stop();
});

const seedUrl = () => `redis://127.0.0.1:${nodes[0]?.port}`;

/** The node (port) that owns a slot, asked of the cluster itself. */
async function ownerOf(slot: number): Promise<{ port: number; id: string }> {
  const ranges = (await node(nodes[0]?.port as number).cluster('SLOTS')) as unknown as [
    number,
    number,
    [string, number, string],
  ][];
  const range = ranges.find(([start, end]) => slot >= start && slot <= end);
  if (!range) throw new Error(`no owner for slot ${slot}`);
  return { port: Number(range[2][1]), id: String(range[2][2]) };
}

describe('Redis Cluster', () => {
  it('computes the same hash slot as Redis, hash tags included', async () => {
    const redis = node(nodes[0]?.port as number);
    for (const key of ['bull', '{bull}:emails:wait', 'queues:{default}', 'a{}b', '{}{x}', 'é✓']) {
      expect(keySlot(key), key).toBe(Number(await redis.cluster('KEYSLOT', key)));
    }
  });

  it('reads BullMQ ({bull} prefix) and Laravel ({default} queue) on different masters, and follows ASK and MOVED while a slot moves', async () => {
    const emails = new Queue('emails', { connection: cluster, prefix: '{bull}' });
    try {
      await emails.add('send', { to: 'a@example.com' });
      await emails.add('send', { to: 'b@example.com' });
      await emails.add('later', {}, { delay: 60_000 });
      // A Laravel queue whose hash tag lives on another master than BullMQ's {bull}.
      const bullSlot = keySlot('bull');
      const bullOwner = (await ownerOf(bullSlot)).port;
      let tag = 'default';
      for (let index = 0; (await ownerOf(keySlot(tag))).port === bullOwner; index++) {
        tag = `default${index}`;
      }
      const defaultSlot = keySlot(tag);
      const laravel = new LaravelRedisQueue(cluster as unknown as Redis, {
        prefix: 'laravel_database_',
        queue: `{${tag}}`,
      });
      for (let index = 0; index < 4; index++) await laravel.push();
      await laravel.later(60);

      const sources: QueueSource[] = [
        {
          queue: 'emails',
          driver: 'bullmq',
          backendName: 'emails',
          prefix: '{bull}',
          redis: { url: seedUrl(), cluster: true },
        },
        {
          queue: 'default',
          driver: 'laravel',
          backendName: `{${tag}}`,
          prefix: null,
          redis: { url: seedUrl(), cluster: true },
        },
      ];
      const reader = createMetricsReader({ sources });
      try {
        const [bull, lara] = await reader.snapshot();
        expect(bull?.error).toBeUndefined();
        expect(bull).toMatchObject({ pending: 2, delayed: 1 });
        expect(lara?.error).toBeUndefined();
        expect(lara).toMatchObject({ pending: 4, delayed: 1 });

        // Move the Laravel queue's slot to a third master: first the list only (ASK for it), then all.
        const from = await ownerOf(defaultSlot);
        const target = nodes.find(
          (server) => server.port !== from.port && server.port !== bullOwner,
        ) as Server;
        const targetId = String(await node(target.port).cluster('MYID'));
        await node(target.port).cluster('SETSLOT', defaultSlot, 'IMPORTING', from.id);
        await node(from.port).cluster('SETSLOT', defaultSlot, 'MIGRATING', targetId);
        const list = `laravel_database_queues:{${tag}}`;
        const migrate = (key: string) =>
          node(from.port).migrate('127.0.0.1', target.port, key, 0, 5_000);
        await migrate(list);
        const [asked] = (await reader.snapshot()).slice(1);
        expect(asked?.error).toBeUndefined();
        expect(asked).toMatchObject({ pending: 4, delayed: 1 });

        // The rest of the slot (the delayed set, Laravel's notify list), then hand it over.
        const rest = (await node(from.port).cluster('GETKEYSINSLOT', defaultSlot, 100)) as string[];
        for (const key of rest) await migrate(key);
        for (const server of [target, ...nodes.filter((other) => other !== target)]) {
          await node(server.port).cluster('SETSLOT', defaultSlot, 'NODE', targetId);
        }
        expect((await ownerOf(defaultSlot)).port).toBe(target.port);
        await laravel.push();
        const [movedBull, moved] = await reader.snapshot();
        expect(moved?.error).toBeUndefined();
        expect(moved).toMatchObject({ pending: 5, delayed: 1 });
        expect(movedBull).toMatchObject({ pending: 2, delayed: 1 });
      } finally {
        await reader.close();
      }
    } finally {
      await emails.obliterate({ force: true }).catch(() => undefined);
      await emails.close();
    }
  });

  it('discovers queues on every master', async () => {
    const a = new Queue('alpha', { connection: cluster, prefix: '{bull}' });
    const b = new Queue('beta', { connection: cluster, prefix: '{other}' });
    try {
      await a.add('x', {});
      await b.add('x', {});
      const reader = createMetricsReader({ sources: [] });
      try {
        const found = await reader.discover([
          { driver: 'bullmq', prefix: '{bull}', redis: { url: seedUrl(), cluster: true } },
          { driver: 'bullmq', prefix: '{other}', redis: { url: seedUrl(), cluster: true } },
        ]);
        expect(found.map((queue) => `${queue.prefix}:${queue.backendName}`)).toEqual(
          expect.arrayContaining(['{bull}:alpha', '{other}:beta']),
        );
      } finally {
        await reader.close();
      }
    } finally {
      await a.obliterate({ force: true }).catch(() => undefined);
      await b.obliterate({ force: true }).catch(() => undefined);
      await a.close();
      await b.close();
    }
  });

  // Last: stops a master for good.
  it('keeps reading the queues of the other masters when one master is down', async () => {
    const emails = new Queue('survivor', { connection: cluster, prefix: '{bull}' });
    try {
      await emails.add('x', {});
      const bullOwner = (await ownerOf(keySlot('bull'))).port;
      let tag = 'gone';
      for (let index = 0; (await ownerOf(keySlot(tag))).port === bullOwner; index++) {
        tag = `gone${index}`;
      }
      const victimPort = (await ownerOf(keySlot(tag))).port;
      const reader = createMetricsReader({
        sources: [
          {
            queue: 'survivor',
            driver: 'bullmq',
            backendName: 'survivor',
            prefix: '{bull}',
            redis: { url: seedUrl(), cluster: true },
          },
          {
            queue: 'gone',
            driver: 'laravel',
            backendName: `{${tag}}`,
            prefix: null,
            redis: { url: seedUrl(), cluster: true },
          },
        ],
        reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
      });
      try {
        const [before] = await reader.snapshot();
        expect(before).toMatchObject({ pending: 1 });
        await nodes.find((server) => server.port === victimPort)?.stop();
        const [survivor, gone] = await reader.snapshot();
        expect(survivor?.error).toBeUndefined();
        expect(survivor?.pending).toBe(1);
        expect(gone?.error?.code).toBe('REDIS_UNREACHABLE');
        expect(gone?.pending).toBeNull();
      } finally {
        await reader.close();
      }
    } finally {
      await emails.obliterate({ force: true }).catch(() => undefined);
      await emails.close();
    }
  });
});
