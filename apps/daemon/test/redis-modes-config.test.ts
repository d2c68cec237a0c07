import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, checkConfig, formatProblem, parseConfig } from '../src/index.js';
import { readerSource, secretsOf } from '../src/runtime/wiring.js';

// The Redis deployments of issue 12 as the configuration file writes them: Sentinel, Unix
// sockets, client-certificate TLS, Cluster. The reader's own tests run them against real
// servers; these check the file's forms, its refusals and where they point.

function problems(text: string): string[] {
  try {
    parseConfig(text, { fileName: 'qscale.yml', env: {} });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.map(formatProblem);
  }
  throw new Error('expected the configuration to be rejected');
}

const queue = (driver: string, extra = '') =>
  `    driver: ${driver}\n    command: [node, w.js]\n${extra}`;

describe('redis: Sentinel', () => {
  const text = `redis:
  sentinel:
    masterName: mymaster
    sentinels: ["10.0.0.1:26379", "10.0.0.2", "[fd00::3]:26380"]
    password: sentinel-s3cret
  password: master-s3cret
queues:
  mail:
${queue('laravel')}  local:
${queue('laravel', '    redis: { url: "redis+unix:///run/redis/redis.sock?db=2" }\n')}`;

  it('reads the Sentinels as host:port (26379 by default) and hands the reader no url', () => {
    const config = parseConfig(text, { env: {} });
    expect(config.redis.sentinel).toEqual({
      masterName: 'mymaster',
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: '10.0.0.2', port: 26379 },
        { host: 'fd00::3', port: 26380 },
      ],
      username: null,
      password: 'sentinel-s3cret',
    });
    // A name for messages and alerts; the reader asks the Sentinels instead.
    expect(config.redis.url).toBe('redis+sentinel://10.0.0.1:26379/mymaster');
    const [mail, local] = config.queues;
    expect(mail && 'url' in readerSource(mail).redis).toBe(false);
    // A queue that names its own url leaves the top-level Sentinels behind.
    expect(local?.redis).toMatchObject({ url: 'redis+unix:///run/redis/redis.sock?db=2' });
    expect(local?.redis.sentinel).toBeNull();
    expect(secretsOf(config)).toEqual(expect.arrayContaining(['master-s3cret', 'sentinel-s3cret']));
  });

  it('refuses url and sentinel together, Sentinel with Cluster, and a malformed Sentinel', () => {
    expect(
      problems(
        `redis:\n  url: redis://h:6379\n  sentinel: { masterName: m, sentinels: ["h:26379"] }\nqueues:\n  a:\n${queue('rq')}`,
      ),
    ).toEqual([
      'redis.url: set either url or sentinel, not both (the Sentinels name the master) (qscale.yml:2:8)',
    ]);
    expect(
      problems(
        `redis:\n  cluster: true\n  sentinel: { masterName: m, sentinels: ["h:26379"] }\nqueues:\n  a:\n${queue('bullmq', '    prefix: "{bull}"\n')}`,
      ),
    ).toEqual([
      'redis.cluster: Sentinel and Cluster cannot be combined: choose one (qscale.yml:2:12)',
    ]);
    expect(
      problems(
        `redis:\n  sentinel: { masterName: m, sentinels: ["h:port"], password: hunter2-x }\nqueues:\n  a:\n${queue('rq')}`,
      ),
    ).toEqual([
      'redis.sentinel.sentinels[0]: expected a Sentinel as "host:port", got "h:port" (qscale.yml:2:42)',
    ]);
  });
});

