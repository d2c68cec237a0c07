import type { AuditedQueue, AuditedRedis } from '../config-shape.js';
import type { ConfigContext, RawFinding } from '../types.js';
import { defineRule } from './define.js';
import { outcome } from './helpers.js';
import { isLocalHost } from './laravel-config.js';

const at = (context: ConfigContext, path: string) => ({ path: context.path, resource: path });

export const aut001 = defineRule({
  id: 'AUT-001',
  title: 'No global worker ceiling, or unbounded per-queue maximum',
  severity: 'medium',
  target: 'autoscaler-config',
  covers: ['S2:worker-caps', 'S1:JOB-021'],
  cwe: ['CWE-770'],
  description:
    'limits.maxWorkers or a queue workers.max above hostCores × 8, a queue with scaling.cooldown 0, or the sum of queue minimums above limits.maxWorkers. CPU/memory percentages are advisory, not kernel-enforced.',
  fix: 'An explicit ceiling sized to the host, cooldowns, and cgroup limits.',
  check: (context) => {
    const findings: RawFinding[] = [];
    const ceiling = context.options.hostCores * 8;
    const { limits, queues } = context.config;
    if (limits.maxWorkers > ceiling)
      findings.push({
        message: `limits.maxWorkers ${limits.maxWorkers} is above ${ceiling} (${context.options.hostCores} cores × 8)`,
        location: at(context, 'limits.maxWorkers'),
        key: 'limits.maxWorkers',
      });
    for (const queue of queues) {
      if (queue.workers.max > ceiling)
        findings.push({
          message: `queue ${queue.name}: workers.max ${queue.workers.max} is above ${ceiling}`,
          location: at(context, `queues.${queue.name}.workers.max`),
          key: `${queue.name}:max`,
        });
      if (queue.scaling.cooldownMs === 0)
        findings.push({
          message: `queue ${queue.name}: scaling cooldown 0 lets a burst flap workers up and down`,
          location: at(context, `queues.${queue.name}.scaling.cooldown`),
          key: `${queue.name}:cooldown`,
        });
    }
    const floors = queues.reduce((sum, q) => sum + q.workers.min, 0);
    if (floors > limits.maxWorkers)
      findings.push({
        message: `queue minimums add up to ${floors}, above limits.maxWorkers ${limits.maxWorkers}`,
        location: at(context, 'queues'),
        key: 'floors',
      });
    return outcome(findings);
  },
});

function workArgs(queue: AuditedQueue): {
  artisan: boolean;
  timeoutS: number | null;
  tries: number | null;
  memory: boolean;
} {
  const argv = queue.command.join(' ');
  const artisan = /\bartisan\b.*\b(queue:work|horizon:work)\b/.test(argv);
  const timeout = /--timeout[= ](\d+)/.exec(argv)?.[1];
  const tries = /--tries[= ](\d+)/.exec(argv)?.[1];
  return {
    artisan,
    timeoutS: timeout ? Number(timeout) : null,
    tries: tries ? Number(tries) : null,
    memory: /--memory[= ]\d+/.test(argv),
  };
}

export const aut002 = defineRule({
  id: 'AUT-002',
  title: 'Shutdown grace and worker arguments inconsistent with job timeouts',
  severity: 'medium',
  target: 'autoscaler-config',
  covers: ['S2:graceful-shutdown', 'S1:JOB-024'],
  cwe: ['CWE-404'],
  description:
    'stop.grace shorter than the queue:work --timeout (60 s when absent), so SIGKILL lands mid-job; queue:work with --tries=0 (retry forever) or without --memory.',
  fix: 'Grace >= the longest job timeout plus a margin; pass --timeout below retry_after, a finite --tries and --memory.',
  check: (context) => {
    const findings: RawFinding[] = [];
    for (const queue of context.config.queues) {
      const args = workArgs(queue);
      if (!args.artisan) continue;
      const timeoutMs = (args.timeoutS ?? 60) * 1000;
      const problems: string[] = [];
      if (queue.stop.graceMs < timeoutMs)
        problems.push(
          `stop grace ${queue.stop.graceMs / 1000}s is shorter than the job timeout ${timeoutMs / 1000}s${args.timeoutS === null ? ' (queue:work default)' : ''}`,
        );
      if (args.tries === 0) problems.push('--tries=0 retries failing jobs forever');
      if (!args.memory && queue.recycle.maxRssBytes === null)
        problems.push('no --memory and no recycle.memory: a leaking worker is never restarted');
      if (problems.length > 0)
        findings.push({
          message: `queue ${queue.name}: ${problems.join('; ')}`,
          location: at(context, `queues.${queue.name}.command`),
          key: `${queue.name}:args`,
        });
    }
    return outcome(findings);
  },
});

