import {
  args,
  findAll,
  literal,
  methodCall,
  nameOf,
  type PhpNode,
  staticCall,
  walk,
} from '../php/ast.js';
import {
  type ConfigValue,
  get,
  isMap,
  laravelConfig,
  type PhpValue,
  UNKNOWN,
} from '../php/config-eval.js';
import type { ProjectContext, RawFinding } from '../types.js';
import { defineRule } from './define.js';
import { at, atLine, outcome } from './helpers.js';

interface RedisTarget {
  name: string;
  host: PhpValue | undefined;
  port: PhpValue | undefined;
  database: PhpValue | undefined;
  password: PhpValue | undefined;
  url: PhpValue | undefined;
  scheme: PhpValue | undefined;
  line: number;
  config: ConfigValue;
}

/** queue.default -> its redis connection -> database.redis.<name>; null when not Redis. */
function queueRedis(context: ProjectContext): RedisTarget | null | typeof UNKNOWN {
  const queue = laravelConfig(context, 'queue');
  const database = laravelConfig(context, 'database');
  if (!queue || !database) return null;
  const name = get(queue.value, 'default');
  if (typeof name !== 'string') return name === UNKNOWN ? UNKNOWN : null;
  const connection = get(queue.value, `connections.${name}`);
  if (!isMap(connection) || connection.driver !== 'redis') return null;
  const redisName = typeof connection.connection === 'string' ? connection.connection : 'default';
  return redisConnection(database, redisName);
}

function redisConnection(database: ConfigValue, name: string): RedisTarget | null {
  const block = get(database.value, `redis.${name}`);
  if (!isMap(block)) return null;
  return {
    name,
    host: block.host,
    port: block.port,
    database: block.database,
    password: block.password,
    url: block.url,
    scheme: block.scheme,
    line: database.lines.get(`redis.${name}`) ?? 1,
    config: database,
  };
}

function urlHasUserinfo(url: PhpValue | undefined): boolean {
  return typeof url === 'string' && /^[a-z]+:\/\/[^@/]*:[^@/]+@/i.test(url);
}

function hostOf(target: RedisTarget): string | null {
  if (typeof target.url === 'string' && target.url) {
    try {
      return new URL(target.url).hostname;
    } catch {
      return null;
    }
  }
  return typeof target.host === 'string' ? target.host : null;
}

export function isLocalHost(host: string): boolean {
  return (
    /^(localhost|127\.\d+\.\d+\.\d+|::1|\[::1\])$/i.test(host) ||
    host.startsWith('/') ||
    host.startsWith('unix:')
  );
}

const where = (target: RedisTarget, message: string, severity?: RawFinding['severity']) =>
  atLine(target.config.path, target.config.text, target.line, message, severity);

export const job022 = defineRule({
  id: 'JOB-022',
  title: 'Queue Redis connection without authentication',
  severity: 'high',
  target: 'laravel-src',
  covers: ['S1:JOB-022', 'S2:queue-backend-secured'],
  cwe: ['CWE-306'],
  description:
    'queue.default resolves to a redis connection whose password is null or empty (literal, or env() empty in the scanned env file) and whose url has no userinfo.',
  fix: 'A strong password or a dedicated ACL user (REDIS_USERNAME/REDIS_PASSWORD); verify with RDS-001.',
  check: (context) => {
    const target = queueRedis(context);
    if (target === UNKNOWN) return outcome([], 'queue.default could not be resolved');
    if (!target) return outcome([]);
    if (target.password === UNKNOWN)
      return outcome([], `database.redis.${target.name}.password could not be resolved`);
    const host = hostOf(target);
    if (
      (target.password === null || target.password === '' || target.password === undefined) &&
      !urlHasUserinfo(target.url)
    ) {
      if (host?.startsWith('/')) return outcome([]);
      return outcome([
        where(
          target,
          `the queue's Redis connection "${target.name}" has no password${context.tree.envFile ? ` (in ${context.tree.envFile})` : ''}: anyone reaching Redis can inject jobs`,
        ),
      ]);
    }
    return outcome([]);
  },
});

