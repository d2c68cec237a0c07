import { QUEUE_BACKENDS, type QueueBackend } from '@qscale/contracts';
import { clusterProblem } from '@qscale/metrics-reader';
import { z } from 'zod';
import { type AlertsConfig, alertsSchema, resolveAlerts } from './alerts.js';
import { type ClusterConfig, clusterSchema, resolveCluster } from './cluster.js';
import { DEFAULTS } from './defaults.js';
import {
  type ExternalScalerConfig,
  externalScalerSchema,
  resolveExternalScaler,
} from './external-scaler.js';
import {
  account,
  argv,
  cores,
  duration,
  environment,
  percent,
  percentile,
  QUEUE_NAME_EXPECTED,
  QUEUE_NAME_PATTERN,
  redisUrl,
  signal,
  size,
  text,
  wholeNumber,
} from './fields.js';
import {
  type GroupSpec,
  groupPool,
  groupSettingsSchema,
  membership,
  resolveGroupSpec,
} from './groups.js';

// The configuration file, as zod schemas. Every object is strict (unknown keys are errors).
// Each queue is `defaults` deep-merged with the queue's own settings, then completed from
// DEFAULTS; the result uses the house units (`...Ms`, `...Bytes`).

export interface RedisConnection {
  /**
   * `redis://`, `rediss://` (TLS) or `redis+unix:///path?db=N` URL; may carry user, password
   * and db. With `sentinel`, a name for messages only: `redis+sentinel://<first Sentinel>/<master>`.
   */
  url: string;
  /** ACL user name, overriding the URL's. */
  username: string | null;
  /** Password, overriding the URL's. Never logged. */
  password: string | null;
  /** Database index, overriding the URL's. */
  db: number | null;
  /** TLS settings; null means TLS only if the URL is `rediss://`. */
  tls: {
    caFile: string | null;
    /** Client certificate and its key, for `tls-auth-clients yes`. */
    certFile: string | null;
    keyFile: string | null;
    servername: string | null;
    rejectUnauthorized: boolean;
  } | null;
  /** Redis Sentinel: the master is found through these Sentinels; null: not used. */
  sentinel: {
    masterName: string;
    sentinels: { host: string; port: number }[];
    username: string | null;
    password: string | null;
  } | null;
  /** Redis Cluster: `url` is one node of it. */
  cluster: boolean;
}

export interface StrategyChoice {
  /** A built-in strategy (`predictive`, ...) or the package name of a third-party one. */
  name: string;
  /** Options checked by the strategy's own schema when it is created. */
  options: Record<string, unknown>;
}

export interface QueueConfig {
  /** The queue's name in this configuration, logs, metrics and API. */
  name: string;
  /** The queue system it lives in. */
  driver: QueueBackend;
  /** The queue's name in the backend (e.g. `{default}` for Laravel on a cluster). */
  backendName: string;
  /** The backend's key prefix; null means the driver's default. */
  prefix: string | null;
  redis: RedisConnection;
  strategy: StrategyChoice;
  slo: { pickupMs: number; percentile: number };
  workers: { min: number; max: number; concurrency: number };
  /** Program and arguments of one worker; spawned without a shell. */
  command: string[];
  /** The worker's whole environment (plus PATH). */
  env: Record<string, string>;
  /** Working directory of the workers; relative paths are resolved from the config file. */
  cwd: string;
  user: string | null;
  group: string | null;
  stop: { signals: string[]; graceMs: number };
  spawn: { latencyMs: number; minUptimeMs: number };
  recycle: { maxRssBytes: number | null; maxLifetimeMs: number | null };
  resources: { cpuCores: number | null; memoryBytes: number | null };
  /** Laravel only: the reader's timing settings (null on other drivers). */
  laravel: { retryAfterS: number | null; probeIntervalMs: number } | null;
  /** Celery only: how its workers acknowledge, and the reader's probe (null on other drivers). */
  celery: { acksLate: boolean; probeIntervalMs: number | null } | null;
  /** Crash-loop handling; the field names are the supervisor's. */
  restart: {
    backoffInitialMs: number;
    backoffMaxMs: number;
    backoffResetMs: number;
    maxFailedStarts: number;
    coolOffMs: number;
  };
  scaling: {
    cooldownMs: number;
    downStabilizationMs: number;
    maxStepUp: number | null;
    maxStepDown: number | null;
    maxStepDownRatio: number | null;
    priority: number;
    /** Drained-and-quiet ticks before a scale-down skips the window; null: never. */
    quietAfterTicks: number | null;
    quietMemoryMs: number;
  };
  /**
   * Set on the pool entry of a worker group (config/groups.ts): `name` is the group's, the
   * members are the queues its workers serve. Absent on a plain queue.
   */
  workerGroup?: GroupSpec;
}

