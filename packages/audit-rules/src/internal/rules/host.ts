import { readdir, readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostContext, RawFinding } from '../types.js';
import { defineRule } from './define.js';
import { outcome } from './helpers.js';

// Host checks read /proc and files; they never run ps, ss or php.

export interface ProcessInfo {
  pid: number;
  ppid: number;
  uid: number;
  gids: number[];
  capEff: bigint;
  cmdline: string;
  comm: string;
  /** True when uid 0 inside is mapped to a non-root uid outside (user namespace). */
  userNamespaced: boolean;
}

const cache = new WeakMap<object, Promise<ProcessInfo[]>>();

export function processes(context: HostContext): Promise<ProcessInfo[]> {
  let list = cache.get(context);
  if (!list) {
    list = readProcesses(context.procRoot);
    cache.set(context, list);
  }
  return list;
}

async function readProcesses(procRoot: string): Promise<ProcessInfo[]> {
  const entries = await readdir(procRoot).catch(() => [] as string[]);
  const out: ProcessInfo[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const dir = join(procRoot, entry);
    try {
      const [status, cmdline, uidMap] = await Promise.all([
        readFile(join(dir, 'status'), 'utf8'),
        readFile(join(dir, 'cmdline'), 'utf8'),
        readFile(join(dir, 'uid_map'), 'utf8').catch(() => '0 0 4294967295'),
      ]);
      const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '';
      const mapping = uidMap.trim().split(/\s+/).map(Number);
      out.push({
        pid: Number(entry),
        ppid: Number(field('PPid')),
        uid: Number(field('Uid').split(/\s+/)[1] ?? field('Uid').split(/\s+/)[0]),
        gids: field('Groups').split(/\s+/).filter(Boolean).map(Number),
        capEff: BigInt(`0x${field('CapEff') || '0'}`),
        cmdline: cmdline.split('\0').filter(Boolean).join(' '),
        comm: field('Name'),
        userNamespaced: mapping[0] === 0 && mapping[1] !== 0,
      });
    } catch {
      // The process exited while we read it, or is not ours to read.
    }
  }
  return out;
}

function workers(context: HostContext, list: ProcessInfo[]): ProcessInfo[] {
  return list.filter(
    (p) => p.pid !== process.pid && context.workerPatterns.some((regex) => regex.test(p.cmdline)),
  );
}

const FULL_CAPS = 0x1ffffffffn;

export const job023 = defineRule({
  id: 'JOB-023',
  title: 'Workers/autoscaler running with excessive privileges',
  severity: 'high',
  target: 'host',
  covers: ['S1:JOB-023', 'S2:non-root'],
  cwe: ['CWE-250'],
  description:
    'Worker and autoscaler processes (artisan queue:work/horizon, qscaled, configured patterns) found in /proc running as uid 0 (outside a user namespace), with full effective capabilities, or in the group that owns /var/run/docker.sock.',
  fix: 'A dedicated non-root user, dropped capabilities, no docker socket access; separate pools for untrusted workloads.',
  check: async (context) => {
    const findings: RawFinding[] = [];
    const socketGid = await stat('/var/run/docker.sock').then(
      (s) => s.gid,
      () => null,
    );
    for (const p of workers(context, await processes(context))) {
      const label = p.cmdline.slice(0, 120);
      const where = { resource: `pid ${p.pid} (${label})` };
      if (p.uid === 0 && !p.userNamespaced) {
        findings.push({
          message: `worker pid ${p.pid} runs as root: a job that is exploited owns the host`,
          location: where,
          key: `root:${label}`,
        });
      } else if ((p.capEff & FULL_CAPS) === FULL_CAPS) {
        findings.push({
          message: `worker pid ${p.pid} has full effective capabilities`,
          location: where,
          key: `caps:${label}`,
        });
      } else if (socketGid !== null && socketGid !== 0 && p.gids.includes(socketGid)) {
        findings.push({
          message: `worker pid ${p.pid} can use the docker socket (root-equivalent)`,
          location: where,
          key: `docker:${label}`,
        });
      }
    }
    return outcome(findings);
  },
});