export const que001 = defineRule({
  id: 'QUE-001',
  title: 'Redis connection without TLS to a non-local host',
  severity: 'medium',
  target: 'laravel-src',
  covers: ['S1:JOB-022'],
  cwe: ['CWE-319'],
  description:
    "The queue's Redis host is not loopback, a unix socket or a single-label private service name, and there is no scheme => tls and no tls:// or rediss:// URL.",
  fix: 'Use TLS (scheme tls or rediss://), or keep Redis on a private network only; pair with RDS-004.',
  check: (context) => {
    const target = queueRedis(context);
    if (target === UNKNOWN || !target) return outcome([]);
    const host = hostOf(target);
    if (host === null) return outcome([], 'the Redis host could not be resolved');
    const tls =
      target.scheme === 'tls' ||
      (typeof target.url === 'string' && /^(rediss|tls):/i.test(target.url));
    if (tls || isLocalHost(host) || !host.includes('.')) return outcome([]);
    return outcome([
      where(target, `queue traffic (payloads, credentials) goes to ${host} in plaintext`),
    ]);
  },
});

export const que002 = defineRule({
  id: 'QUE-002',
  title: 'Queue shares its Redis database with the cache (cache:clear = FLUSHDB)',
  severity: 'medium',
  target: 'laravel-src',
  covers: ['S1:JOB-022', 'S1:JOB-025'],
  cwe: ['CWE-664'],
  description:
    "The default cache store is redis and its connection resolves to the queue's host, port and database: RedisStore::flush() runs FLUSHDB, so cache:clear deletes queued jobs.",
  fix: 'Use a separate database index or instance for the cache, and a separate lock_connection.',
  check: (context) => {
    const target = queueRedis(context);
    const cache = laravelConfig(context, 'cache');
    const database = laravelConfig(context, 'database');
    if (target === UNKNOWN || !target || !cache || !database) return outcome([]);
    const store = get(cache.value, 'default');
    if (typeof store !== 'string') return outcome([]);
    const storeConfig = get(cache.value, `stores.${store}`);
    if (!isMap(storeConfig) || storeConfig.driver !== 'redis') return outcome([]);
    const cacheName =
      typeof storeConfig.connection === 'string' ? storeConfig.connection : 'default';
    const cacheTarget = redisConnection(database, cacheName);
    if (!cacheTarget) return outcome([]);
    const same = (a: PhpValue | undefined, b: PhpValue | undefined) =>
      a !== UNKNOWN && b !== UNKNOWN && String(a ?? '') === String(b ?? '');
    if (
      cacheName === target.name ||
      (same(cacheTarget.host, target.host) &&
        same(cacheTarget.port, target.port) &&
        same(cacheTarget.database, target.database) &&
        same(cacheTarget.url, target.url))
    ) {
      return outcome([
        atLine(
          cache.path,
          cache.text,
          cache.lines.get(`stores.${store}`) ?? 1,
          `the cache store "${store}" uses the queue's Redis database: php artisan cache:clear flushes queued jobs`,
        ),
      ]);
    }
    return outcome([]);
  },
});

export const que003 = defineRule({
  id: 'QUE-003',
  title: 'APP_KEY missing or invalid',
  severity: 'critical',
  target: 'laravel-src',
  covers: ['S1:JOB-002'],
  cwe: ['CWE-321'],
  description:
    'APP_KEY in the scanned env file is empty, or does not decode to the key length of app.cipher (AES-256-CBC/GCM: 32 bytes, AES-128: 16): encrypted jobs are then unprotected or undecryptable.',
  fix: 'Generate one per environment (php artisan key:generate), never commit it, and set APP_PREVIOUS_KEYS during rotation.',
  check: (context) => {
    if (!context.php.file('config/app.php') && !context.tree.files.includes('artisan'))
      return outcome([]);
    if (!context.tree.envFile) return outcome([], 'no .env or .env.production was scanned');
    const key = context.tree.env.get('APP_KEY') ?? '';
    const app = laravelConfig(context, 'app');
    const cipher = app ? get(app.value, 'cipher') : undefined;
    const bytes = typeof cipher === 'string' && /128/.test(cipher) ? 16 : 32;
    const decoded = key.startsWith('base64:')
      ? Buffer.from(key.slice(7), 'base64').length
      : Buffer.byteLength(key);
    const envText = `APP_KEY in ${context.tree.envFile}`;
    if (key === '')
      return outcome([
        {
          message: `${envText} is empty: queued jobs cannot be encrypted`,
          location: { path: context.tree.envFile, startLine: 1 },
        },
      ]);
    if (decoded !== bytes) {
      return outcome([
        {
          message: `${envText} is ${decoded} bytes, expected ${bytes} for ${typeof cipher === 'string' ? cipher : 'AES-256-CBC'}`,
          location: { path: context.tree.envFile, startLine: 1 },
        },
      ]);
    }
    return outcome([]);
  },
});

