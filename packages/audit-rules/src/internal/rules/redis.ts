import type { Redis } from 'ioredis';
import type { RawFinding, RedisContext } from '../types.js';
import { defineRule } from './define.js';
import { outcome } from './helpers.js';

// Live Redis checks: read-only commands only (PING, INFO, CONFIG GET, ACL GETUSER/LIST/WHOAMI/
// DRYRUN). A command the audit user may not run (NOPERM) makes the check "unknown".

type Reply<T> = { ok: true; value: T } | { ok: false; reason: string };

export async function ask<T>(
  redis: Redis,
  command: string,
  ...args: (string | number)[]
): Promise<Reply<T>> {
  try {
    return { ok: true, value: (await redis.call(command, ...args)) as T };
  } catch (error) {
    const message = (error as Error).message;
    if (
      /^(NOPERM|ERR unknown command|ERR unknown subcommand|NOAUTH|ERR .*disabled)/i.test(message)
    ) {
      return { ok: false, reason: `${command} ${args[0] ?? ''}: ${message.split('\n')[0]}`.trim() };
    }
    throw error;
  }
}

async function configGet(redis: Redis, name: string): Promise<Reply<string | null>> {
  const reply = await ask<string[]>(redis, 'CONFIG', 'GET', name);
  if (!reply.ok) return reply;
  const index = reply.value.indexOf(name);
  return { ok: true, value: index >= 0 ? (reply.value[index + 1] ?? null) : null };
}

const resource = (context: RedisContext, what: string) => ({ resource: `${context.ref} ${what}` });

export const rds001 = defineRule({
  id: 'RDS-001',
  title: 'Unauthenticated access / default user with nopass',
  severity: 'high',
  target: 'redis',
  covers: ['S1:JOB-022', 'S2:queue-backend-secured'],
  cwe: ['CWE-306'],
  description:
    'PING without credentials answers PONG, or ACL shows the default user on with nopass, or another user with nopass. Critical when the server is reachable beyond loopback.',
  fix: 'Per-application ACL users, "user default off", rotated secrets.',
  check: async (context) => {
    const findings: RawFinding[] = [];
    const severity = context.local ? 'high' : 'critical';
    if (context.anonymousPing === 'PONG') {
      findings.push({
        message: `${context.host} answers PING without any credentials: anyone who reaches it can read and inject jobs`,
        severity,
        location: resource(context, 'PING (no AUTH)'),
        key: 'anonymous',
      });
    }
    const list = await ask<string[]>(context.redis, 'ACL', 'LIST');
    if (!list.ok) return outcome(findings, findings.length > 0 ? undefined : list.reason);
    for (const entry of list.value) {
      const [, name = '?', ...rules] = entry.split(' ');
      if (
        rules.includes('on') &&
        rules.includes('nopass') &&
        !(name === 'default' && findings.length > 0)
      ) {
        findings.push({
          message: `ACL user "${name}" is enabled with nopass`,
          severity,
          location: resource(context, `ACL user ${name}`),
          key: `nopass:${name}`,
        });
      }
    }
    return outcome(findings);
  },
});

export const rds002 = defineRule({
  id: 'RDS-002',
  title: 'Protected mode off while bound to all interfaces',
  severity: 'high',
  target: 'redis',
  covers: ['S1:JOB-022', 'S1:JOB-023', 'S2:network-isolation'],
  cwe: ['CWE-668'],
  description:
    'CONFIG GET protected-mode is no while bind is *, 0.0.0.0, :: or empty (the official Docker image disables protected mode).',
  fix: 'Bind to private interfaces, keep protected-mode on, firewall the port.',
  check: async (context) => {
    const mode = await configGet(context.redis, 'protected-mode');
    const bind = await configGet(context.redis, 'bind');
    if (!mode.ok) return outcome([], mode.reason);
    if (!bind.ok) return outcome([], bind.reason);
    const addresses = (bind.value ?? '').split(/\s+/).filter(Boolean);
    const everywhere =
      addresses.length === 0 || addresses.some((a) => /^-?(\*|0\.0\.0\.0|::|\*-?)$/.test(a));
    if (mode.value === 'no' && everywhere) {
      return outcome([
        {
          message: `protected-mode is off and Redis listens on ${addresses.join(' ') || 'every interface'}`,
          location: resource(context, 'CONFIG protected-mode/bind'),
          key: 'protected-mode',
        },
      ]);
    }
    return outcome([]);
  },
});

const DANGEROUS_PROBES: (string | number)[][] = [
  ['FLUSHALL'],
  ['CONFIG', 'SET', 'dir', '/tmp'],
  ['DEBUG', 'SLEEP', 0],
  ['MODULE', 'LIST'],
  ['SHUTDOWN'],
];

