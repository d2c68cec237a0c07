import type { ResolvedRedis } from './options.js';

/** The parts of a Redis URL the reader uses; null when it is not a URL the reader takes. */
export interface ParsedRedisUrl {
  tls: boolean;
  /** Set for `redis+unix:` and `unix:` URLs; then host and port are unused. */
  socketPath: string | null;
  host: string;
  port: number;
  username: string | null;
  password: string | null;
  db: number | null;
}

export function parseRedisUrl(value: string): ParsedRedisUrl | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  const decode = (part: string) => (part === '' ? null : decodeURIComponent(part));
  const dbText = url.searchParams.get('db');
  if (url.protocol === 'redis+unix:' || url.protocol === 'unix:') {
    // redis+unix:///run/redis.sock keeps the path in pathname; a host would be a mistake.
    if (url.host !== '' || url.pathname === '' || url.pathname === '/') return null;
    const db = dbText === null ? null : Number(dbText);
    if (db !== null && !(Number.isInteger(db) && db >= 0)) return null;
    return {
      tls: false,
      socketPath: decodeURIComponent(url.pathname),
      host: '',
      port: 0,
      username: decode(url.username),
      password: url.searchParams.get('password') ?? decode(url.password),
      db,
    };
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') return null;
  const pathDb = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : null;
  return {
    tls: url.protocol === 'rediss:',
    socketPath: null,
    host: url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: Number(url.port || 6379),
    username: decode(url.username),
    password: decode(url.password),
    db: pathDb !== null && Number.isInteger(pathDb) ? pathDb : null,
  };
}

/** The Redis address for messages and logs: never the credentials. */
export function redactedUrl(redis: ResolvedRedis): string {
  if (redis.sentinel) {
    const sentinels = redis.sentinel.sentinels.map(({ host, port }) => `${host}:${port}`);
    return `sentinel master "${redis.sentinel.masterName}" (via ${sentinels.join(', ')})/${redis.db ?? 0}`;
  }
  const url = redis.url === null ? null : parseRedisUrl(redis.url);
  if (!url || redis.url === null) return '(invalid Redis URL)';
  const db = redis.db ?? url.db ?? 0;
  if (url.socketPath !== null) return `unix:${url.socketPath}/${db}`;
  const host = new URL(redis.url).host;
  if (redis.cluster) return `cluster ${url.tls ? 'rediss' : 'redis'}://${host}`;
  return `${url.tls ? 'rediss' : 'redis'}://${host}/${db}`;
}
