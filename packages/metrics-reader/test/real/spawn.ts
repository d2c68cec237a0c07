/** Child processes for the real-client plugins: started without a shell, awaited on a ready line. */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Stoppable } from './harness.js';

export interface SpawnReadyOptions {
  /** A line on stdout or stderr that means the process is ready. */
  ready: RegExp;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Longest wait for the ready line (default 30 s). */
  timeoutMs?: number;
}

/**
 * Starts `command` with `args` (no shell) and resolves once it prints a line matching `ready`;
 * rejects with its output if it exits first or the wait times out. `stop()` sends SIGTERM (and
 * SIGKILL 10 s later) and waits for the exit. Its output is kept for error messages.
 */
export function spawnReady(
  command: string,
  args: string[],
  options: SpawnReadyOptions,
): Promise<Stoppable & { child: ChildProcess; output(): string }> {
  const child = spawn(command, args, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
  };
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      fail(`no line matching ${options.ready} within ${options.timeoutMs ?? 30_000} ms`);
    }, options.timeoutMs ?? 30_000);
    const fail = (why: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stop().finally(() =>
        reject(new Error(`${command} ${args.join(' ')}: ${why}; output:\n${output.slice(-4000)}`)),
      );
    };
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.length > 100_000) output = output.slice(-50_000);
      if (!done && output.split('\n').some((line) => options.ready.test(line))) {
        done = true;
        clearTimeout(timer);
        resolve({ child, stop, output: () => output });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', (error) => fail(error.message));
    child.once('exit', (code, signal) => fail(`exited (${signal ?? code}) before it was ready`));
  });
}
