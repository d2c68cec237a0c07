import { type Logger, QUEUE_BACKENDS, type QueueBackend, silentLogger } from '@qscale/contracts';
import { z } from 'zod';
import { DEFAULTS } from '../defaults.js';
import { MetricsReaderError } from '../errors.js';
import type { MetricsReaderOptions, QueueSource, RedisConnectionOptions } from '../types.js';
import { clusterProblem } from './cluster-layout.js';
import { parseRedisUrl } from './redis-url.js';

/** Options with every default filled in. */
export interface ResolvedOptions {
  sources: ResolvedSource[];
  logger: Logger;
  now: () => number;
  windowMs: number;
  rateWindowMs: number;
  minSamples: number;
  maxPayloadBytes: number;
  maxJobsPerTick: number;
  maxEventsPerTick: number;
  markerChecksPerTick: number;
  commandTimeoutMs: number;
  connectTimeoutMs: number;
  reconnect: { initialDelayMs: number; maxDelayMs: number };
  discoveryIntervalMs: number;
  connectionName: string | null;
}

export interface ResolvedTls {
  caFile: string | null;
  certFile: string | null;
  keyFile: string | null;
  servername: string | null;
  rejectUnauthorized: boolean;
}

export interface ResolvedSentinel {
  masterName: string;
  sentinels: { host: string; port: number }[];
  username: string | null;
  password: string | null;
}

export interface ResolvedRedis {
  /** Null only with `sentinel`. */
  url: string | null;
  username: string | null;
  password: string | null;
  db: number | null;
  tls: ResolvedTls | null;
  sentinel: ResolvedSentinel | null;
  cluster: boolean;
}

export interface ResolvedSource {
  queue: string;
  driver: QueueBackend;
  backendName: string;
  /** The effective prefix (the driver's default when the source gave null). */
  prefix: string;
  redis: ResolvedRedis;
  /** Laravel only: the connection's `retry_after` in seconds, null when not given. */
  retryAfter: number | null;
  /** Laravel only: sub-tick probe interval in ms; 0 turns the probe off. */
  probeIntervalMs: number;
  /** Celery only: how the workers acknowledge, and the sub-tick probe (0 = none). */
  celery: { acksLate: boolean; probeIntervalMs: number } | null;
}

const positive = (what: string) =>
  z.number({ error: `expected ${what}` }).positive({ error: `expected ${what}` });
const wholeAtLeast = (min: number) =>
  z
    .number({ error: `expected a whole number >= ${min}` })
    .int({ error: `expected a whole number >= ${min}` })
    .min(min, { error: `expected a whole number >= ${min}` });
const text = (what: string) =>
  z.string({ error: `expected ${what}` }).min(1, { error: `expected ${what}, got ""` });

const REDIS_URL_EXPECTED =
  'expected a redis://, rediss://, redis+unix:///path/to/socket or unix:///path/to/socket URL';

const sentinelSchema = z.strictObject({
  masterName: text('the master name the Sentinels monitor'),
  sentinels: z
    .array(
      z.strictObject({
        host: text('a Sentinel host'),
        port: z
          .number({ error: 'expected a port number 1-65535' })
          .int({ error: 'expected a port number 1-65535' })
          .min(1, { error: 'expected a port number 1-65535' })
          .max(65_535, { error: 'expected a port number 1-65535' }),
      }),
      { error: 'expected a list of { host, port } Sentinels' },
    )
    .min(1, { error: 'expected at least one Sentinel' }),
  username: z.string({ error: 'expected an ACL user name' }).nullable().optional(),
  password: z.string({ error: 'expected a password' }).nullable().optional(),
});