interface UnitSection {
  file: string;
  name: string;
  kind: 'supervisor' | 'systemd';
  values: Map<string, string>;
}

async function units(context: HostContext): Promise<UnitSection[]> {
  const out: UnitSection[] = [];
  for (const dir of context.unitDirs) {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      if (!/\.(conf|ini|service)$/.test(name)) continue;
      const file = join(dir, name);
      const text = await readFile(file, 'utf8').catch(() => null);
      if (text === null) continue;
      let current: UnitSection | null = null;
      for (const raw of text.split('\n')) {
        const line = raw.trim();
        if (!line || line.startsWith('#') || line.startsWith(';')) continue;
        const section = /^\[(.+)\]$/.exec(line);
        if (section) {
          const title = section[1] as string;
          const kind = name.endsWith('.service') ? 'systemd' : 'supervisor';
          current = kind === 'systemd' ? (out.find((u) => u.file === file) ?? null) : null;
          if (!current && (kind === 'systemd' || title.startsWith('program:'))) {
            current = {
              file,
              name: kind === 'systemd' ? name : title.slice(8),
              kind,
              values: new Map(),
            };
            out.push(current);
          } else if (kind === 'supervisor' && !title.startsWith('program:')) current = null;
          continue;
        }
        const pair = /^([\w.-]+)\s*=\s*(.*)$/.exec(line);
        if (pair && current)
          current.values.set((pair[1] as string).toLowerCase(), pair[2] as string);
      }
    }
  }
  return out;
}

function seconds(value: string | undefined): number | null {
  if (value === undefined) return null;
  const match = /^(\d+)\s*(ms|s|min|m|h)?$/.exec(value.trim());
  if (!match) return null;
  const n = Number(match[1]);
  const unit = match[2] ?? 's';
  return unit === 'ms'
    ? n / 1000
    : unit === 'min' || unit === 'm'
      ? n * 60
      : unit === 'h'
        ? n * 3600
        : n;
}

export const sup001 = defineRule({
  id: 'SUP-001',
  title: 'Process supervision misconfigured, or orphaned workers',
  severity: 'medium',
  target: 'host',
  covers: ['S2:supervisor', 'S2:graceful-shutdown', 'S1:JOB-024'],
  cwe: ['CWE-404'],
  description:
    'Supervisor programs and systemd services that run workers: no user (runs as root), stop timeout shorter than the job timeout (--timeout, default 60 s), autorestart=false, no stopasgroup/killasgroup or KillMode=process; worker processes re-parented to a PID 1 that is not a supervisor.',
  fix: 'Supervisor/systemd with a non-root user, a stop timeout above the longest job, group kill.',
  check: async (context) => {
    const findings: RawFinding[] = [];
    for (const unit of await units(context)) {
      const command = unit.values.get(unit.kind === 'systemd' ? 'execstart' : 'command') ?? '';
      if (!context.workerPatterns.some((regex) => regex.test(command))) continue;
      const problems: string[] = [];
      // qscale itself needs its workers' stop grace (30 s by default); a queue worker its job timeout.
      const autoscaler = /\bqscaled?\b/.test(command) && !/\bartisan\b/.test(command);
      const jobTimeout = Number(/--timeout[= ](\d+)/.exec(command)?.[1] ?? (autoscaler ? 30 : 60));
      if (unit.kind === 'supervisor') {
        if (!unit.values.has('user')) problems.push('no user= (runs as root)');
        const stop = seconds(unit.values.get('stopwaitsecs')) ?? 10;
        if (stop <= jobTimeout)
          problems.push(
            `stopwaitsecs ${stop}s <= job timeout ${jobTimeout}s (jobs are killed mid-run)`,
          );
        if (unit.values.get('autorestart') === 'false') problems.push('autorestart=false');
        if (unit.values.get('stopasgroup') !== 'true' || unit.values.get('killasgroup') !== 'true')
          problems.push('no stopasgroup/killasgroup (children survive a stop)');
      } else {
        if (!unit.values.has('user')) problems.push('no User= (runs as root)');
        const stop = seconds(unit.values.get('timeoutstopsec')) ?? 90;
        if (stop <= jobTimeout)
          problems.push(
            `TimeoutStopSec ${stop}s <= ${autoscaler ? 'worker stop grace' : 'job timeout'} ${jobTimeout}s`,
          );
        if (unit.values.get('killmode') === 'process' || unit.values.get('killmode') === 'none')
          problems.push(`KillMode=${unit.values.get('killmode')} (children survive a stop)`);
        if (!unit.values.has('restart') || unit.values.get('restart') === 'no')
          problems.push('no Restart=');
      }
      if (problems.length > 0) {
        findings.push({
          message: `${unit.kind} unit ${unit.name}: ${problems.join('; ')}`,
          location: { path: unit.file, resource: unit.name },
          key: `${unit.file}:${unit.name}`,
        });
      }
    }
    const list = await processes(context);
    const init = list.find((p) => p.pid === 1);
    const supervisedInit = init
      ? /systemd|supervisord|s6-svscan|tini|dumb-init|runit|init$/.test(init.cmdline || init.comm)
      : true;
    if (!supervisedInit) {
      for (const p of workers(context, list)) {
        if (p.ppid === 1)
          findings.push({
            message: `worker pid ${p.pid} is an orphan (parent is PID 1, ${init?.comm ?? '?'}, not a supervisor)`,
            location: { resource: `pid ${p.pid}` },
            key: `orphan:${p.cmdline.slice(0, 120)}`,
          });
      }
    }
    return outcome(findings);
  },
});