function horizonSupervisors(
  horizon: ConfigValue,
): { name: string; options: { [key: string]: PhpValue }; path: string }[] {
  const defaults = get(horizon.value, 'defaults');
  const environments = get(horizon.value, 'environments');
  const out: { name: string; options: { [key: string]: PhpValue }; path: string }[] = [];
  const base = isMap(defaults) ? defaults : {};
  if (isMap(environments)) {
    for (const [env, supervisors] of Object.entries(environments)) {
      if (!isMap(supervisors)) continue;
      for (const [name, options] of Object.entries(supervisors)) {
        const merged = {
          ...(isMap(base[name]) ? (base[name] as object) : {}),
          ...(isMap(options) ? options : {}),
        };
        out.push({ name: `${env}.${name}`, options: merged, path: `environments.${env}.${name}` });
      }
    }
  }
  for (const [name, options] of Object.entries(base)) {
    if (isMap(options) && !out.some((s) => s.name.endsWith(`.${name}`)))
      out.push({ name: `defaults.${name}`, options, path: `defaults.${name}` });
  }
  return out;
}

function retryAfter(context: ProjectContext): number | null {
  const queue = laravelConfig(context, 'queue');
  if (!queue) return null;
  const name = get(queue.value, 'default');
  const value =
    typeof name === 'string' ? get(queue.value, `connections.${name}.retry_after`) : undefined;
  return typeof value === 'number' ? value : null;
}

export const que004 = defineRule({
  id: 'QUE-004',
  title: 'retry_after not longer than the job/worker timeout (double processing)',
  severity: 'medium',
  target: 'laravel-src',
  covers: ['S1:JOB-024'],
  cwe: ['CWE-362'],
  description:
    "The queue connection's retry_after is compared with Horizon supervisor timeouts, queue:work --timeout in unit files/Procfiles, and job $timeout: a timeout >= retry_after lets a second worker pick up a job that is still running.",
  fix: 'retry_after longer than the longest timeout plus a margin.',
  check: async (context) => {
    const limit = retryAfter(context);
    if (limit === null) return outcome([]);
    const findings: RawFinding[] = [];
    const horizon = laravelConfig(context, 'horizon');
    if (horizon) {
      for (const supervisor of horizonSupervisors(horizon)) {
        const timeout = supervisor.options.timeout;
        if (typeof timeout === 'number' && timeout >= limit) {
          findings.push(
            atLine(
              horizon.path,
              horizon.text,
              horizon.lines.get(`${supervisor.path}.timeout`) ?? 1,
              `Horizon ${supervisor.name} timeout ${timeout}s >= retry_after ${limit}s`,
            ),
          );
        }
      }
    }
    for (const path of context.tree.files.filter((p) => /(\.conf|\.service|Procfile)$/.test(p))) {
      const text = await context.tree.read(path);
      if (!text) continue;
      for (const [index, raw] of text.split('\n').entries()) {
        const match = /queue:work\b.*--timeout[= ](\d+)/.exec(raw);
        if (match && Number(match[1]) >= limit)
          findings.push(
            atLine(
              path,
              text,
              index + 1,
              `queue:work --timeout=${match[1]} >= retry_after ${limit}s`,
            ),
          );
      }
    }
    for (const cls of context.php.classes.values()) {
      if (!context.php.isQueued(cls.fqn)) continue;
      const prop = cls.properties.find((p) => p.name === 'timeout');
      const timeout = prop?.value ? Number(literal(prop.value)) : Number.NaN;
      if (timeout >= limit) {
        const file = context.php.file(cls.file);
        if (file)
          findings.push(
            atLine(
              file.path,
              file.text,
              prop?.line ?? 1,
              `${cls.shortName}::$timeout ${timeout}s >= retry_after ${limit}s`,
            ),
          );
      }
    }
    return outcome(findings);
  },
});