describe('redis: Unix sockets and client certificates', () => {
  it('accepts redis+unix:// and unix: URLs; two sockets are two servers', () => {
    const config = parseConfig(
      `queues:\n  a:\n${queue('rq', '    redis: { url: "redis+unix:///run/a.sock" }\n')}  b:\n${queue('rq', '    name: a\n    redis: { url: "unix:///run/b.sock?db=1" }\n')}`,
      { env: {} },
    );
    expect(config.queues.map((q) => q.redis.url)).toEqual([
      'redis+unix:///run/a.sock',
      'unix:///run/b.sock?db=1',
    ]);
    expect(
      problems(
        `redis:\n  url: "redis+unix:///run/a.sock"\n  tls: { ca: /ca.pem }\nqueues:\n  a:\n${queue('rq')}`,
      ),
    ).toEqual([
      'redis.tls: TLS is not used over a Unix socket: remove tls or use rediss:// (qscale.yml:3:8)',
    ]);
  });

  it('wants a client certificate with its key', () => {
    expect(
      problems(
        `redis:\n  url: "rediss://h:6380"\n  tls: { cert: /client.pem }\nqueues:\n  a:\n${queue('rq')}`,
      ),
    ).toEqual([
      'redis.tls: set cert and key together (a client certificate needs its key) (qscale.yml:3:8)',
    ]);
  });

  describe('checkConfig (what qscaled and qscale validate run)', () => {
    let dir = '';
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'qscale-tlsfiles-'));
      await writeFile(join(dir, 'ca.pem'), 'not read here\n');
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('names each TLS file it cannot read, at its key', async () => {
      const config = parseConfig(
        `redis:\n  url: "rediss://h:6380"\n  tls:\n    ca: ${join(dir, 'ca.pem')}\n    cert: ${join(dir, 'client.pem')}\n    key: ${join(dir, 'client.key')}\nqueues:\n  a:\n${queue('rq')}`,
        { fileName: 'qscale.yml', env: {} },
      );
      const error = await checkConfig(config, { pools: false }).then(
        () => null,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems.map(formatProblem)).toEqual([
        `redis.tls.cert: cannot read the TLS client certificate file ${join(dir, 'client.pem')} (ENOENT) (qscale.yml:5:11)`,
        `redis.tls.key: cannot read the TLS client key file ${join(dir, 'client.key')} (ENOENT) (qscale.yml:6:10)`,
      ]);
    });
  });
});

describe('redis: Cluster', () => {
  it('accepts queues whose keys share a hash tag', () => {
    const config = parseConfig(
      `redis: { url: "redis://10.0.0.1:7000", cluster: true }\nqueues:\n  emails:\n${queue('bullmq', '    prefix: "{bull}"\n')}  mail:\n${queue('laravel', '    name: "{default}"\n')}`,
      { env: {} },
    );
    expect(config.queues.map((q) => q.redis.cluster)).toEqual([true, true]);
  });

  it('says which queue cannot be read from a cluster and which key to change', () => {
    expect(
      problems(
        `redis: { url: "redis://10.0.0.1:7000", cluster: true, db: 1 }\nqueues:\n  mail:\n${queue('laravel')}  jobs:\n${queue('sidekiq')}  emails:\n${queue('bullmq', '    prefix: bull\n')}`,
      ),
    ).toEqual([
      'redis.db: Redis Cluster has database 0 only (qscale.yml:1:59)',
      `queues.mail.name: Laravel's keys of queue "mail" (laravel_database_queues:mail, laravel_database_queues:mail:delayed, laravel_database_queues:mail:reserved, laravel_database_queues:mail:notify) do not share a hash slot on Redis Cluster: give the queue a hash tag, e.g. "{mail}", as Laravel requires on a cluster (qscale.yml:3:3)`,
      'queues.jobs.driver: Sidekiq is not supported on Redis Cluster: its global keys (queues, processes, schedule, retry, stat:*) cannot share a hash slot with a queue (qscale.yml:7:13)',
      `queues.emails.prefix: BullMQ's keys of queue "emails" (bull:emails:wait, bull:emails:active, bull:emails:<job id>, ...) do not share a hash slot on Redis Cluster: use a prefix with a hash tag, e.g. "{bull}", as BullMQ requires on a cluster (qscale.yml:12:13)`,
    ]);
  });
});
