import type { Socket } from 'node:net';
import type { Logger, SnapshotError } from '@qscale/contracts';
import type { MetricsReaderErrorCode } from '../errors.js';
import type { ResolvedOptions, ResolvedRedis } from './options.js';
import { parseRedisUrl, redactedUrl } from './redis-url.js';
import { encodeCommand, encodeCommands, RespParser, type RespValue } from './resp.js';
import { askSentinels } from './sentinel.js';
import { type Endpoint, openSocket } from './socket.js';

/** One command of a pipeline: name and arguments. */
export type Command = [name: string, ...args: (string | number)[]];

/**
 * A command encoded once and sent every tick: most reads (LLEN, ZCARD of a fixed key) do not
 * change between ticks, and encoding them again would cost more than sending them.
 */
export class Prepared {
  readonly bytes: Buffer;

  constructor(readonly command: Command) {
    this.bytes = encodeCommand(command);
  }
}

/** What a batch holds: a command to encode, or one encoded already. */
export type Sendable = Command | Prepared;

/** The command behind a sendable, for messages. */
export function commandOf(sendable: Sendable): Command {
  return sendable instanceof Prepared ? sendable.command : sendable;
}
/** A command's reply, or the error Redis (or the connection) gave for it. */
/** A command's reply; an `Error` when Redis (or the connection) refused it. */
export type Reply = unknown;

/** Errors that mean the connection, not the command, failed. */
const CONNECTION_FAILURE =
  /Connection is closed|not connected|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|ENOENT|EACCES|socket hang up|closed the connection|timed out connecting|LOADING|MASTERDOWN|not the master|no Sentinel|CLUSTERDOWN|cluster slot map/;

/** Maps a connection error or a Redis error reply to the reader's codes. */
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

interface Batch {
  expected: number;
  replies: Reply[];
  resolve(replies: Reply[]): void;
  reject(error: Error): void;
}

/**
 * What the reader needs of a Redis: a plain or Sentinel-found server ({@link Connection}) or a
 * cluster (`ClusterConnection`).
 */
export interface RedisLink {
  readonly label: string;
  readonly receivedBytes: number;
  exec(commands: readonly Sendable[]): Promise<Reply[]>;
  call(command: Command): Promise<unknown>;
  /** The links a keyless SCAN must visit: every master of a cluster, else this one. */
  scanTargets(): Promise<RedisLink[]>;
  describe(error: Error): SnapshotError;
  close(): Promise<void>;
}

/**
 * One connection for every queue on the same Redis, speaking RESP2 itself (see resp.ts for
 * why not ioredis on this path). A batch of commands is one write and one round trip; batches
 * in flight are answered in order. One timer guards each round trip: when it fires, the socket
 * is dropped (discarding what a frozen server never answered). While the connection is down,
 * a tick fails at once with the last error; a new connection is attempted when a tick needs it,
 * no sooner than the backoff allows (doubling from `reconnect.initialDelayMs`).
 */
export class Connection implements RedisLink {
  readonly label: string;
  private socket: Socket | null = null;
  private parser: RespParser | null = null;
  private connecting: Promise<void> | null = null;
  private readonly inFlight: Batch[] = [];
  private lastError: Error | null = null;
  private failures = 0;
  private retryAt = 0;
  private closed = false;
  /** The master a Sentinel named last, to log when a failover moves it. */
  private sentinelMaster: string | null = null;
  /** Bytes received from Redis over every socket this connection opened. */
  receivedBytes = 0;

  constructor(
    private readonly redis: ResolvedRedis,
    private readonly options: ResolvedOptions,
    private readonly logger: Logger,
  ) {
    this.label = redactedUrl(redis);
  }

