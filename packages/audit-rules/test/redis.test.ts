import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deleteKeys, type PrivateRedis, startPrivateRedis, uniquePrefix } from '@qscale/testkit';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AuditReport,
  auditExitCode,
  formatJson,
  formatMarkdown,
  formatSarif,
  runAudit,
} from '../src/index.js';

// Two private servers: one as redis-server ships (no password), one with ACLs: the default
// user off and an application user with a password and no @dangerous commands.
const APP_PASSWORD = 'app-pw-0c4f9e2a7b';
let openServer: PrivateRedis;
let lockedServer: PrivateRedis;
const tmp: string[] = [];

beforeAll(async () => {
  [openServer, lockedServer] = await Promise.all([
    startPrivateRedis(),
    startPrivateRedis([
      '--user',
      'app',
      'on',
      `>${APP_PASSWORD}`,
      '~*',
      '&*',
      '+@all',
      '-@dangerous',
      '--user',
      'blind',
      'on',
      '>blind-pw-5e1d',
      '+@connection',
      '+ping',
    ]),
  ]);
  // The default user is switched off after boot: testkit's readiness probe needs an open PING.
  const admin = new Redis(lockedServer.url, { maxRetriesPerRequest: 1 });
  await admin.call('ACL', 'SETUSER', 'default', 'off', 'resetpass', '>default-pw-77aa');
  admin.disconnect();
});

afterAll(async () => {
  await Promise.all([openServer?.stop(), lockedServer?.stop()]);
  await Promise.all(tmp.map((dir) => rm(dir, { recursive: true, force: true })));
});

const open = (report: AuditReport, ruleId: string) =>
  report.findings.filter((f) => f.ruleId === ruleId && f.status === 'open');

/** Counts writes the server has seen since start: any write by the audit would move it. */
async function writesSeen(redis: Redis): Promise<number> {
  const info = await redis.info('persistence');
  return Number(/rdb_changes_since_last_save:(\d+)/.exec(info)?.[1]);
}

describe('live Redis checks tell an open server from a locked one', () => {
  it('the open server: anonymous PONG (RDS-001) and dangerous commands for the default user (RDS-003)', async () => {
    const report = await runAudit({ redis: { url: openServer.url }, queueData: false });
    expect(report.run.targets).toEqual([
      expect.objectContaining({ kind: 'redis', status: 'scanned' }),
    ]);
    const rds001 = open(report, 'RDS-001');
    expect(rds001.map((f) => f.message)).toContain(
      '127.0.0.1 answers PING without any credentials: anyone who reaches it can read and inject jobs',
    );
    expect(rds001[0]?.severity).toBe('high');
    expect(open(report, 'RDS-003')[0]?.message).toBe(
      'the audited user "default" may run FLUSHALL, CONFIG, DEBUG, MODULE, SHUTDOWN',
    );
    expect(report.unknown.map((u) => u.ruleId)).not.toContain('RDS-001');
    expect(auditExitCode(report, { failOn: 'high' })).toBe(1);
  });

  it('the locked server: no RDS-001/RDS-003 finding; what the app user may not read is "unknown", not an error', async () => {
    const report = await runAudit({
      redis: { url: lockedServer.url, username: 'app', password: APP_PASSWORD },
      queueData: false,
    });
    expect(open(report, 'RDS-001')).toEqual([]);
    expect(open(report, 'RDS-003')).toEqual([]);
    expect(report.errors).toEqual([]);
    const unknown = Object.fromEntries(report.unknown.map((u) => [u.ruleId, u.reason]));
    expect(unknown['RDS-002']).toMatch(/^CONFIG GET: NOPERM/);
    expect(unknown['RDS-003']).toMatch(/^ACL DRYRUN: NOPERM/);
    expect(report.run.targets[0]).toMatchObject({ kind: 'redis', status: 'partial' });
    // Unknown is not incomplete: the server was reached and audited.
    expect(auditExitCode(report, { failOn: 'high' })).toBe(0);
    expect(formatJson(report)).not.toContain(APP_PASSWORD);
  });

  it('wrong credentials make the target unreachable: exit 3 (scan incomplete), never "clean"', async () => {
    const report = await runAudit({
      redis: { url: lockedServer.url, username: 'app', password: 'not-the-password' },
    });
    expect(report.run.targets.map((t) => [t.kind, t.status])).toEqual([
      ['redis', 'unreachable'],
      ['queue-data', 'unreachable'],
    ]);
    expect(auditExitCode(report)).toBe(3);
    expect(auditExitCode(report, { allowPartial: true })).toBe(0);
  });

  it('a user that may not SCAN leaves queue-data partial, with no error', async () => {
    const report = await runAudit({
      redis: { url: lockedServer.url, username: 'blind', password: 'blind-pw-5e1d' },
    });
    expect(report.errors).toEqual([]);
    expect(report.run.targets.find((t) => t.kind === 'queue-data')).toMatchObject({
      status: 'partial',
      error: 'NOPERM: SCAN',
    });
  });
});