const redisSchema = z
  .strictObject({
    url: text('a Redis URL')
      .refine((value) => parseRedisUrl(value) !== null, { error: REDIS_URL_EXPECTED })
      .nullable()
      .optional(),
    username: z.string({ error: 'expected an ACL user name' }).nullable().optional(),
    password: z.string({ error: 'expected a password' }).nullable().optional(),
    db: wholeAtLeast(0).nullable().optional(),
    tls: z
      .strictObject({
        caFile: z.string({ error: 'expected a path to a CA file' }).nullable().optional(),
        certFile: z
          .string({ error: 'expected a path to a client certificate file' })
          .nullable()
          .optional(),
        keyFile: z.string({ error: 'expected a path to a private key file' }).nullable().optional(),
        servername: z.string({ error: 'expected a host name' }).nullable().optional(),
        rejectUnauthorized: z.boolean({ error: 'expected true or false' }).optional(),
      })
      .nullable()
      .optional(),
    sentinel: sentinelSchema.nullable().optional(),
    cluster: z.boolean({ error: 'expected true or false' }).optional(),
  })
  .superRefine((redis, ctx) => {
    const problem = (path: string[], message: string) =>
      ctx.addIssue({ code: 'custom', path, message, input: undefined });
    const url = redis.url ? parseRedisUrl(redis.url) : null;
    if (redis.sentinel) {
      if (redis.url) problem(['url'], 'set either url or sentinel, not both');
      if (redis.cluster) problem(['cluster'], 'Sentinel and Cluster cannot be combined');
    } else if (!redis.url) {
      problem(['url'], `${REDIS_URL_EXPECTED} (or a sentinel block)`);
    }
    if (redis.cluster && url?.socketPath) {
      problem(['url'], 'Redis Cluster nodes are reached over TCP: expected redis:// or rediss://');
    }
    if (redis.cluster && (redis.db ?? url?.db ?? 0) !== 0) {
      problem(['db'], 'Redis Cluster has database 0 only');
    }
    if (Boolean(redis.tls?.certFile) !== Boolean(redis.tls?.keyFile)) {
      problem(
        ['tls'],
        'expected certFile and keyFile together (a client certificate needs its key)',
      );
    }
    if (redis.tls && url?.socketPath) {
      problem(['tls'], 'TLS is not used over a Unix socket: remove tls');
    }
  });

const sourceSchema = z
  .strictObject({
    queue: text('the queue name of the configuration'),
    driver: z.enum(QUEUE_BACKENDS, { error: `expected one of ${QUEUE_BACKENDS.join(', ')}` }),
    backendName: text('the queue name used by the backend'),
    prefix: z.string({ error: 'expected a key prefix string or null' }).nullable(),
    redis: redisSchema,
    laravel: z
      .strictObject({
        retryAfter: wholeAtLeast(0).nullable().optional(),
        probeIntervalMs: z
          .number({ error: 'expected 0 (off) or a whole number of ms from 20 to 1000' })
          .int({ error: 'expected 0 (off) or a whole number of ms from 20 to 1000' })
          .refine((value) => value === 0 || (value >= 20 && value <= 1000), {
            error: 'expected 0 (off) or a whole number of ms from 20 to 1000',
          })
          .optional(),
      })
      .nullable()
      .optional(),
    celery: z
      .strictObject({
        acksLate: z.boolean({ error: 'expected true or false' }).optional(),
        probeIntervalMs: z
          .number({ error: 'expected an interval in milliseconds >= 0' })
          .min(0, { error: 'expected an interval in milliseconds >= 0' })
          .optional(),
      })
      .optional(),
  })
  .refine((source) => source.laravel == null || source.driver === 'laravel', {
    error: 'laravel settings are only valid on a source whose driver is laravel',
    path: ['laravel'],
  });