export interface QscaleConfig {
  redis: RedisConnection;
  tickMs: number;
  /** How often queues without workers are checked for a first job between ticks; 0: off. */
  wakePollMs: number;
  http: { enabled: boolean; host: string; port: number; token: string | null };
  limits: {
    maxWorkers: number;
    cpu: { maxPercent: number; perWorkerCores: number | null; enforce: boolean };
    memory: { maxPercent: number; perWorkerBytes: number | null };
  };
  supervision: { stateFile: string; previousWorkers: 'adopt' | 'stop'; refuseRoot: boolean };
  log: { level: 'debug' | 'info' | 'warn' | 'error'; format: 'auto' | 'json' | 'pretty' };
  /** Alert webhooks (see config/alerts.ts); no webhook means no alert is sent. */
  alerts: AlertsConfig;
  /** KEDA's external scaler gRPC service (config/external-scaler.ts); null: not served by qscaled. */
  externalScaler: ExternalScalerConfig | null;
  /** A fleet of hosts sharing the queues (config/cluster.ts); `enabled: false` by default. */
  cluster: ClusterConfig;
  /**
   * One entry per pool, in the order of the file: each queue that is in no group, then each
   * worker group (with `group` set; its member queues are inside it, not here).
   */
  queues: QueueConfig[];
}

/**
 * A credential that may be absent; an empty string counts as absent, so
 * `password: "${REDIS_PASSWORD:-}"` works when the variable is unset.
 */
function optionalSecret(what: string) {
  return z
    .string({ error: `expected ${what}` })
    .optional()
    .transform((value) => (value === '' ? undefined : value));
}

/** A Sentinel as `host:port` (port 26379 when omitted). */
const sentinelAddress = z
  .string({ error: 'expected a Sentinel as "host:port"' })
  .transform((value, ctx) => {
    const match = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(value.trim());
    const port = Number(match?.[2] ?? 26379);
    if (!match || port < 1 || port > 65_535) {
      ctx.addIssue({ code: 'custom', message: 'expected a Sentinel as "host:port"', input: value });
      return z.NEVER;
    }
    return { host: (match[1] as string).replace(/^\[|\]$/g, ''), port };
  });

const redisSchema = z.strictObject({
  url: redisUrl().optional(),
  username: optionalSecret('an ACL user name'),
  password: optionalSecret('a password'),
  db: wholeNumber(0).optional(),
  tls: z
    .strictObject({
      ca: text('a path to a CA certificate file').optional(),
      cert: text('a path to a client certificate file').optional(),
      key: text("a path to the client certificate's private key file").optional(),
      servername: text('a host name').optional(),
      rejectUnauthorized: z.boolean({ error: 'expected true or false' }).optional(),
    })
    .optional(),
  sentinel: z
    .strictObject({
      masterName: text('the master name the Sentinels monitor'),
      sentinels: z
        .array(sentinelAddress, { error: 'expected a list of "host:port" Sentinels' })
        .min(1, 'expected at least one Sentinel'),
      username: optionalSecret('an ACL user name for the Sentinels'),
      password: optionalSecret("the Sentinels' password"),
    })
    .optional(),
  cluster: z.boolean({ error: 'expected true or false' }).optional(),
});
type RedisInput = Partial<z.output<typeof redisSchema>>;