describe('server settings', () => {
  it('RDS-005: an eviction policy other than noeviction with maxmemory set can drop jobs', async () => {
    const evicting = await startPrivateRedis([
      '--maxmemory',
      '64mb',
      '--maxmemory-policy',
      'allkeys-lru',
    ]);
    try {
      const report = await runAudit({ redis: { url: evicting.url }, queueData: false });
      expect(open(report, 'RDS-005').map((f) => f.message)).toEqual([
        'maxmemory 67108864 bytes with maxmemory-policy allkeys-lru: jobs are evicted under pressure',
      ]);
    } finally {
      await evicting.stop();
    }
    const defaults = await runAudit({ redis: { url: openServer.url }, queueData: false });
    expect(open(defaults, 'RDS-005')).toEqual([]);
  });

  it('RDS-006: the version from INFO is compared with the CVE-2025-49844 fixes (8.2.2, 7.4.6)', async () => {
    const redis = new Redis(openServer.url, { maxRetriesPerRequest: 1 });
    const version = /redis_version:([\d.]+)/.exec(await redis.info('server'))?.[1] ?? '';
    redis.disconnect();
    const [major = 0, minor = 0, patch = 0] = version.split('.').map(Number);
    const n = major * 1e6 + minor * 1e3 + patch;
    const vulnerable = major >= 8 ? n < 8_002_002 : n < 7_004_006;
    const report = await runAudit({ redis: { url: openServer.url }, queueData: false });
    expect(open(report, 'RDS-006').map((f) => [f.message, f.severity])).toEqual(
      vulnerable
        ? [[`Redis ${version} predates the CVE-2025-49844 fixes (8.2.2 / 7.4.6)`, 'critical']]
        : [],
    );
  });
});

