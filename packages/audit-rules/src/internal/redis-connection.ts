import { Redis } from 'ioredis';
import { AuditError } from './errors.js';
import type { AuditOptions } from './options.js';
import { isLocalHost } from './rules/laravel-config.js';
import type { TargetContexts } from './types.js';

// The Redis target: the URL checked and redacted for reports, an anonymous PING (does the server
// answer without credentials?) and the audit's own read-only connection.

interface RedisConnection {
  context: Omit<TargetContexts['redis'], 'options'>;
}

/** The URL without user or password, for reports. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username || parsed.password) {
      parsed.username = parsed.password ? '***' : parsed.username;
      parsed.password = '';
    }
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return '<invalid url>';
  }
}

export async function connectRedis(
  redis: NonNullable<AuditOptions['redis']>,
  logger: AuditOptions['logger'] & object,
): Promise<RedisConnection | { error: string; ref: string }> {
  const ref = redactUrl(redis.url);
  let url: URL;
  try {
    url = new URL(redis.url);
  } catch {
    throw new AuditError(
      'AUDIT_OPTION_INVALID',
      `--redis ${ref}: not a URL, expected redis://[user:password@]host:port[/db]`,
    );
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new AuditError(
      'AUDIT_OPTION_INVALID',
      `--redis ${ref}: unsupported scheme ${url.protocol}, expected redis:// or rediss://`,
    );
  }
  const tls = redis.tls ?? url.protocol === 'rediss:';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 6379);
  const db = Number(url.pathname.slice(1) || 0);
  const common = {
    host,
    port,
    db,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 5_000,
    enableOfflineQueue: false,
    // The audit user may lack INFO; the ready check would only warn on the console.
    enableReadyCheck: false,
    ...(tls ? { tls: {} } : {}),
  };
  const anonymous = new Redis(common);
  anonymous.on('error', () => {});
  let anonymousPing: string;
  try {
    await anonymous.connect();
    anonymousPing = String(await anonymous.ping());
  } catch (error) {
    anonymousPing = (error as Error).message;
  } finally {
    anonymous.disconnect();
  }
  const username = redis.username ?? (decodeURIComponent(url.username) || undefined);
  const password = redis.password ?? (decodeURIComponent(url.password) || undefined);
  const client = new Redis({
    ...common,
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
  });
  client.on('error', (error: Error) =>
    logger.debug('redis client error', { error: error.message }),
  );
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    client.disconnect();
    return { error: (error as Error).message, ref };
  }
  return { context: { redis: client, ref, host, local: isLocalHost(host), tls, anonymousPing } };
}