const strategySchema = z.union(
  [
    text('a strategy name'),
    z.strictObject({
      name: text('a strategy name'),
      options: z.record(z.string(), z.unknown(), { error: 'expected a mapping' }).optional(),
    }),
  ],
  { error: 'expected a strategy name like predictive, or { name, options }' },
);

// The range of each duration: what its use sensibly holds (Kubernetes' HPA, for one, caps its
// stabilisation window at an hour), always below the 24.8 days a Node timer can hold.
const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

const QUIET_TICKS = 'expected a whole number of ticks >= 1, or false (never)';

/** Every setting a queue (or `defaults`) may carry; all optional until merged. */
const queueSettingsSchema = z.strictObject({
  driver: z
    .enum(QUEUE_BACKENDS, { error: `expected one of ${QUEUE_BACKENDS.join(', ')}` })
    .optional(),
  name: text('the queue name used by the backend').optional(),
  prefix: z.string({ error: 'expected a key prefix string' }).optional(),
  redis: redisSchema.optional(),
  strategy: strategySchema.optional(),
  slo: z
    .strictObject({
      pickup: duration({ minMs: 1, maxMs: DAY_MS }).optional(),
      percentile: percentile().optional(),
    })
    .optional(),
  workers: z
    .strictObject({
      min: wholeNumber(0).optional(),
      max: wholeNumber(1).optional(),
      concurrency: wholeNumber(1).optional(),
    })
    .optional(),
  command: argv().optional(),
  env: environment().optional(),
  cwd: text('a directory').optional(),
  user: account('user').optional(),
  group: account('group').optional(),
  stop: z
    .strictObject({
      signal: z
        .union([signal(), z.array(signal()).min(1)], {
          error: 'expected a signal name like SIGTERM, or a list such as [SIGTSTP, SIGTERM]',
        })
        .optional(),
      grace: duration({ maxMs: DAY_MS }).optional(),
    })
    .optional(),
  spawn: z
    .strictObject({
      latency: duration({ maxMs: 10 * MINUTE_MS }).optional(),
      minUptime: duration({ maxMs: 10 * MINUTE_MS }).optional(),
    })
    .optional(),
  recycle: z
    .strictObject({
      memory: size().optional(),
      lifetime: duration({ minMs: 1_000, maxMs: 7 * DAY_MS }).optional(),
    })
    .optional(),
  resources: z.strictObject({ cpu: cores().optional(), memory: size().optional() }).optional(),
  laravel: z
    .strictObject({
      // Laravel scores a reservation in whole seconds: its retry_after is one.
      retryAfter: duration({ minMs: 1_000, maxMs: DAY_MS })
        .refine((ms) => ms % 1_000 === 0, 'expected whole seconds, like retry_after (90s)')
        .optional(),
      probe: z
        .union([z.literal(false), duration({ minMs: 20, maxMs: 1_000 })], {
          error: 'expected false (off) or a duration from 20ms to 1s',
        })
        .optional(),
    })
    .optional(),
  celery: z
    .strictObject({
      // Whether the workers run with task_acks_late: only then do running tasks stay visible.
      acksLate: z.boolean({ error: 'expected true or false' }).optional(),
      probe: z
        .union([z.literal(false), duration({ minMs: 20, maxMs: 1_000 })], {
          error: 'expected false (off) or a duration from 20ms to 1s',
        })
        .optional(),
    })
    .optional(),
  restart: z
    .strictObject({
      backoff: duration({ minMs: 1, maxMs: HOUR_MS }).optional(),
      backoffMax: duration({ minMs: 1, maxMs: HOUR_MS }).optional(),
      backoffReset: duration({ maxMs: DAY_MS }).optional(),
      maxFailedStarts: wholeNumber(1).optional(),
      coolOff: duration({ minMs: 1, maxMs: DAY_MS }).optional(),
    })
    .optional(),
  scaling: z
    .strictObject({
      cooldown: duration({ maxMs: HOUR_MS }).optional(),
      downStabilization: duration({ maxMs: HOUR_MS }).optional(),
      maxStepUp: wholeNumber(1).optional(),
      maxStepDown: wholeNumber(1).optional(),
      maxStepDownRatio: z
        .number({ error: 'expected a share above 0 and at most 1, e.g. 0.25' })
        .gt(0, { error: 'expected a share above 0 and at most 1, e.g. 0.25' })
        .max(1, { error: 'expected a share above 0 and at most 1, e.g. 0.25' })
        .optional(),
      priority: z
        .number({ error: 'expected a priority weight above 0' })
        .gt(0, { error: 'expected a priority weight above 0' })
        .optional(),
      quietAfterTicks: z
        .union(
          [z.literal(false), z.number().int({ error: QUIET_TICKS }).min(1, { error: QUIET_TICKS })],
          {
            error: QUIET_TICKS,
          },
        )
        .optional(),
      // The predictive strategy keeps this much history per queue: an hour bounds its memory.
      quietMemory: duration({ maxMs: HOUR_MS }).optional(),
    })
    .optional(),
});
type QueueSettings = z.output<typeof queueSettingsSchema>;
const groupSchema = groupSettingsSchema(queueSettingsSchema);

