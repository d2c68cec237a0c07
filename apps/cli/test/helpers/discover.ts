import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { COMMAND_PLACEHOLDER } from '@qscale/daemon';

const FIXTURES = fileURLToPath(new URL('../fixtures/discover/', import.meta.url));
export const BIN = fileURLToPath(new URL('../../dist/bin.js', import.meta.url));

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program (no shell) to its end and returns what it printed. */
export function run(program: string, args: string[], env?: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { env: env ?? process.env });
    const out: Run = { code: null, stdout: '', stderr: '' };
    child.stdout.on('data', (chunk: Buffer) => {
      out.stdout += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      out.stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ ...out, code }));
  });
}

/** Runs a producer fixture with the real client library of its queue system; throws if it fails. */
export async function produce(
  system: 'laravel' | 'rq' | 'celery' | 'sidekiq',
  url: string,
  prefix: string,
  queues: string[],
): Promise<void> {
  const [program, script] = {
    laravel: ['php', 'laravel_push.php'],
    sidekiq: ['ruby', 'sidekiq_push.rb'],
    rq: ['/usr/bin/python3', 'rq_enqueue.py'],
    celery: ['/usr/bin/python3', 'celery_send.py'],
  }[system] as [string, string];
  // Laravel's redis config takes a host and a port, not a URL.
  const { hostname, port } = new URL(url);
  const target = system === 'laravel' ? [hostname, port || '6379'] : [url];
  const result = await run(program, [`${FIXTURES}${script}`, ...target, prefix, ...queues]);
  if (result.code !== 0) {
    throw new Error(`${script} exited ${result.code}: ${result.stderr}`);
  }
}

/** What a user does after `init --discover`: put a real command where each placeholder is. */
export function fillPlaceholders(text: string): string {
  return text.replaceAll(`[${COMMAND_PLACEHOLDER}]`, '[node, worker.js]');
}