export const sup002 = defineRule({
  id: 'SUP-002',
  title: 'Executable config and env files writable or readable by the wrong users',
  severity: 'high',
  target: 'host',
  covers: ['S2:config-class-names', 'S2:validated-inputs'],
  cwe: ['CWE-732'],
  description:
    'Config files (qscale config, config/*.php, config/queue-autoscale.php) writable by group or others (config names classes and commands that get run), and env files readable by others (medium).',
  fix: 'chown root:<app> and chmod 640; immutable deploys.',
  check: async (context) => {
    const findings: RawFinding[] = [];
    for (const file of context.files) {
      const info = await stat(file).catch(() => null);
      if (!info?.isFile()) continue;
      const mode = info.mode & 0o777;
      const octal = mode.toString(8).padStart(3, '0');
      const env = /(^|\/)\.env(\.|$)/.test(file);
      if (mode & 0o022) {
        findings.push({
          message: `${file} is writable by ${mode & 0o002 ? 'everyone' : 'its group'} (mode ${octal}): whoever edits it decides what runs`,
          location: { path: file },
          key: `${file}:writable`,
        });
      } else if (env && mode & 0o004) {
        findings.push({
          message: `${file} is readable by everyone (mode ${octal}) and holds secrets`,
          severity: 'medium',
          location: { path: file },
          key: `${file}:readable`,
        });
      }
    }
    return outcome(findings);
  },
});

/** Listening TCP sockets from /proc/net/tcp{,6}: inode -> local address and port. */
async function listeners(
  procRoot: string,
): Promise<Map<string, { address: string; port: number }>> {
  const out = new Map<string, { address: string; port: number }>();
  for (const name of ['tcp', 'tcp6']) {
    const text = await readFile(join(procRoot, 'net', name), 'utf8').catch(() => '');
    for (const row of text.split('\n').slice(1)) {
      const cols = row.trim().split(/\s+/);
      if (cols[3] !== '0A' || !cols[1] || !cols[9]) continue;
      const [hex = '', portHex = '0'] = cols[1].split(':');
      out.set(cols[9], {
        address: /^0+$/.test(hex) ? (name === 'tcp' ? '0.0.0.0' : '::') : hex,
        port: Number.parseInt(portHex, 16),
      });
    }
  }
  return out;
}