const fileSchema = z.strictObject({
  /** Lets editors find the JSON Schema; ignored by qscale. */
  $schema: z.string().optional(),
  redis: redisSchema.optional(),
  tick: duration({ minMs: 100, maxMs: 10 * MINUTE_MS }).optional(),
  wakePoll: duration({ maxMs: MINUTE_MS })
    .refine((ms) => ms === 0 || ms >= 50, 'expected 0s (off) or at least 50ms')
    .optional(),
  http: z
    .strictObject({
      enabled: z.boolean({ error: 'expected true or false' }).optional(),
      host: text('a host name or IP address to listen on').optional(),
      port: wholeNumber(0, 65_535).optional(),
      token: optionalSecret('a bearer token string').refine(
        (token) => token === undefined || token.length >= 16,
        'expected a bearer token of at least 16 characters',
      ),
    })
    .optional(),
  limits: z
    .strictObject({
      maxWorkers: wholeNumber(1).optional(),
      cpu: z
        .strictObject({
          maxPercent: percent().optional(),
          perWorker: cores().optional(),
          enforce: z.boolean({ error: 'expected true or false' }).optional(),
        })
        .optional(),
      memory: z
        .strictObject({ maxPercent: percent().optional(), perWorker: size().optional() })
        .optional(),
    })
    .optional(),
  supervision: z
    .strictObject({
      stateFile: text('a file path').optional(),
      previousWorkers: z.enum(['adopt', 'stop'], { error: 'expected adopt or stop' }).optional(),
      refuseRoot: z.boolean({ error: 'expected true or false' }).optional(),
    })
    .optional(),
  log: z
    .strictObject({
      level: z
        .enum(['debug', 'info', 'warn', 'error'], { error: 'expected debug, info, warn or error' })
        .optional(),
      format: z
        .enum(['auto', 'json', 'pretty'], { error: 'expected auto, json or pretty' })
        .optional(),
    })
    .optional(),
  alerts: alertsSchema.optional(),
  externalScaler: externalScalerSchema.optional(),
  cluster: clusterSchema.optional(),
  defaults: queueSettingsSchema.optional(),
  queues: z.record(
    z
      .string()
      .max(200, `${QUEUE_NAME_EXPECTED}, at most 200 characters`)
      .regex(QUEUE_NAME_PATTERN, QUEUE_NAME_EXPECTED),
    queueSettingsSchema,
    { error: 'expected a mapping of queue names to their settings' },
  ),
  groups: z
    .record(
      z
        .string()
        .max(200, `${QUEUE_NAME_EXPECTED}, at most 200 characters`)
        .regex(QUEUE_NAME_PATTERN, QUEUE_NAME_EXPECTED),
      groupSchema,
      { error: 'expected a mapping of group names to their settings' },
    )
    .optional(),
});

