import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** The Redis every test talks to: REDIS_URL, or the machine's loopback server. */
export function redisUrl(): string {
  return process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
}

/** A key prefix no other test uses; pass it to the code under test and to `deleteKeys`. */
export function uniquePrefix(label: string): string {
  return `qscale-test:${label}:${randomUUID().slice(0, 8)}:`;
}

/** A client for test set-up; fails fast instead of retrying forever when Redis is down. */
export function connectRedis(url = redisUrl()): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: false });
}

/** Deletes every key matching `pattern` (SCAN, never KEYS). Returns how many were deleted. */
export async function deleteKeys(redis: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Runs `start`, which binds ports it takes from `freePort()`, again when a port was taken
 * between the check and the bind (the ephemeral range is shared with every outgoing connection
 * of the machine): any error naming `Address already in use`, up to `attempts` times. `start`
 * must leave nothing running when it throws.
 */
export async function onFreePorts<T>(start: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (attempt >= attempts || !/Address already in use/.test(String(error))) throw error;
    }
  }
}

export interface PrivateRedis {
  readonly url: string;
  readonly port: number;
  /** PID of the running server, or null while it is stopped. */
  readonly pid: number | null;
  /** Its working and `--dir` directory (a fresh temporary one per start), or null while stopped. */
  readonly dir: string | null;
  /** Stops the server (SIGTERM, then SIGKILL) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port, e.g. after `stop()` in an outage test. */
  start(): Promise<void>;
}

/**
 * Starts a private `redis-server` on a free loopback port, for tests that must stop,
 * restart or reconfigure a server (outages, passwords, ACLs) without touching the shared one.
 *
 * It runs in a temporary directory (its cwd and `--dir`), removed when it stops: `--save ''`
 * alone still lets a SAVE, a SHUTDOWN SAVE or an extra `--save` write `dump.rdb`, and that
 * file once landed in (and was committed from) the package whose tests ran.
 */
export async function startPrivateRedis(extraArgs: readonly string[] = []): Promise<PrivateRedis> {
  let port = 0;
  let child: ReturnType<typeof spawn> | undefined;
  let dir: string | undefined;

  const start = async (): Promise<void> => {
    dir = await mkdtemp(join(tmpdir(), 'qscale-redis-'));
    child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        ...extraArgs,
      ],
      { stdio: ['ignore', 'pipe', 'ignore'], cwd: dir },
    );
    const spawned = child;
    // Its log, kept short: why it exited, if it does.
    let output = '';
    spawned.stdout?.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4096);
    });
    await new Promise<void>((resolve, reject) => {
      spawned.once('error', reject);
      spawned.once('spawn', () => resolve());
    });
    await waitFor(
      async () => {
        // Exited (the port was taken since it was free, say): whatever answers there now is
        // someone else's server, not this one.
        if (spawned.exitCode !== null || spawned.signalCode !== null) {
          throw new Error(`redis-server on port ${port} exited:\n${output}`);
        }
        const probe = new Redis(port, '127.0.0.1', {
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          retryStrategy: () => null,
          // The ready check runs INFO, which a server with a password refuses: the PING
          // below decides instead.
          enableReadyCheck: false,
        });
        // A refused connection is the expected answer while the server boots.
        probe.on('error', () => {});
        try {
          await probe.connect();
          const reply = await probe.ping().catch((error: Error) => error.message);
          // A server with requirepass answers NOAUTH, which still means it is up.
          return reply === 'PONG' || /NOAUTH|AUTH/.test(String(reply));
        } catch {
          return false;
        } finally {
          probe.disconnect();
        }
      },
      { timeoutMs: 30_000, what: `redis-server on port ${port}` },
    );
  };

  const stop = async (): Promise<void> => {
    const running = child;
    const runDir = dir;
    child = undefined;
    dir = undefined;
    if (running && running.exitCode === null && running.signalCode === null) {
      const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
      running.kill('SIGTERM');
      const timer = setTimeout(() => running.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    if (runDir) await rm(runDir, { recursive: true, force: true });
  };

  await onFreePorts(async () => {
    port = await freePort();
    await start().catch(async (error: unknown) => {
      await stop();
      throw error;
    });
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return child?.pid ?? null;
    },
    get dir() {
      return dir ?? null;
    },
    stop,
    start,
  };
}

/** Polls `condition` until it returns true; throws naming `what` when `timeoutMs` passes. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  { timeoutMs = 10_000, intervalMs = 50, what = 'condition' } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