const optionsSchema = z.strictObject({
  sources: z.array(sourceSchema, { error: 'expected an array of queue sources' }),
  logger: z
    .custom<Logger>(isLogger, { error: 'expected a logger with debug, info, warn and error' })
    .optional(),
  now: z
    .custom<() => number>((value) => typeof value === 'function', {
      error: 'expected a function returning epoch milliseconds',
    })
    .optional(),
  windowMs: positive('a window in milliseconds above 0').optional(),
  rateWindowMs: positive('a window in milliseconds above 0').optional(),
  minSamples: wholeAtLeast(1).optional(),
  maxPayloadBytes: wholeAtLeast(1).optional(),
  maxJobsPerTick: wholeAtLeast(1).optional(),
  maxEventsPerTick: wholeAtLeast(1).optional(),
  markerChecksPerTick: wholeAtLeast(1).optional(),
  commandTimeoutMs: positive('a timeout in milliseconds above 0').optional(),
  connectTimeoutMs: positive('a timeout in milliseconds above 0').optional(),
  reconnect: z
    .strictObject({
      initialDelayMs: positive('a delay in milliseconds above 0').optional(),
      maxDelayMs: positive('a delay in milliseconds above 0').optional(),
    })
    .optional(),
  discoveryIntervalMs: z
    .number({ error: 'expected an interval in milliseconds >= 0' })
    .min(0, { error: 'expected an interval in milliseconds >= 0' })
    .optional(),
  connectionName: z.string({ error: 'expected a client name or null' }).nullable().optional(),
});

function isLogger(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return ['debug', 'info', 'warn', 'error'].every(
    (level) => typeof candidate[level] === 'function',
  );
}

/** Validates the options and fills in every default; throws `INVALID_OPTIONS` naming the field. */
export function resolveOptions(input: MetricsReaderOptions): ResolvedOptions {
  const parsed = optionsSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const where = issue.path.length > 0 ? formatPath(issue.path) : 'options';
      return `${where}: ${issue.message}${describeFound(input, issue.path)}`;
    });
    throw new MetricsReaderError('INVALID_OPTIONS', `createMetricsReader: ${problems.join('; ')}`);
  }
  const options = parsed.data;
  const reconnect = {
    initialDelayMs: options.reconnect?.initialDelayMs ?? DEFAULTS.reconnect.initialDelayMs,
    maxDelayMs: options.reconnect?.maxDelayMs ?? DEFAULTS.reconnect.maxDelayMs,
  };
  if (reconnect.maxDelayMs < reconnect.initialDelayMs) {
    throw new MetricsReaderError(
      'INVALID_OPTIONS',
      `createMetricsReader: reconnect.maxDelayMs (${reconnect.maxDelayMs}) is below reconnect.initialDelayMs (${reconnect.initialDelayMs})`,
    );
  }
  const sources = options.sources.map(resolveSource);
  reportDuplicates(sources);
  options.sources.forEach((source, index) => {
    const problem = source.redis.cluster ? clusterProblem(source) : null;
    if (problem !== null) {
      throw new MetricsReaderError(
        'INVALID_OPTIONS',
        `createMetricsReader: sources[${index}] (queue "${source.queue}"): ${problem}`,
      );
    }
  });
  return {
    sources,
    logger: options.logger ?? silentLogger,
    now: options.now ?? Date.now,
    windowMs: options.windowMs ?? DEFAULTS.windowMs,
    rateWindowMs: options.rateWindowMs ?? DEFAULTS.rateWindowMs,
    minSamples: options.minSamples ?? DEFAULTS.minSamples,
    maxPayloadBytes: options.maxPayloadBytes ?? DEFAULTS.maxPayloadBytes,
    maxJobsPerTick: options.maxJobsPerTick ?? DEFAULTS.maxJobsPerTick,
    maxEventsPerTick: options.maxEventsPerTick ?? DEFAULTS.maxEventsPerTick,
    markerChecksPerTick: options.markerChecksPerTick ?? DEFAULTS.markerChecksPerTick,
    commandTimeoutMs: options.commandTimeoutMs ?? DEFAULTS.commandTimeoutMs,
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
    reconnect,
    discoveryIntervalMs: options.discoveryIntervalMs ?? DEFAULTS.discoveryIntervalMs,
    connectionName: options.connectionName ?? null,
  };
}