/**
 * The configuration file schema: validates a parsed YAML/JSON object and resolves it into a
 * {@link QscaleConfig}. Paths stay as written; `loadConfig` resolves them from the file's folder.
 */
export const configSchema = fileSchema.transform((file, ctx): QscaleConfig => {
  const redis = resolveRedis(file.redis ?? {});
  const reportAt: Report = (path, message) => ctx.issues.push({ ...WHOLE, path, message });
  reportRedisProblems(file.redis ?? {}, ['redis'], reportAt);
  if (file.defaults?.redis) {
    reportRedisProblems(
      overlayRedis(file.redis ?? {}, file.defaults.redis),
      ['defaults', 'redis'],
      reportAt,
    );
  }
  const queues: QueueConfig[] = [];
  const names = Object.keys(file.queues);
  if (names.length === 0) {
    ctx.issues.push({
      code: 'custom',
      path: ['queues'],
      message: 'expected at least one queue',
      input: file.queues,
    });
  }
  const owner = membership(file.groups);
  const members = new Map<string, QueueConfig>();
  for (const name of names) {
    const merged = mergeSettings(file.defaults ?? {}, file.queues[name] ?? {});
    // A member's pool is its group's: any command it inherits is not its own to run.
    const settings = owner.has(name) ? { ...merged, command: [] } : merged;
    const queue = resolveQueue(name, settings, redis, file.redis ?? {}, (path, message) =>
      ctx.issues.push({ ...WHOLE, path: ['queues', name, ...path], message }),
    );
    if (queue && owner.has(name)) members.set(name, queue);
    else if (queue) queues.push(queue);
    const own = file.queues[name]?.redis;
    if (own) {
      const inherited = overlayRedis(file.redis ?? {}, file.defaults?.redis ?? {});
      reportRedisProblems(overlayRedis(inherited, own), ['queues', name, 'redis'], reportAt);
    }
    if (queue) reportClusterLayout(queue, reportAt);
  }
  const standalone = [...queues];
  for (const [name, group] of Object.entries(file.groups ?? {})) {
    const report: Report = (path, message) => ctx.issues.push({ ...WHOLE, path, message });
    const spec = resolveGroupSpec(
      name,
      group,
      { ownSettings: file.queues, resolved: members, owner },
      report,
    );
    const { queues: _members, discipline: _discipline, weights: _weights, ...own } = group;
    // The pool's own settings resolve like a queue's; its driver (which only picks
    // driver-specific reader settings a group has none of) is its members'.
    const pool = resolveQueue(
      name,
      { ...mergeSettings(file.defaults ?? {}, own), driver: spec?.members[0]?.driver ?? 'rq' },
      redis,
      file.redis ?? {},
      (path, message) => report(['groups', name, ...path], message),
    );
    if (spec && pool) queues.push(groupPool(pool, spec));
  }
  reportSharedBackendQueues([...standalone, ...members.values()], (path, message) =>
    ctx.issues.push({ ...WHOLE, path, message }),
  );
  return {
    redis,
    tickMs: file.tick ?? DEFAULTS.tickMs,
    wakePollMs: file.wakePoll ?? DEFAULTS.wakePollMs,
    http: {
      enabled: file.http?.enabled ?? DEFAULTS.http.enabled,
      host: file.http?.host ?? DEFAULTS.http.host,
      port: file.http?.port ?? DEFAULTS.http.port,
      token: file.http?.token ?? null,
    },
    limits: {
      maxWorkers: file.limits?.maxWorkers ?? DEFAULTS.limits.maxWorkers,
      cpu: {
        maxPercent: file.limits?.cpu?.maxPercent ?? DEFAULTS.limits.cpuMaxPercent,
        perWorkerCores: file.limits?.cpu?.perWorker ?? null,
        enforce: file.limits?.cpu?.enforce ?? DEFAULTS.limits.cpuEnforce,
      },
      memory: {
        maxPercent: file.limits?.memory?.maxPercent ?? DEFAULTS.limits.memoryMaxPercent,
        perWorkerBytes: file.limits?.memory?.perWorker ?? null,
      },
    },
    supervision: {
      stateFile: file.supervision?.stateFile ?? DEFAULTS.supervision.stateFile,
      previousWorkers: file.supervision?.previousWorkers ?? DEFAULTS.supervision.previousWorkers,
      refuseRoot: file.supervision?.refuseRoot ?? DEFAULTS.supervision.refuseRoot,
    },
    log: {
      level: file.log?.level ?? DEFAULTS.log.level,
      format: file.log?.format ?? DEFAULTS.log.format,
    },
    alerts: resolveAlerts(file.alerts, (path, message) =>
      ctx.issues.push({ ...WHOLE, path, message }),
    ),
    externalScaler: resolveExternalScaler(file.externalScaler, (path, message) =>
      ctx.issues.push({ ...WHOLE, path, message }),
    ),
    cluster: resolveCluster(file.cluster, file.tick ?? DEFAULTS.tickMs, (path, message) =>
      ctx.issues.push({ ...WHOLE, path, message }),
    ),
    queues,
  };
});