export const rds007 = defineRule({
  id: 'RDS-007',
  title: 'Redis port exposed beyond the private network',
  severity: 'high',
  target: 'host',
  covers: ['S1:JOB-022', 'S1:JOB-023', 'S2:network-isolation'],
  cwe: ['CWE-668'],
  description:
    'A redis-server process listens on 0.0.0.0 or :: (every interface), read from /proc/net/tcp{,6} and the process socket inodes.',
  fix: 'Bind to loopback or a private interface; do not publish the port; firewall it.',
  check: async (context) => {
    const sockets = await listeners(context.procRoot);
    const findings: RawFinding[] = [];
    for (const p of await processes(context)) {
      if (
        !/redis-server|valkey-server/.test(p.comm) &&
        !/^redis-server|valkey-server/.test(p.cmdline)
      )
        continue;
      const fds = await readdir(join(context.procRoot, String(p.pid), 'fd')).catch(
        () => [] as string[],
      );
      for (const fd of fds) {
        const target = await readlink(join(context.procRoot, String(p.pid), 'fd', fd)).catch(
          () => '',
        );
        const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
        const socket = inode ? sockets.get(inode) : undefined;
        if (socket && (socket.address === '0.0.0.0' || socket.address === '::')) {
          findings.push({
            message: `redis-server pid ${p.pid} listens on ${socket.address}:${socket.port} (every interface)`,
            location: { resource: `pid ${p.pid} port ${socket.port}` },
            key: `listen:${socket.address}:${socket.port}`,
          });
        }
      }
    }
    return outcome(findings);
  },
});

export const que005 = defineRule({
  id: 'QUE-005',
  title: 'PHP keeps call arguments in exception traces (failed_jobs leakage)',
  severity: 'medium',
  target: 'host',
  covers: ['S1:JOB-005'],
  cwe: ['CWE-209'],
  description:
    'The PHP ini files found on the host (CLI and FPM) leave zend.exception_ignore_args Off (the built-in default) or zend.exception_string_param_max_len above 0, so traces in failed_jobs keep argument values. Read from the files; php is not run.',
  fix: 'zend.exception_ignore_args = On and zend.exception_string_param_max_len = 0 (php.ini-production values) for the worker SAPI.',
  check: async (context) => {
    const findings: RawFinding[] = [];
    let read = 0;
    for (const file of context.phpIniFiles) {
      const text = await readFile(file, 'utf8').catch(() => null);
      if (text === null) continue;
      read++;
      const value = (name: string) =>
        new RegExp(`^\\s*${name.replace('.', '\\.')}\\s*=\\s*(\\S+)`, 'm').exec(text)?.[1];
      const ignore = (value('zend.exception_ignore_args') ?? 'Off').toLowerCase();
      const maxLen = Number(value('zend.exception_string_param_max_len') ?? 15);
      if (!['on', '1', 'true', 'yes'].includes(ignore))
        findings.push({
          message: `${file}: zend.exception_ignore_args is ${ignore}`,
          location: { path: file },
          key: `${file}:ignore_args`,
        });
      else if (maxLen > 0)
        findings.push({
          message: `${file}: zend.exception_string_param_max_len is ${maxLen}`,
          location: { path: file },
          key: `${file}:max_len`,
        });
    }
    return read === 0 ? outcome([], 'no PHP ini file found on this host') : outcome(findings);
  },
});

/** php.ini files of the usual layouts (Debian /etc/php/X/{cli,fpm}, official image). */
export async function defaultPhpIniFiles(): Promise<string[]> {
  const out = ['/usr/local/etc/php/php.ini'];
  const versions = await readdir('/etc/php').catch(() => [] as string[]);
  for (const version of versions)
    for (const sapi of ['cli', 'fpm']) out.push(join('/etc/php', version, sapi, 'php.ini'));
  return out;
}
