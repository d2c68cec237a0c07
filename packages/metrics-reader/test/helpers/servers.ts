import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, onFreePorts, waitFor } from '@qscale/testkit';

const run = promisify(execFile);

/** A redis-server (or Sentinel) this test started, in its own temporary folder. */
export interface Server {
  readonly port: number;
  readonly dir: string;
  readonly pid: number;
  /** What it printed so far (stdout), for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts `redis-server` with `args` in a fresh temporary folder and waits for it to say it is
 * ready ("ready to accept connections" on TCP, TLS and Unix sockets; "+monitor master" for a
 * Sentinel).
 * `config` is written to `redis.conf` in that folder and passed first (Sentinel needs a file
 * it may rewrite).
 */
export async function startServer(
  args: readonly string[],
  {
    config,
    port,
    sentinel = false,
  }: { config?: (dir: string, port: number) => string; port?: number; sentinel?: boolean } = {},
): Promise<Server> {
  const dir = await mkdtemp(join(tmpdir(), 'qscale-modes-'));
  const chosen = port ?? (await freePort());
  const argv: string[] = [];
  if (config) {
    await writeFile(join(dir, 'redis.conf'), config(dir, chosen));
    argv.push(join(dir, 'redis.conf'));
  }
  // A Sentinel has no data to save; it says it is up with "+monitor master".
  if (sentinel) argv.push('--sentinel', '--dir', dir, ...args);
  else argv.push('--save', '', '--appendonly', 'no', '--dir', dir, ...args);
  const ready = sentinel ? /\+monitor master/ : /ready to accept connections/i;
  const child: ChildProcess = spawn('redis-server', argv, {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`redis-server exited:\n${output}`);
        return ready.test(output);
      },
      { timeoutMs: 20_000, what: `redis-server ${argv.join(' ')} to be ready` },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { port: chosen, dir, pid: child.pid as number, log: () => output, stop };
}

/**
 * A redis-server on 127.0.0.1 at a port free a moment before; a port taken in between (the
 * ephemeral range is shared with every outgoing connection) starts it again on another.
 */
export function startServerOnFreePort(args: readonly string[]): Promise<Server> {
  return onFreePorts(async () => {
    const port = await freePort();
    return startServer(['--port', String(port), '--bind', '127.0.0.1', ...args], { port });
  });
}

/** A Sentinel (quorum 1) watching the master at `masterPort` as `name`, plus `extra` lines. */
export function startSentinel(
  name: string,
  masterPort: number,
  authPass: string,
  extra: readonly string[] = [],
): Promise<Server> {
  return onFreePorts(() =>
    startServer([], {
      sentinel: true,
      config: (_dir, port) =>
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `sentinel monitor ${name} 127.0.0.1 ${masterPort} 1`,
          `sentinel auth-pass ${name} ${authPass}`,
          ...extra,
          '',
        ].join('\n'),
    }),
  );
}

/** `redis-cli` with argv (no shell); its stdout. */
export async function redisCli(args: readonly string[]): Promise<string> {
  const { stdout } = await run('redis-cli', [...args], { timeout: 60_000 });
  return stdout;
}