export type ConfigInput = z.input<typeof configSchema>;

type Report = (path: (string | number)[], message: string) => void;

/** Marks a problem whose message is complete: it is about several values, not one found value. */
const WHOLE = { code: 'custom', input: undefined, params: { complete: true } } as const;

function resolveQueue(
  name: string,
  settings: QueueSettings,
  topRedis: RedisConnection,
  topRedisInput: RedisInput,
  report: Report,
): QueueConfig | null {
  const { driver, command } = settings;
  if (driver === undefined) {
    report(
      ['driver'],
      `required: set driver (${QUEUE_BACKENDS.join(', ')}) here or under defaults`,
    );
  }
  if (command === undefined) {
    report(['command'], 'required: set the worker command as an argv array here or under defaults');
  }
  const min = settings.workers?.min ?? DEFAULTS.queue.workers.min;
  const max = settings.workers?.max ?? DEFAULTS.queue.workers.max;
  if (min > max) report(['workers'], `min (${min}) is greater than max (${max})`);
  const laravelOnly =
    settings.laravel !== undefined && driver !== undefined && driver !== 'laravel';
  if (laravelOnly) report(['laravel'], `only for driver laravel (this queue is ${driver})`);
  const celeryOnly = settings.celery !== undefined && driver !== undefined && driver !== 'celery';
  if (celeryOnly) report(['celery'], `only for driver celery (this queue is ${driver})`);
  const misplaced = laravelOnly || celeryOnly;
  if (driver === undefined || command === undefined || min > max || misplaced) return null;

  const strategy = settings.strategy ?? DEFAULTS.queue.strategy;
  return {
    name,
    driver,
    backendName: settings.name ?? name,
    prefix: settings.prefix ?? null,
    redis: settings.redis ? resolveRedis(overlayRedis(topRedisInput, settings.redis)) : topRedis,
    strategy:
      typeof strategy === 'string'
        ? { name: strategy, options: {} }
        : { name: strategy.name, options: strategy.options ?? {} },
    slo: {
      pickupMs: settings.slo?.pickup ?? DEFAULTS.queue.slo.pickupMs,
      percentile: settings.slo?.percentile ?? DEFAULTS.queue.slo.percentile,
    },
    workers: {
      min,
      max,
      concurrency: settings.workers?.concurrency ?? DEFAULTS.queue.workers.concurrency,
    },
    command,
    env: settings.env ?? {},
    cwd: settings.cwd ?? '.',
    user: settings.user ?? null,
    group: settings.group ?? null,
    stop: {
      signals: toList(settings.stop?.signal) ?? [...DEFAULTS.queue.stop.signals],
      graceMs: settings.stop?.grace ?? DEFAULTS.queue.stop.graceMs,
    },
    spawn: {
      latencyMs: settings.spawn?.latency ?? DEFAULTS.queue.spawn.latencyMs,
      minUptimeMs: settings.spawn?.minUptime ?? DEFAULTS.queue.spawn.minUptimeMs,
    },
    recycle: {
      maxRssBytes: settings.recycle?.memory ?? null,
      maxLifetimeMs: settings.recycle?.lifetime ?? null,
    },
    resources: {
      cpuCores: settings.resources?.cpu ?? null,
      memoryBytes: settings.resources?.memory ?? null,
    },
    laravel:
      driver === 'laravel'
        ? {
            retryAfterS:
              settings.laravel?.retryAfter === undefined
                ? null
                : settings.laravel.retryAfter / 1_000,
            probeIntervalMs:
              settings.laravel?.probe === false
                ? 0
                : (settings.laravel?.probe ?? DEFAULTS.queue.laravel.probeIntervalMs),
          }
        : null,
    celery:
      driver === 'celery'
        ? {
            acksLate: settings.celery?.acksLate ?? false,
            // null: the reader's default (its probe runs only with acks_late).
            probeIntervalMs:
              settings.celery?.probe === false ? 0 : (settings.celery?.probe ?? null),
          }
        : null,
    restart: {
      backoffInitialMs: settings.restart?.backoff ?? DEFAULTS.queue.restart.backoffInitialMs,
      backoffMaxMs: settings.restart?.backoffMax ?? DEFAULTS.queue.restart.backoffMaxMs,
      backoffResetMs: settings.restart?.backoffReset ?? DEFAULTS.queue.restart.backoffResetMs,
      maxFailedStarts: settings.restart?.maxFailedStarts ?? DEFAULTS.queue.restart.maxFailedStarts,
      coolOffMs: settings.restart?.coolOff ?? DEFAULTS.queue.restart.coolOffMs,
    },
    scaling: {
      cooldownMs: settings.scaling?.cooldown ?? DEFAULTS.queue.scaling.cooldownMs,
      downStabilizationMs:
        settings.scaling?.downStabilization ?? DEFAULTS.queue.scaling.downStabilizationMs,
      maxStepUp: settings.scaling?.maxStepUp ?? null,
      maxStepDown: settings.scaling?.maxStepDown ?? null,
      maxStepDownRatio: settings.scaling?.maxStepDownRatio ?? null,
      priority: settings.scaling?.priority ?? DEFAULTS.queue.scaling.priority,
      quietAfterTicks: quietAfterTicks(settings.scaling?.quietAfterTicks),
      quietMemoryMs: settings.scaling?.quietMemory ?? DEFAULTS.queue.scaling.quietMemoryMs,
    },
  };
}

