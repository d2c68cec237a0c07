import { readFileSync } from 'node:fs';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisConnection } from '../config/schema.js';

// The fleet writes (lease, heartbeats, assignments), which the metrics reader's read-only
// protocol client does not do: a command connection to the same Redis, from the same resolved
// settings (URL or unix socket, ACL user, password, db, TLS, Sentinel, Cluster).

/** A client for the fleet's commands and scripts; fails fast so a tick never hangs on Redis. */
export function fleetConnection(redis: RedisConnection): Redis | Cluster {
  const options = commandOptions(redis);
  if (redis.sentinel) {
    return watch(
      new Redis({
        ...options,
        name: redis.sentinel.masterName,
        sentinels: redis.sentinel.sentinels,
        ...(redis.sentinel.username ? { sentinelUsername: redis.sentinel.username } : {}),
        ...(redis.sentinel.password ? { sentinelPassword: redis.sentinel.password } : {}),
      }),
    );
  }
  const socket = /^(redis\+)?unix:\/\/(?<path>[^?]*)(\?(?<query>.*))?$/.exec(redis.url);
  if (socket?.groups) {
    const db = new URLSearchParams(socket.groups.query ?? '').get('db');
    return watch(
      new Redis({
        ...(db !== null && redis.db === null ? { db: Number(db) } : {}),
        ...options,
        path: socket.groups.path ?? '',
      }),
    );
  }
  if (redis.cluster) {
    const { hostname, port } = new URL(redis.url);
    return watch(
      new Cluster([{ host: hostname, port: Number(port || 6379) }], { redisOptions: options }),
    );
  }
  return watch(new Redis(redis.url, options));
}

function watch<T extends Redis | Cluster>(client: T): T {
  // Errors reach the tick through its commands; the event alone must not crash the daemon.
  client.on('error', () => {});
  return client;
}

function commandOptions(redis: RedisConnection): RedisOptions {
  const tls =
    redis.tls || redis.url.startsWith('rediss://')
      ? {
          ...(redis.tls?.caFile ? { ca: readFileSync(redis.tls.caFile) } : {}),
          ...(redis.tls?.certFile ? { cert: readFileSync(redis.tls.certFile) } : {}),
          ...(redis.tls?.keyFile ? { key: readFileSync(redis.tls.keyFile) } : {}),
          ...(redis.tls?.servername ? { servername: redis.tls.servername } : {}),
          rejectUnauthorized: redis.tls?.rejectUnauthorized ?? true,
        }
      : undefined;
  return {
    ...(redis.username ? { username: redis.username } : {}),
    ...(redis.password ? { password: redis.password } : {}),
    ...(redis.db !== null ? { db: redis.db } : {}),
    ...(tls ? { tls } : {}),
    // A host that cannot reach Redis must learn it within the tick, not queue commands for later.
    maxRetriesPerRequest: 1,
    commandTimeout: 2_000,
    connectTimeout: 2_000,
  };
}