export function resolveSource(source: QueueSource): ResolvedSource {
  return {
    queue: source.queue,
    driver: source.driver,
    backendName: source.backendName,
    prefix: source.prefix ?? DEFAULTS.prefixes[source.driver],
    redis: resolveRedis(source.redis),
    retryAfter: source.laravel?.retryAfter ?? null,
    probeIntervalMs:
      source.driver === 'laravel'
        ? (source.laravel?.probeIntervalMs ?? DEFAULTS.laravelProbeIntervalMs)
        : 0,
    celery:
      source.driver === 'celery'
        ? {
            acksLate: source.celery?.acksLate ?? false,
            // The probe only helps when a message stays in `unacked` while its task runs.
            probeIntervalMs:
              source.celery?.probeIntervalMs ??
              (source.celery?.acksLate ? DEFAULTS.celeryProbeIntervalMs : 0),
          }
        : null,
  };
}

export function resolveRedis(redis: RedisConnectionOptions): ResolvedRedis {
  return {
    url: redis.url ?? null,
    username: redis.username ?? null,
    password: redis.password ?? null,
    db: redis.db ?? null,
    tls: redis.tls
      ? {
          caFile: redis.tls.caFile ?? null,
          certFile: redis.tls.certFile ?? null,
          keyFile: redis.tls.keyFile ?? null,
          servername: redis.tls.servername ?? null,
          rejectUnauthorized: redis.tls.rejectUnauthorized ?? true,
        }
      : null,
    sentinel: redis.sentinel
      ? {
          masterName: redis.sentinel.masterName,
          sentinels: redis.sentinel.sentinels.map(({ host, port }) => ({ host, port })),
          username: redis.sentinel.username ?? null,
          password: redis.sentinel.password ?? null,
        }
      : null,
    cluster: redis.cluster ?? false,
  };
}

/** Validates a discovery target with the same rules as a source. */
export function parseRedisOptions(redis: unknown, where: string): RedisConnectionOptions {
  const parsed = redisSchema.safeParse(redis);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new MetricsReaderError(
      'INVALID_OPTIONS',
      `${where}${issue ? `.${issue.path.join('.')}` : ''}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}

/** Two sources reading the same backend queue would double-count it. */
function reportDuplicates(sources: ResolvedSource[]): void {
  const seen = new Map<string, string>();
  const names = new Set<string>();
  for (const source of sources) {
    if (names.has(source.queue)) {
      throw new MetricsReaderError(
        'INVALID_OPTIONS',
        `createMetricsReader: sources has two queues named "${source.queue}"; queue names must be unique`,
      );
    }
    names.add(source.queue);
    const identity = [
      connectionKey(source.redis),
      source.driver,
      source.prefix,
      source.backendName,
    ].join('\0');
    const first = seen.get(identity);
    if (first !== undefined) {
      throw new MetricsReaderError(
        'INVALID_OPTIONS',
        `createMetricsReader: queues "${first}" and "${source.queue}" read the same ${source.driver} queue "${source.backendName}"`,
      );
    }
    seen.set(identity, source.queue);
  }
}

/** Sources with equal keys share one client. */
export function connectionKey(redis: ResolvedRedis): string {
  return JSON.stringify([
    redis.url,
    redis.username,
    redis.password,
    redis.db,
    redis.tls,
    redis.sentinel,
    redis.cluster,
  ]);
}

function formatPath(path: PropertyKey[]): string {
  return path
    .map((part, index) =>
      typeof part === 'number' ? `[${part}]` : `${index === 0 ? '' : '.'}${String(part)}`,
    )
    .join('');
}

function describeFound(input: unknown, path: PropertyKey[]): string {
  let value: unknown = input;
  for (const part of path) {
    if (typeof value !== 'object' || value === null) return '';
    value = (value as Record<PropertyKey, unknown>)[part];
  }
  if (value === undefined || typeof value === 'object' || typeof value === 'function') return '';
  // Credentials never appear in messages (a URL may carry a password).
  if (path.includes('password') || path.at(-1) === 'url') return '';
  return `, got ${JSON.stringify(value)}`;
}