/** `false` turns the quiet release off; absent keeps the policies' default. */
function quietAfterTicks(value: number | false | undefined): number | null {
  if (value === false) return null;
  return value ?? DEFAULTS.queue.scaling.quietAfterTicks;
}

function resolveRedis(input: RedisInput): RedisConnection {
  const sentinel = input.sentinel
    ? {
        masterName: input.sentinel.masterName,
        sentinels: input.sentinel.sentinels,
        username: input.sentinel.username ?? null,
        password: input.sentinel.password ?? null,
      }
    : null;
  const first = sentinel?.sentinels[0];
  return {
    url:
      input.url ??
      (sentinel && first
        ? `redis+sentinel://${first.host.includes(':') ? `[${first.host}]` : first.host}:${first.port}/${encodeURIComponent(sentinel.masterName)}`
        : DEFAULTS.redisUrl),
    username: input.username ?? null,
    password: input.password ?? null,
    db: input.db ?? null,
    tls: input.tls
      ? {
          caFile: input.tls.ca ?? null,
          certFile: input.tls.cert ?? null,
          keyFile: input.tls.key ?? null,
          servername: input.tls.servername ?? null,
          rejectUnauthorized: input.tls.rejectUnauthorized ?? true,
        }
      : null,
    sentinel,
    cluster: input.cluster ?? false,
  };
}

/**
 * A queue's (or `defaults`') redis over the inherited one. Naming a server one way replaces the
 * other way: a queue with its own `url` leaves the top-level Sentinels behind, and the reverse.
 */