export const rds003 = defineRule({
  id: 'RDS-003',
  title: 'Dangerous commands available to the application user',
  severity: 'medium',
  target: 'redis',
  covers: ['S2:least-privilege'],
  cwe: ['CWE-250'],
  description:
    'ACL DRYRUN shows the connecting user may run FLUSHALL, CONFIG SET, DEBUG, MODULE or SHUTDOWN (nothing is executed: DRYRUN only asks), or enable-debug-command/enable-module-command is yes. EVAL is not flagged: queues need Lua.',
  fix: 'Give application users -@dangerous -@admin (keeping +@scripting) and use a separate admin user.',
  check: async (context) => {
    const whoami = await ask<string>(context.redis, 'ACL', 'WHOAMI');
    if (!whoami.ok) return outcome([], whoami.reason);
    const user = String(whoami.value);
    const allowed: string[] = [];
    for (const probe of DANGEROUS_PROBES) {
      const reply = await ask<string>(context.redis, 'ACL', 'DRYRUN', user, ...probe);
      if (!reply.ok) return outcome([], reply.reason);
      if (reply.value === 'OK') allowed.push(String(probe[0]));
    }
    const findings: RawFinding[] = [];
    if (allowed.length > 0) {
      findings.push({
        message: `the audited user "${user}" may run ${allowed.join(', ')}`,
        location: resource(context, `ACL user ${user}`),
        key: `dangerous:${user}`,
      });
    }
    for (const name of ['enable-debug-command', 'enable-module-command']) {
      const value = await configGet(context.redis, name);
      if (value.ok && value.value === 'yes')
        findings.push({
          message: `${name} is yes`,
          location: resource(context, `CONFIG ${name}`),
          key: name,
        });
    }
    return outcome(findings);
  },
});

export const rds004 = defineRule({
  id: 'RDS-004',
  title: 'No TLS to a remote Redis',
  severity: 'medium',
  target: 'redis',
  covers: ['S1:JOB-022'],
  cwe: ['CWE-319'],
  description:
    'The client reaches Redis over plain TCP on a non-loopback address and tls-port is 0.',
  fix: 'Enable tls-port and set port 0 (or keep Redis on a private network / service mesh with mTLS).',
  check: async (context) => {
    if (context.local || context.tls) return outcome([]);
    const port = await configGet(context.redis, 'tls-port');
    if (!port.ok)
      return outcome([
        {
          message: `Redis at ${context.host} is reached without TLS`,
          location: resource(context, 'connection'),
          key: 'plaintext',
        },
      ]);
    return outcome([
      {
        message: `Redis at ${context.host} is reached without TLS${port.value && port.value !== '0' ? ` although tls-port ${port.value} is open` : ' and tls-port is 0'}`,
        location: resource(context, 'connection'),
        key: 'plaintext',
      },
    ]);
  },
});

export const rds005 = defineRule({
  id: 'RDS-005',
  title: 'Eviction policy can silently drop jobs',
  severity: 'medium',
  target: 'redis',
  covers: ['S1:JOB-025', 'S2:safe-defaults'],
  cwe: ['CWE-400'],
  description:
    'maxmemory is set and maxmemory-policy is not noeviction: under memory pressure Redis deletes queue keys.',
  fix: 'maxmemory-policy noeviction plus memory alerts; keep caches on another instance.',
  check: async (context) => {
    const max = await configGet(context.redis, 'maxmemory');
    const policy = await configGet(context.redis, 'maxmemory-policy');
    if (!max.ok) return outcome([], max.reason);
    if (!policy.ok) return outcome([], policy.reason);
    if (Number(max.value ?? 0) > 0 && policy.value !== 'noeviction') {
      return outcome([
        {
          message: `maxmemory ${max.value} bytes with maxmemory-policy ${policy.value}: jobs are evicted under pressure`,
          location: resource(context, 'CONFIG maxmemory-policy'),
          key: 'eviction',
        },
      ]);
    }
    return outcome([]);
  },
});

/** Versions with a fix for CVE-2025-49844 (Lua use-after-free, CVSS 10): 8.2.2 and 7.4.6. */
export function vulnerableRedisVersion(version: string): boolean {
  const [major = 0, minor = 0, patch = 0] = version
    .split('.')
    .map((part) => Number.parseInt(part, 10) || 0);
  const n = major * 1_000_000 + minor * 1_000 + patch;
  if (major >= 8) return n < 8_002_002;
  return n < 7_004_006;
}

export const rds006 = defineRule({
  id: 'RDS-006',
  title: 'Redis version with known critical CVEs',
  severity: 'high',
  target: 'redis',
  covers: ['S2:up-to-date'],
  cwe: ['CWE-1104'],
  description:
    'INFO server redis_version against the bundled advisory table: CVE-2025-49844 (Lua use-after-free RCE, CVSS 10) is fixed in 8.2.2 and 7.4.6. Queues need Lua, so blocking EVAL is not a workaround. Distribution backports are not visible: confirm and suppress with a reason.',
  fix: 'Upgrade (8.2.2+ or 7.4.6+) and restrict network access.',
  check: async (context) => {
    const info = await ask<string>(context.redis, 'INFO', 'server');
    if (!info.ok) return outcome([], info.reason);
    const version = /redis_version:([\d.]+)/.exec(info.value)?.[1];
    if (!version) return outcome([], 'INFO server has no redis_version');
    if (!vulnerableRedisVersion(version)) return outcome([]);
    return outcome([
      {
        message: `Redis ${version} predates the CVE-2025-49844 fixes (8.2.2 / 7.4.6)`,
        severity: context.anonymousPing === 'PONG' ? 'critical' : 'high',
        location: resource(context, 'INFO redis_version'),
        key: 'version',
      },
    ]);
  },
});
