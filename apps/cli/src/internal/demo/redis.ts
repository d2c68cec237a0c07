import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

/** The Redis the demo runs on, and how to let go of it. */
export interface DemoRedis {
  url: string;
  /** Where it came from, for the first line of the demo. */
  origin: 'REDIS_URL' | 'local' | 'private';
  /** Stops a private server; a server the demo did not start is left alone. */
  stop(): Promise<void>;
  /** Last resort on a second Ctrl-C: kill a private server now. */
  kill(): void;
}

export class DemoSetupError extends Error {}
Object.defineProperty(DemoSetupError.prototype, 'name', { value: 'DemoSetupError' });

const LOCAL = 'redis://127.0.0.1:6379';

/**
 * REDIS_URL when set (it must answer), else a server answering on 127.0.0.1:6379, else a
 * private `redis-server` on a free loopback port that the demo stops at the end.
 */
export async function demoRedis(
  env: Readonly<Record<string, string | undefined>>,
): Promise<DemoRedis> {
  const leave = { stop: async () => {}, kill: () => {} };
  if (env.REDIS_URL) {
    const problem = await ping(env.REDIS_URL);
    if (problem) throw new DemoSetupError(`REDIS_URL does not answer: ${problem}`);
    return { url: env.REDIS_URL, origin: 'REDIS_URL', ...leave };
  }
  if ((await ping(LOCAL)) === null) return { url: LOCAL, origin: 'local', ...leave };
  return startPrivate();
}

/** Null when the server answers PONG, else what went wrong. */
async function ping(url: string): Promise<string | null> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1_500,
    enableReadyCheck: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG' ? null : 'no PONG';
  } catch (error) {
    return (error as Error).message;
  } finally {
    client.disconnect();
  }
}

async function startPrivate(): Promise<DemoRedis> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    // Its own process group: a Ctrl-C in the terminal must not stop Redis before the workers
    // have finished their jobs; the demo stops it last (and kills it on any way out).
    { stdio: 'ignore', detached: true },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const started = await new Promise<Error | null>((resolve) => {
    child.once('error', resolve);
    child.once('spawn', () => resolve(null));
  });
  if (started) {
    throw new DemoSetupError(
      'no Redis answers on 127.0.0.1:6379 and redis-server is not installed: install it (Debian/Ubuntu: apt install redis-server, macOS: brew install redis) or set REDIS_URL',
    );
  }
  const url = `redis://127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 50 && (await ping(url)) !== null; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const kill = () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  if ((await ping(url)) !== null) {
    kill();
    throw new DemoSetupError(`the private redis-server on port ${port} did not answer`);
  }
  return {
    url,
    origin: 'private',
    kill,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