function overlayRedis(base: RedisInput, own: RedisInput): RedisInput {
  const merged: RedisInput = { ...base, ...own };
  if (own.url !== undefined && own.sentinel === undefined) delete merged.sentinel;
  if (own.sentinel !== undefined && own.url === undefined) delete merged.url;
  return merged;
}

/**
 * What a Redis deployment cannot do, at the key it is about: url with sentinel, Sentinel with
 * Cluster, a database other than 0 on a cluster, TLS on a socket, a certificate without key.
 */
function reportRedisProblems(input: RedisInput, where: (string | number)[], report: Report): void {
  const socket = input.url !== undefined && /^(redis\+)?unix:/.test(input.url);
  if (input.sentinel && input.url !== undefined) {
    report(
      [...where, 'url'],
      'set either url or sentinel, not both (the Sentinels name the master)',
    );
  }
  if (input.sentinel && input.cluster) {
    report([...where, 'cluster'], 'Sentinel and Cluster cannot be combined: choose one');
  }
  if (input.cluster && socket) {
    report(
      [...where, 'url'],
      'Redis Cluster nodes are reached over TCP: use redis:// or rediss://',
    );
  }
  if (input.cluster && input.db !== undefined && input.db !== 0) {
    report([...where, 'db'], 'Redis Cluster has database 0 only');
  }
  if (input.tls && socket) {
    report([...where, 'tls'], 'TLS is not used over a Unix socket: remove tls or use rediss://');
  }
  if (Boolean(input.tls?.cert) !== Boolean(input.tls?.key)) {
    report([...where, 'tls'], 'set cert and key together (a client certificate needs its key)');
  }
}

/** A queue on Redis Cluster whose keys cannot share a slot, at the key to change. */
function reportClusterLayout(queue: QueueConfig, report: Report): void {
  if (!queue.redis.cluster) return;
  const problem = clusterProblem({
    queue: queue.name,
    driver: queue.driver,
    backendName: queue.backendName,
    prefix: queue.prefix,
    redis: { url: queue.redis.url, cluster: true },
  });
  if (problem === null) return;
  const key = queue.driver === 'laravel' ? 'name' : queue.driver === 'bullmq' ? 'prefix' : 'driver';
  report(['queues', queue.name, key], problem);
}

/** Two queues reading the same backend queue would double-count and fight over workers. */
function reportSharedBackendQueues(queues: QueueConfig[], report: Report): void {
  const seen = new Map<string, string>();
  for (const queue of queues) {
    const url = new URL(queue.redis.url);
    const socket = url.protocol === 'redis+unix:' || url.protocol === 'unix:';
    const db =
      queue.redis.db ??
      (socket ? Number(url.searchParams.get('db') ?? 0) : Number(url.pathname.slice(1)) || 0);
    const where = socket ? `unix:${url.pathname}` : url.host;
    const identity = [where, db, queue.driver, queue.prefix ?? '', queue.backendName].join('\0');
    const first = seen.get(identity);
    if (first === undefined) {
      seen.set(identity, queue.name);
    } else {
      report(
        ['queues', queue.name],
        `reads the same ${queue.driver} queue "${queue.backendName}" as queue "${first}"; give it another name or prefix`,
      );
    }
  }
}

// Objects merge key by key; lists, strings and the strategy choice replace as a whole.
const REPLACED_WHOLE = new Set(['strategy', 'command']);

function mergeSettings(defaults: QueueSettings, own: QueueSettings): QueueSettings {
  return mergeObjects(defaults, own) as QueueSettings;
}

function mergeObjects(base: object, over: object): object {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    const current = merged[key];
    merged[key] =
      isPlainObject(current) && isPlainObject(value) && !REPLACED_WHOLE.has(key)
        ? mergeObjects(current, value)
        : value;
  }
  return merged;
}

function isPlainObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function toList<T>(value: T | T[] | undefined): T[] | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value : [value];
}