export const hzn001 = defineRule({
  id: 'HZN-001',
  title: 'Horizon dashboard open to too many users',
  severity: 'critical',
  target: 'laravel-src',
  covers: ['S1:JOB-005', 'S1:JOB-002'],
  cwe: ['CWE-284'],
  description:
    "Gate::define('viewHorizon', …) returning true unconditionally (critical) or for any logged-in user (high), or Horizon::auth(fn … => true): the dashboard shows job payloads and exceptions.",
  fix: 'An admin allowlist (user ids or e-mails) plus a network restriction on the dashboard path.',
  check: (context) => {
    const findings: RawFinding[] = [];
    for (const file of context.php.files) {
      if (!/Horizon/.test(file.text)) continue;
      walk(file.ast, (node) => {
        if (node.kind !== 'call') return true;
        const stat = staticCall(node);
        const list = args(node);
        const isGate =
          stat &&
          /Gate$/.test(stat[0]) &&
          stat[1] === 'define' &&
          literal(list[0]) === 'viewHorizon';
        const isAuth = stat && /Horizon$/.test(stat[0]) && stat[1] === 'auth';
        const fn = isGate ? list[1] : isAuth ? list[0] : undefined;
        if (!fn || (fn.kind !== 'closure' && fn.kind !== 'arrowfunc')) return true;
        // Every value the gate can return: open to everyone only when all of them are true (a
        // gate that returns true for one user and checks an allowlist otherwise is closed).
        const returned =
          fn.kind === 'arrowfunc'
            ? [fn.body as PhpNode]
            : findAll(fn.body as PhpNode, 'return').map((r) => (r.expr as PhpNode | null) ?? null);
        if (returned.length === 0 || returned.includes(null)) return true;
        const values = returned as PhpNode[];
        if (values.every((value) => literal(value) === 'true'))
          findings.push(
            at(file, node, 'the Horizon dashboard is open to everyone (returns true)', 'critical'),
          );
        else if (values.length === 1 && anyUser(values[0] as PhpNode))
          findings.push(
            at(file, node, 'the Horizon dashboard is open to any logged-in user', 'high'),
          );
        return true;
      });
    }
    return outcome(findings);
  },
});

function anyUser(node: PhpNode): boolean {
  if (node.kind === 'bin' && ['!==', '!='].includes(String(node.type))) {
    return [node.left, node.right].some(
      (side) =>
        (side as PhpNode).kind === 'nullkeyword' ||
        literal(side as PhpNode) === 'null' ||
        nameOf((side as PhpNode).name) === 'null',
    );
  }
  if (node.kind === 'cast' && node.type === 'bool') return true;
  if (node.kind === 'isset') return true;
  if (node.kind === 'unary' && node.type === '!') {
    const inner = node.what as PhpNode;
    return inner.kind === 'call' && nameOf(inner.what) === 'is_null';
  }
  return false;
}

function frameworkMajor(context: ProjectContext, lock: string | null): number | null {
  if (!lock) return null;
  try {
    const parsed = JSON.parse(lock) as { packages?: { name: string; version: string }[] };
    const framework = parsed.packages?.find((p) => p.name === 'laravel/framework');
    const major = framework ? /^v?(\d+)/.exec(framework.version)?.[1] : undefined;
    return major ? Number(major) : null;
  } catch {
    context.logger.warn('composer.lock is not valid JSON; framework version unknown');
    return null;
  }
}