const SAFE_NAME = /^[A-Za-z0-9{][A-Za-z0-9._:{}-]*$/;

export const aut003 = defineRule({
  id: 'AUT-003',
  title: 'Queue names not validated before reaching worker argv',
  severity: 'high',
  target: 'autoscaler-config',
  covers: ['S2:validated-inputs', 'S2:no-shell'],
  cwe: ['CWE-88'],
  description:
    "Backend queue names and --queue= values in worker commands must match ^[A-Za-z0-9][A-Za-z0-9._:-]*$ (no leading '-', no whitespace, braces allowed for cluster hash tags).",
  fix: 'Rename the queue; never let option-like or whitespace names reach an argv.',
  check: (context) => {
    const findings: RawFinding[] = [];
    for (const queue of context.config.queues) {
      const names = [
        queue.backendName,
        ...queue.command.flatMap((arg) => /^--queue=(.*)$/.exec(arg)?.[1]?.split(',') ?? []),
      ];
      const bad = names.filter((name) => !SAFE_NAME.test(name));
      if (bad.length > 0)
        findings.push({
          message: `queue ${queue.name}: ${bad.map((b) => JSON.stringify(b)).join(', ')} may be read as options or split into several arguments`,
          location: at(context, `queues.${queue.name}`),
          key: `${queue.name}:names`,
        });
    }
    return outcome(findings);
  },
});

export const cfg001 = defineRule({
  id: 'CFG-001',
  title: 'Status API reachable from the network without a token',
  severity: 'high',
  target: 'autoscaler-config',
  covers: ['S2:policies-expose-nothing', 'S2:network-isolation'],
  cwe: ['CWE-306'],
  description:
    'http.enabled with http.host not loopback and no http.token: /api/state exposes queue names, worker commands and decisions to the network.',
  fix: 'Keep http.host on 127.0.0.1, or set http.token (16+ characters) and firewall the port.',
  check: (context) => {
    const { http } = context.config;
    if (!http.enabled || isLocalHost(http.host) || http.token !== null) return outcome([]);
    return outcome([
      {
        message: `the status API listens on ${http.host}:${http.port} without a bearer token`,
        location: at(context, 'http'),
        key: 'http',
      },
    ]);
  },
});

export const cfg002 = defineRule({
  id: 'CFG-002',
  title: 'Workers may run as root',
  severity: 'medium',
  target: 'autoscaler-config',
  covers: ['S2:non-root', 'S1:JOB-023'],
  cwe: ['CWE-250'],
  description:
    'A queue has no user and supervision.refuseRoot is false: started as root, qscale starts its workers as root too.',
  fix: 'Set user (and group) per queue, or supervision.refuseRoot: true.',
  check: (context) => {
    if (context.config.supervision.refuseRoot) return outcome([]);
    const rootable = context.config.queues.filter((q) => q.user === null);
    if (rootable.length === 0) return outcome([]);
    return outcome([
      {
        message: `queues ${rootable.map((q) => q.name).join(', ')} have no user and supervision.refuseRoot is off`,
        location: at(context, 'supervision.refuseRoot'),
        key: 'root',
      },
    ]);
  },
});

function redisProblems(redis: AuditedRedis): { auth: boolean; tls: boolean; host: string } | null {
  let url: URL;
  try {
    url = new URL(redis.url);
  } catch {
    return null;
  }
  const host = url.hostname;
  if (isLocalHost(host) || url.protocol === 'unix:') return null;
  const auth = Boolean(url.password || redis.password);
  const tls = url.protocol === 'rediss:' || redis.tls !== null;
  return { auth, tls, host };
}

export const cfg003 = defineRule({
  id: 'CFG-003',
  title: "qscale's Redis connection to a remote host without authentication",
  severity: 'high',
  target: 'autoscaler-config',
  covers: ['S1:JOB-022', 'S2:queue-backend-secured'],
  cwe: ['CWE-306'],
  description:
    'redis (top level or per queue) points at a non-loopback host with neither a URL password nor redis.password.',
  fix: 'Give qscale its own ACL user with read-only queue access and a password.',
  check: (context) => {
    const findings: RawFinding[] = [];
    const all = [
      { name: 'redis', redis: context.config.redis },
      ...context.config.queues.map((q) => ({ name: `queues.${q.name}.redis`, redis: q.redis })),
    ];
    const seen = new Set<string>();
    for (const { name, redis } of all) {
      const problems = redisProblems(redis);
      if (!problems || problems.auth || seen.has(redis.url)) continue;
      seen.add(redis.url);
      findings.push({
        message: `${name}: Redis at ${problems.host} without a password`,
        location: at(context, name),
        key: `${problems.host}:auth`,
      });
    }
    return outcome(findings);
  },
});

export const cfg004 = defineRule({
  id: 'CFG-004',
  title: "qscale's Redis connection to a remote host without TLS",
  severity: 'medium',
  target: 'autoscaler-config',
  covers: ['S1:JOB-022'],
  cwe: ['CWE-319'],
  description:
    'redis (top level or per queue) points at a non-loopback host over redis:// with no tls block.',
  fix: 'Use rediss:// or a tls block, or keep Redis on a private network.',
  check: (context) => {
    const findings: RawFinding[] = [];
    const all = [
      { name: 'redis', redis: context.config.redis },
      ...context.config.queues.map((q) => ({ name: `queues.${q.name}.redis`, redis: q.redis })),
    ];
    const seen = new Set<string>();
    for (const { name, redis } of all) {
      const problems = redisProblems(redis);
      if (!problems || problems.tls || seen.has(redis.url)) continue;
      seen.add(redis.url);
      findings.push({
        message: `${name}: Redis at ${problems.host} in plaintext`,
        location: at(context, name),
        key: `${problems.host}:tls`,
      });
    }
    return outcome(findings);
  },
});

export const cfg005 = defineRule({
  id: 'CFG-005',
  title: 'Workers never recycled',
  severity: 'low',
  target: 'autoscaler-config',
  covers: ['S2:worker-caps', 'S1:JOB-021'],
  cwe: ['CWE-401'],
  description:
    'A queue has neither recycle.memory nor recycle.lifetime (and no --memory/--max-time/--max-jobs in its command): a leaking worker grows until the host runs out of memory.',
  fix: 'Set recycle.memory and/or recycle.lifetime, or pass --memory/--max-jobs to queue:work.',
  check: (context) => {
    const findings: RawFinding[] = [];
    for (const queue of context.config.queues) {
      const argv = queue.command.join(' ');
      if (
        queue.recycle.maxRssBytes !== null ||
        queue.recycle.maxLifetimeMs !== null ||
        /--(memory|max-time|max-jobs)[= ]/.test(argv)
      )
        continue;
      findings.push({
        message: `queue ${queue.name}: workers are never recycled`,
        location: at(context, `queues.${queue.name}.recycle`),
        key: `${queue.name}:recycle`,
      });
    }
    return outcome(findings);
  },
});
