import { readFile } from 'node:fs/promises';
import type { Logger, SnapshotError } from '@qscale/contracts';
import { Redis, type RedisOptions } from 'ioredis';
import type { MetricsReaderErrorCode } from '../errors.js';
import { type ResolvedOptions, type ResolvedRedis, redactedUrl } from './options.js';

/** One command of a pipeline: name and arguments. */
export type Command = [name: string, ...args: (string | number)[]];
/** A command's reply, or the error Redis (or the connection) gave for it. */
export type Reply = { ok: true; value: unknown } | { ok: false; error: Error };

/** Error replies that mean the connection, not the command, failed. */
const CONNECTION_FAILURE =
  /Stream isn't writeable|Connection is closed|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|socket hang up|LOADING|MASTERDOWN/;

/** Maps an ioredis or Redis error to the reader's codes. */
export function classifyRedisError(error: Error): MetricsReaderErrorCode {
  const message = error.message;
  if (message.startsWith('WRONGTYPE')) return 'WRONG_TYPE';
  if (message.startsWith('NOPERM')) return 'REDIS_NO_PERMISSION';
  if (/NOAUTH|WRONGPASS|invalid password|invalid username-password/i.test(message)) {
    return 'REDIS_AUTH';
  }
  if (/Command timed out/i.test(message)) return 'REDIS_TIMEOUT';
  if (/certificate|SSL|TLS|self[- ]signed|CERT_|ERR_TLS/i.test(message)) return 'REDIS_TLS';
  if (CONNECTION_FAILURE.test(message)) return 'REDIS_UNREACHABLE';
  return 'REDIS_ERROR';
}

/** True when the error means no command of the connection could have been answered. */
export function isConnectionError(error: Error): boolean {
  const code = classifyRedisError(error);
  return (
    code === 'REDIS_UNREACHABLE' ||
    code === 'REDIS_TIMEOUT' ||
    code === 'REDIS_AUTH' ||
    code === 'REDIS_TLS'
  );
}

/**
 * One ioredis client for every queue on the same Redis. It never queues commands while
 * disconnected (a tick gets an immediate error instead) and reconnects in the background with
 * exponential backoff; every 'error' event is handled.
 */
export class Connection {
  readonly label: string;
  private client: Redis | null = null;
  private starting: Promise<void> | null = null;
  private lastError: Error | null = null;
  private closed = false;

  constructor(
    private readonly redis: ResolvedRedis,
    private readonly options: ResolvedOptions,
    private readonly logger: Logger,
  ) {
    this.label = redactedUrl(redis);
  }

  /** Sends the commands in one round trip; the returned replies are in order. */
  async exec(commands: readonly Command[]): Promise<Reply[]> {
    const client = await this.ready();
    const results = await client.pipeline(commands as Command[]).exec();
    if (results === null) throw new Error('Connection is closed.');
    const replies = results.map(([error, value]) =>
      error ? { ok: false, error } : { ok: true, value },
    ) as Reply[];
    if (this.lastError && replies.some((reply) => reply.ok)) {
      this.logger.info('metrics-reader: Redis answers again', { redis: this.label });
      this.lastError = null;
    }
    return replies;
  }

  /** Runs one command outside a tick (discovery). */
  async call(command: Command): Promise<unknown> {
    const client = await this.ready();
    const [name, ...args] = command;
    return client.call(name, ...args);
  }

  /** The error a queue gets when its connection could not be read, naming the Redis. */
  describe(error: Error): SnapshotError {
    // ioredis reports a state ("closed", "not writeable"); the reason came through 'error'.
    const generic = /Connection is closed|Stream isn't writeable/.test(error.message);
    const cause = generic && this.lastError ? this.lastError : error;
    const code = classifyRedisError(cause);
    return { code, message: `Redis at ${this.label}: ${cause.message}` };
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = null;
    if (!client) return;
    if (client.status === 'ready') {
      await client.quit().catch(() => client.disconnect());
    } else {
      client.disconnect();
    }
  }

  private async ready(): Promise<Redis> {
    if (this.closed) throw new Error('Connection is closed.');
    if (!this.client) {
      this.starting ??= this.start().finally(() => {
        this.starting = null;
      });
      await this.starting;
    }
    const client = this.client;
    if (!client) throw this.lastError ?? new Error('Connection is closed.');
    if (client.status === 'wait') {
      // First use: connect() rejects on failure and ioredis keeps retrying in the background.
      await client.connect().catch((error: Error) => {
        throw this.lastError ?? error;
      });
    } else if (client.status !== 'ready') {
      throw this.lastError ?? new Error(`Connection is closed.`);
    }
    return client;
  }

  private async start(): Promise<void> {
    const options = await this.clientOptions();
    if (this.closed) return;
    const client = new Redis(this.redis.url, options);
    client.on('error', (error: Error) => {
      const changed = this.lastError?.message !== error.message;
      this.lastError = error;
      if (changed) {
        this.logger.warn('metrics-reader: Redis connection error', {
          redis: this.label,
          code: classifyRedisError(error),
          error: error.message,
        });
      }
    });
    // 'ready' is no proof of health (ioredis emits it right after a refused AUTH): the last
    // error is only cleared by a round trip that answers.
    this.client = client;
  }

  private async clientOptions(): Promise<RedisOptions> {
    const { initialDelayMs, maxDelayMs } = this.options.reconnect;
    const options: RedisOptions = {
      lazyConnect: true,
      // While disconnected, a tick fails at once instead of piling commands up.
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      // The ready check runs INFO, which a least-privilege ACL user may not have.
      enableReadyCheck: false,
      maxRetriesPerRequest: 0,
      connectTimeout: this.options.connectTimeoutMs,
      commandTimeout: this.options.commandTimeoutMs,
      reconnectOnError: () => false,
      retryStrategy: (attempt: number) => {
        const delay = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(attempt - 1, 20));
        // Jitter keeps many readers from reconnecting in lockstep after an outage.
        return Math.round(delay * (0.75 + Math.random() * 0.25));
      },
    };
    if (this.redis.username !== null) options.username = this.redis.username;
    if (this.redis.password !== null) options.password = this.redis.password;
    if (this.redis.db !== null) options.db = this.redis.db;
    if (this.options.connectionName !== null) options.connectionName = this.options.connectionName;
    const useTls = this.redis.url.startsWith('rediss:') || this.redis.tls !== null;
    if (useTls) {
      const tls = this.redis.tls;
      const ca = tls?.caFile ? await this.readCa(tls.caFile) : undefined;
      options.tls = {
        rejectUnauthorized: tls?.rejectUnauthorized ?? true,
        ...(tls?.servername ? { servername: tls.servername } : {}),
        ...(ca !== undefined ? { ca } : {}),
      };
    }
    return options;
  }

  private async readCa(file: string): Promise<Buffer> {
    try {
      return await readFile(file);
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      const failure = new Error(`TLS CA file ${file} could not be read (${reason})`);
      this.lastError = failure;
      // Not fatal: the next tick tries again (the file may be being rotated).
      throw failure;
    }
  }
}