export const hzn002 = defineRule({
  id: 'HZN-002',
  title: 'Horizon supervisor limits unsafe',
  severity: 'medium',
  target: 'laravel-src',
  covers: ['S1:JOB-021', 'S1:JOB-024', 'S2:worker-caps'],
  cwe: ['CWE-770'],
  description:
    'Per supervisor (defaults merged into environments): memory 0, timeout 0 or >= retry_after, tries 0 without maxExceptions, maxProcesses above the host ceiling, and no master memory_limit.',
  fix: 'Explicit memory, bounded maxProcesses, timeout < retry_after, finite tries.',
  check: async (context) => {
    const horizon = laravelConfig(context, 'horizon');
    if (!horizon) return outcome([]);
    const major = frameworkMajor(context, await context.tree.read('composer.lock'));
    const limit = retryAfter(context);
    const findings: RawFinding[] = [];
    const line = (key: string) => horizon.lines.get(key) ?? 1;
    for (const supervisor of horizonSupervisors(horizon)) {
      const o = supervisor.options;
      const report = (key: string, message: string) =>
        findings.push(
          atLine(
            horizon.path,
            horizon.text,
            line(`${supervisor.path}.${key}`) || line(supervisor.path),
            `Horizon ${supervisor.name}: ${message}`,
          ),
        );
      if (o.memory === 0) {
        report(
          'memory',
          major !== null && major <= 11
            ? 'memory 0 restarts the worker after every job (Laravel <= 11)'
            : 'memory 0 disables the worker memory check (Laravel >= 12): leaks grow unbounded',
        );
      }
      if (o.timeout === 0) report('timeout', 'timeout 0 lets a stuck job hold a worker forever');
      else if (typeof o.timeout === 'number' && limit !== null && o.timeout >= limit)
        report('timeout', `timeout ${o.timeout}s >= retry_after ${limit}s`);
      if (o.tries === 0 && o.maxExceptions === undefined)
        report('tries', 'tries 0 retries failing jobs forever');
      if (typeof o.maxProcesses === 'number' && o.maxProcesses > context.options.hostCores * 16) {
        report(
          'maxProcesses',
          `maxProcesses ${o.maxProcesses} is above ${context.options.hostCores * 16} (16 per core)`,
        );
      }
    }
    if (get(horizon.value, 'memory_limit') === undefined) {
      findings.push(
        atLine(
          horizon.path,
          horizon.text,
          1,
          'Horizon master memory_limit is not set (defaults to 64 MB without a decision)',
          'low',
        ),
      );
    }
    return outcome(findings);
  },
});

export const hzn003 = defineRule({
  id: 'HZN-003',
  title: 'Job payloads and failures retained too long',
  severity: 'low',
  target: 'laravel-src',
  covers: ['S1:JOB-002', 'S1:JOB-025'],
  cwe: ['CWE-532'],
  description:
    'horizon.trim recent/pending/completed above 1440 minutes or failed/recent_failed above 10080, and a database failed-job store with no scheduled queue:prune-failed.',
  fix: 'Short trims, scheduled pruning (queue:prune-failed), and encrypted jobs so retained data is ciphertext.',
  check: (context) => {
    const findings: RawFinding[] = [];
    const horizon = laravelConfig(context, 'horizon');
    if (horizon) {
      const limits: Record<string, number> = {
        recent: 1440,
        pending: 1440,
        completed: 1440,
        failed: 10080,
        recent_failed: 10080,
      };
      for (const [key, max] of Object.entries(limits)) {
        const value = get(horizon.value, `trim.${key}`);
        if (typeof value === 'number' && value > max) {
          findings.push(
            atLine(
              horizon.path,
              horizon.text,
              horizon.lines.get(`trim.${key}`) ?? 1,
              `Horizon keeps ${key} jobs for ${value} minutes (above ${max}): payloads and exceptions stay readable that long`,
            ),
          );
        }
      }
    }
    const queue = laravelConfig(context, 'queue');
    const driver = queue ? get(queue.value, 'failed.driver') : undefined;
    if (queue && typeof driver === 'string' && driver.startsWith('database')) {
      const pruned = context.php.files.some(
        (f) =>
          /queue:prune-failed|PruneFailedJobsCommand|failed_jobs/.test(f.text) &&
          f.path !== queue.path &&
          !/migrations\//.test(f.path),
      );
      if (!pruned)
        findings.push(
          atLine(
            queue.path,
            queue.text,
            queue.lines.get('failed.driver') ?? 1,
            'failed jobs are stored in the database and never pruned (no queue:prune-failed schedule)',
          ),
        );
    }
    return outcome(findings);
  },
});

/** Calls a scope makes to a method named `name` on any object. */
export function methodNamed(root: PhpNode, name: string): PhpNode[] {
  return findAll(root, 'call').filter((call) => methodCall(call)?.[1] === name);
}
