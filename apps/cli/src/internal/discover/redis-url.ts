import { UsageError } from '../args.js';

/** The environment variable the written configuration reads the Redis password from. */
export const PASSWORD_VARIABLE = 'REDIS_PASSWORD';

/** A `--redis` URL taken apart so that its password is never written or printed. */
export interface RedisTarget {
  /** The URL as given, password included: only for connecting. */
  connectUrl: string;
  /** The URL without its password (user, host, port, db and query kept): safe to write. */
  safeUrl: string;
  /** Whether the URL carried a password (then the config references it through the env). */
  hasPassword: boolean;
  /** `host:port` and the db, for messages. */
  address: string;
}

/** Parses `--redis URL`; anything but a `redis://` or `rediss://` URL with a host is a usage error. */
export function parseRedisTarget(text: string): RedisTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(
      '--redis expects a URL like redis://127.0.0.1:6379/0 or rediss://user@host:6380',
    );
  }
  if ((url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '') {
    throw new UsageError(
      `--redis expects a redis:// or rediss:// URL with a host, got one starting ${url.protocol}//`,
    );
  }
  const hasPassword = url.password !== '';
  const safe = new URL(url.href);
  safe.password = '';
  const db = url.pathname.length > 1 ? url.pathname.slice(1) : '0';
  return {
    connectUrl: url.href,
    safeUrl: safe.href,
    hasPassword,
    address: `${url.host || url.hostname} (db ${db})`,
  };
}