  /** Sends the commands in one round trip; the replies are in order. */
  async exec(commands: readonly Sendable[]): Promise<Reply[]> {
    const deadline = Date.now() + this.options.commandTimeoutMs;
    await this.ensureConnected(deadline);
    const socket = this.socket;
    if (!socket) throw this.lastError ?? new Error('Connection is closed.');
    if (commands.length === 0) return [];
    const replies = await new Promise<Reply[]>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          const error = new Error(
            `Command timed out after ${this.options.commandTimeoutMs} ms: Redis did not answer`,
          );
          this.noteError(error);
          this.drop(error);
        },
        Math.max(1, deadline - Date.now()),
      );
      this.inFlight.push({
        expected: commands.length,
        replies: [],
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      socket.write(encodeCommands(commands));
    });
    if (this.lastError && replies.some((reply) => !(reply instanceof Error))) {
      this.logger.info('metrics-reader: Redis answers again', { redis: this.label });
      this.lastError = null;
    }
    return replies;
  }

  /** Runs one command outside a tick (discovery). */
  async call(command: Command): Promise<unknown> {
    const [reply] = await this.exec([command]);
    if (!reply) throw new Error('no reply from Redis');
    if (reply instanceof Error) throw reply;
    return reply;
  }

  async scanTargets(): Promise<RedisLink[]> {
    return [this];
  }

  /** The error a queue gets when its connection could not be read, naming the Redis. */
  describe(error: Error): SnapshotError {
    const generic = /Connection is closed|not connected/.test(error.message);
    const cause = generic && this.lastError ? this.lastError : error;
    const code = classifyRedisError(cause);
    return { code, message: `Redis at ${this.label}: ${cause.message}` };
  }

  async close(): Promise<void> {
    this.closed = true;
    const socket = this.socket;
    this.drop(new Error('Connection is closed.'));
    await this.connecting?.catch(() => undefined);
    if (socket && !socket.destroyed) {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.destroy();
      });
    }
  }

  private async ensureConnected(deadline: number): Promise<void> {
    if (this.closed) throw new Error('Connection is closed.');
    if (this.socket) return;
    if (!this.connecting) {
      const now = Date.now();
      if (now < this.retryAt) {
        throw this.lastError ?? new Error('not connected (reconnecting)');
      }
      this.connecting = this.connect().finally(() => {
        this.connecting = null;
      });
    }
    // A tick waits for the attempt only until its own deadline; the attempt carries on.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error('timed out connecting: still trying')),
        Math.max(1, deadline - Date.now()),
      );
    });
    try {
      await Promise.race([this.connecting, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async connect(): Promise<void> {
    try {
      const endpoint = await this.endpoint();
      const socket = await openSocket(endpoint, this.redis.tls, this.options.connectTimeoutMs);
      this.attach(socket);
      await this.handshake(endpoint);
      this.failures = 0;
    } catch (error) {
      this.failures++;
      const { initialDelayMs, maxDelayMs } = this.options.reconnect;
      const delay = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(this.failures - 1, 20));
      // Jitter keeps many readers from reconnecting in lockstep after an outage.
      this.retryAt = Date.now() + Math.round(delay * (0.75 + Math.random() * 0.25));
      this.noteError(error as Error);
      this.drop(error as Error);
      throw error;
    }
  }

  private async endpoint(): Promise<Endpoint> {
    const redis = this.redis;
    const url = redis.url === null ? null : parseRedisUrl(redis.url);
    const base = {
      tls: (url?.tls ?? false) || redis.tls !== null,
      username: redis.username ?? url?.username ?? null,
      password: redis.password ?? url?.password ?? null,
      db: redis.db ?? url?.db ?? 0,
    };
    if (redis.sentinel) {
      const master = await askSentinels(redis.sentinel, this.options.connectTimeoutMs);
      const address = `${master.host}:${master.port}`;
      if (address !== this.sentinelMaster) {
        if (this.sentinelMaster !== null) {
          this.logger.info('metrics-reader: Sentinel names a new master', {
            redis: this.label,
            from: this.sentinelMaster,
            to: address,
          });
        }
        this.sentinelMaster = address;
      }
      return { ...base, socketPath: null, host: master.host, port: master.port };
    }
    if (!url) throw new Error('no Redis URL');
    return { ...base, socketPath: url.socketPath, host: url.host, port: url.port };
  }

  private attach(socket: Socket): void {
    const parser = new RespParser((value) => this.onReply(value));
    this.socket = socket;
    this.parser = parser;
    socket.on('data', (chunk: Buffer) => {
      this.receivedBytes += chunk.length;
      try {
        parser.feed(chunk);
      } catch (error) {
        this.drop(error as Error);
      }
    });
    socket.on('error', (error: Error) => {
      this.noteError(error);
      this.drop(error);
    });
    socket.on('close', () => {
      if (this.socket !== socket) return;
      // Redis (or a Sentinel reconfiguring it) closed it: say so, the next tick reconnects.
      const error = new Error('Redis closed the connection');
      this.noteError(error);
      this.drop(error);
    });
  }

  /**
   * AUTH, SELECT, the client name and (behind a Sentinel) ROLE, in one round trip; a refusal
   * fails the connection. ROLE catches a Sentinel that still names the old master while a
   * failover is under way: reading a replica would be reading the past.
   */
  private async handshake(endpoint: Endpoint): Promise<void> {
    const commands: Command[] = [];
    if (endpoint.password !== null) {
      commands.push(
        endpoint.username !== null
          ? ['auth', endpoint.username, endpoint.password]
          : ['auth', endpoint.password],
      );
    }
    if (endpoint.db !== 0) commands.push(['select', endpoint.db]);
    if (this.options.connectionName !== null) {
      commands.push(['client', 'setname', this.options.connectionName]);
    }
    const checkRole = this.redis.sentinel !== null;
    if (checkRole) commands.push(['role']);
    if (commands.length === 0) return;
    const replies = await new Promise<Reply[]>((resolve, reject) => {
      this.inFlight.push({ expected: commands.length, replies: [], resolve, reject });
      this.socket?.write(encodeCommands(commands));
    });
    const role = checkRole ? replies.pop() : undefined;
    const refused = replies.find((reply): reply is Error => reply instanceof Error);
    if (refused) throw refused;
    // An ACL user without ROLE cannot check; the Sentinel's word stands.
    if (role instanceof Error && role.message.startsWith('NOPERM')) return;
    if (role instanceof Error) throw role;
    if (Array.isArray(role) && role[0] !== 'master') {
      throw new Error(
        `${endpoint.host}:${endpoint.port} is not the master (ROLE says ${String(role[0])}): a Sentinel failover is under way`,
      );
    }
  }

  private onReply(value: RespValue): void {
    const batch = this.inFlight[0];
    if (!batch) return;
    batch.replies.push(value);
    if (batch.replies.length === batch.expected) {
      this.inFlight.shift();
      batch.resolve(batch.replies);
    }
  }

  /** Drops the socket and fails every batch in flight with `error`. */
  private drop(error: Error): void {
    const socket = this.socket;
    this.socket = null;
    this.parser?.reset();
    this.parser = null;
    if (socket && !socket.destroyed) socket.destroy();
    for (const batch of this.inFlight.splice(0)) batch.reject(error);
  }

  private noteError(error: Error): void {
    const changed = this.lastError?.message !== error.message;
    this.lastError = error;
    if (changed) {
      this.logger.warn('metrics-reader: Redis connection error', {
        redis: this.label,
        code: classifyRedisError(error),
        error: error.message,
      });
    }
  }
}
