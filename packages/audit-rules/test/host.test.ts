import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PrivateRedis, startPrivateRedis, waitFor } from '@qscale/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditReport, type HostOptions, runAudit } from '../src/index.js';

const children: ChildProcess[] = [];
const servers: PrivateRedis[] = [];
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qscale-audit-host-'));
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await Promise.all(servers.map((server) => server.stop()));
  await rm(dir, { recursive: true, force: true });
});

/** A process whose command line reads like a Laravel worker; it runs no PHP. */
async function fakeWorker(options: { uid?: number; gid?: number } = {}): Promise<number> {
  const queue = `audit-${randomUUID().slice(0, 8)}`;
  const child = spawn(
    process.execPath,
    ['-e', 'setTimeout(() => {}, 60000)', 'artisan', 'queue:work', `--queue=${queue}`],
    { stdio: 'ignore', ...options },
  );
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', reject);
  });
  return child.pid as number;
}

const hostAudit = (host: HostOptions): Promise<AuditReport> => runAudit({ host });

const at = (report: AuditReport, ruleId: string, resource: string) =>
  report.findings.filter(
    (f) => f.ruleId === ruleId && (f.location.resource ?? f.location.path ?? '').includes(resource),
  );

describe('host checks read /proc and files', () => {
  it('JOB-023: a worker running as root is found by its /proc entry; one running as nobody is not', async () => {
    const root = process.getuid?.() === 0;
    const mine = await fakeWorker();
    const nobody = root ? await fakeWorker({ uid: 65534, gid: 65534 }) : null;
    const report = await hostAudit({ files: [], unitDirs: [], phpIniFiles: [] });
    const rootFindings = at(report, 'JOB-023', `pid ${mine} `);
    expect(rootFindings.map((f) => f.message)).toEqual(
      root ? [`worker pid ${mine} runs as root: a job that is exploited owns the host`] : [],
    );
    if (nobody !== null) expect(at(report, 'JOB-023', `pid ${nobody} `)).toEqual([]);
    expect(report.run.targets).toEqual([{ kind: 'host', ref: '/proc', status: 'partial' }]);
  });

  it('SUP-001: supervisor and systemd units that run workers as root, kill mid-job or leave children', async () => {
    const units = join(dir, 'units');
    await mkdir(units);
    await writeFile(
      join(units, 'bad.conf'),
      '[program:bad-worker]\ncommand=php /srv/app/artisan queue:work --timeout=120\nstopwaitsecs=30\nautorestart=true\n',
    );
    await writeFile(
      join(units, 'good.conf'),
      '[program:good-worker]\ncommand=php /srv/app/artisan queue:work --timeout=120\nuser=app\nstopwaitsecs=150\nstopasgroup=true\nkillasgroup=true\n\n[program:web]\ncommand=php-fpm\n',
    );
    await writeFile(
      join(units, 'horizon.service'),
      '[Unit]\nDescription=Horizon\n[Service]\nExecStart=/usr/bin/php /srv/app/artisan horizon\nKillMode=process\nRestart=always\n',
    );
    await writeFile(
      join(units, 'qscale.service'),
      '[Service]\nExecStart=/usr/bin/qscaled --config /etc/qscale/qscale.yml\nTimeoutStopSec=10\nRestart=on-failure\n',
    );
    const report = await hostAudit({
      files: [],
      unitDirs: [units],
      phpIniFiles: [],
      procRoot: join(dir, 'no-proc'),
    });
    const messages = report.findings.filter((f) => f.ruleId === 'SUP-001').map((f) => f.message);
    expect(messages.sort()).toEqual([
      'supervisor unit bad-worker: no user= (runs as root); stopwaitsecs 30s <= job timeout 120s (jobs are killed mid-run); no stopasgroup/killasgroup (children survive a stop)',
      'systemd unit horizon.service: no User= (runs as root); KillMode=process (children survive a stop)',
      'systemd unit qscale.service: no User= (runs as root); TimeoutStopSec 10s <= worker stop grace 30s',
    ]);
  });

  it('SUP-002: group/world-writable config and a world-readable .env are reported; 0640 is not', async () => {
    const files = {
      writable: join(dir, 'queue-autoscale.php'),
      safe: join(dir, 'qscale.yml'),
      env: join(dir, '.env'),
    };
    await writeFile(files.writable, '<?php return [];\n');
    await writeFile(files.safe, 'queues: {}\n');
    await writeFile(files.env, 'REDIS_PASSWORD=x\n');
    await chmod(files.writable, 0o666);
    await chmod(files.safe, 0o640);
    await chmod(files.env, 0o644);
    const report = await hostAudit({
      files: Object.values(files),
      unitDirs: [],
      phpIniFiles: [],
      procRoot: join(dir, 'no-proc'),
    });
    const byFile = report.findings
      .filter((f) => f.ruleId === 'SUP-002')
      .map((f) => [f.location.path, f.severity]);
    expect(byFile).toEqual(
      expect.arrayContaining([
        [files.writable, 'high'],
        [files.env, 'medium'],
      ]),
    );
    expect(byFile).toHaveLength(2);
  });

  it('QUE-005: reads zend.exception_ignore_args from ini files, and says unknown when there are none', async () => {
    const dev = join(dir, 'cli-php.ini');
    const prod = join(dir, 'fpm-php.ini');
    await writeFile(dev, '[PHP]\nzend.exception_ignore_args = Off\n');
    await writeFile(
      prod,
      '[PHP]\nzend.exception_ignore_args = On\nzend.exception_string_param_max_len = 0\n',
    );
    const report = await hostAudit({
      files: [],
      unitDirs: [],
      phpIniFiles: [dev, prod],
      procRoot: join(dir, 'no-proc'),
    });
    expect(report.findings.filter((f) => f.ruleId === 'QUE-005').map((f) => f.message)).toEqual([
      `${dev}: zend.exception_ignore_args is off`,
    ]);
    const none = await hostAudit({
      files: [],
      unitDirs: [],
      phpIniFiles: [join(dir, 'missing.ini')],
      procRoot: join(dir, 'no-proc'),
    });
    expect(none.unknown).toContainEqual({
      ruleId: 'QUE-005',
      target: 'host',
      reason: 'no PHP ini file found on this host',
    });
  });

  it('RDS-007: a redis-server listening on every interface is found through its socket inodes', async () => {
    const loopback = await startPrivateRedis();
    // Protected mode stays on, so nothing beyond loopback could use it while it listens.
    const everywhere = await startPrivateRedis(['--bind', '0.0.0.0', '--protected-mode', 'yes']);
    servers.push(loopback, everywhere);
    await waitFor(() => loopback.pid !== null && everywhere.pid !== null, { what: 'both servers' });
    const report = await hostAudit({ files: [], unitDirs: [], phpIniFiles: [] });
    expect(at(report, 'RDS-007', `pid ${everywhere.pid} `).map((f) => f.message)).toEqual([
      `redis-server pid ${everywhere.pid} listens on 0.0.0.0:${everywhere.port} (every interface)`,
    ]);
    expect(at(report, 'RDS-007', `pid ${loopback.pid} `)).toEqual([]);
  });
});