describe('queue contents (sampled read-only)', () => {
  let prefix: string;
  let redis: Redis;
  let billing: Queue | undefined;
  let backups: Queue | undefined;
  let worker: Worker | undefined;

  // Test secrets are assembled at run time so secret scanners do not flag this file.
  const SLACK = [
    'https://hooks.slack.com/services',
    'T0QSCALE1',
    'B0QSCALE2',
    'Xy7Wq9Lm3Np5Rt8Vz1Bc4Df6',
  ].join('/');
  const STRIPE = ['sk', 'live', '51QscaleAuditTestKey0987'].join('_');
  const DSN = `postgres://backup:${'S3cr3tBackupPw'}@10.0.0.5:5432/app`;
  const BOT = `api.telegram.org/bot${'123456789'}:AAHqscaleAuditTelegramTokenValue012`;

  beforeAll(async () => {
    prefix = uniquePrefix('audit-queue-data');
    redis = new Redis(openServer.url, { maxRetriesPerRequest: 1 });
    const cls = 'App\\Jobs\\SendMessageToSlackJob';
    const member = `\0${cls}\0webhookUrl`;
    const command = `O:${cls.length}:"${cls}":1:{s:${member.length}:"${member}";s:${SLACK.length}:"${SLACK}";}`;
    const payload = (name: string, cmd: string, extra = '') =>
      JSON.stringify({
        uuid: 'u-1',
        displayName: name,
        job: 'Illuminate\\Queue\\CallQueuedHandler@call',
        data: { commandName: name, command: cmd },
        extra,
      });
    await redis.rpush(`${prefix}queues:default`, payload(cls, command));
    await redis.rpush(
      `${prefix}queues:secure`,
      payload(cls, 'eyJpdiI6IkFCQyIsInZhbHVlIjoiZGVmIiwibWFjIjoiMTIzIiwidGFnIjoiIn0='),
    );
    await redis.rpush(
      `${prefix}queues:imports`,
      payload('App\\Jobs\\ImportCsv', 'O:18:"App\\Jobs\\ImportCsv":0:{}', 'x'.repeat(1_200_000)),
    );
    await redis.rpush(
      `${prefix}queues:default`,
      payload('App\\Jobs\\EvilGadget', 'O:20:"App\\Jobs\\EvilGadget":0:{}'),
    );
    await redis.hset(`${prefix}horizon:9b1c3f0e-0000-4000-8000-000000000001`, {
      status: 'failed',
      name: 'App\\Jobs\\SendMessageToTelegramJob',
      payload: payload('App\\Jobs\\SendMessageToTelegramJob', 'eyJpdiI6IkFCQyJ9'),
      exception: `GuzzleHttp\\Exception\\ConnectException: cURL error 6: Could not resolve host (see https://curl.haxx.se/libcurl/c/libcurl-errors.html) for https://${BOT}/sendMessage`,
    });

    // BullMQ through the real library: one waiting job carrying a secret, one that failed
    // in a real worker with a DSN in its error.
    const connection = { host: '127.0.0.1', port: openServer.port };
    billing = new Queue('billing', { connection, prefix: `${prefix}bull` });
    await billing.add('charge', { customerId: 7, apiToken: STRIPE });
    backups = new Queue('backups', { connection, prefix: `${prefix}bull` });
    await backups.add('backup', { databaseId: 3 });
    const failing = new Worker(
      'backups',
      async (): Promise<void> => {
        throw new Error(`could not connect to ${DSN}`);
      },
      { connection, prefix: `${prefix}bull` },
    );
    worker = failing;
    await new Promise<void>((resolve) => failing.once('failed', () => resolve()));
    await failing.close();
  });

  afterAll(async () => {
    await billing?.close();
    await backups?.close();
    await worker?.close(true);
    await deleteKeys(redis, `${prefix}*`);
    redis.disconnect();
  });

  it('finds the plaintext secrets, the oversized payload and the leaking failures, without writing', async () => {
    const before = await writesSeen(redis);
    const report = await runAudit({ redis: { url: openServer.url } });
    expect(await writesSeen(redis)).toBe(before);

    const rdq001 = open(report, 'RDQ-001');
    expect(rdq001.map((f) => f.message)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^App\\Jobs\\SendMessageToSlackJob in .*queues:default carries properties webhookUrl and values slack-webhook http… \(77 chars, sha256:[0-9a-f]{12}\) in plaintext$/,
        ),
        expect.stringMatching(
          /^charge in .*bull:billing:\d+ carries properties apiToken and values stripe sk_l… /,
        ),
      ]),
    );
    // The encrypted payload of the same class is not a finding.
    expect(rdq001.some((f) => f.location.resource?.includes('queues:secure'))).toBe(false);

    const rdq002 = open(report, 'RDQ-002').map((f) => f.message);
    expect(rdq002).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^failed job backup in .*bull:backups:\d+ keeps url-credentials in its failedReason$/,
        ),
        expect.stringMatching(
          /^failed job App\\Jobs\\SendMessageToTelegramJob in .*horizon:9b1c.* keeps telegram-bot in its exception$/,
        ),
      ]),
    );

    const rdq003 = open(report, 'RDQ-003');
    expect(rdq003).toHaveLength(1);
    expect(rdq003[0]).toMatchObject({ severity: 'high' });
    expect(rdq003[0]?.message).toMatch(
      /^App\\Jobs\\ImportCsv payload in .*queues:imports is 1200\d{3} bytes \(limit 1048576\)$/,
    );

    // No tree was scanned, so unexpected classes cannot be judged: unknown, not a guess.
    expect(report.unknown.find((u) => u.ruleId === 'RDQ-004')?.reason).toMatch(
      /no Laravel project/,
    );

    for (const text of [
      formatJson(report),
      formatMarkdown(report),
      formatSarif(report, { includeRuntime: true }),
    ]) {
      for (const secret of [
        SLACK,
        STRIPE,
        'S3cr3tBackupPw',
        'AAHqscaleAuditTelegramTokenValue012',
      ]) {
        expect(text).not.toContain(secret);
      }
    }
  });

  it('with the Laravel tree: an unknown job class and an encryption downgrade are injection indicators (RDQ-004)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qscale-audit-rdq004-'));
    tmp.push(dir);
    const fixture = fileURLToPath(
      new URL('./fixtures/pairs/r03-job002-slack-webhook/fixed', import.meta.url),
    );
    await cp(fixture, dir, { recursive: true });
    const report = await runAudit({ path: dir, redis: { url: openServer.url } });
    const messages = open(report, 'RDQ-004').map((f) => f.message);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^App\\Jobs\\EvilGadget in .*queues:default is not a queued class of the scanned project$/,
        ),
        expect.stringMatching(
          /^App\\Jobs\\SendMessageToSlackJob implements ShouldBeEncrypted but a plaintext payload of it sits in .*queues:default$/,
        ),
      ]),
    );
    expect(messages.some((m) => m.startsWith('App\\Jobs\\SendMessageToSlackJob in'))).toBe(false);
  });
});
