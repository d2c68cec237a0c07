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
  system: 'rq' | 'celery' | 'sidekiq',
  url: string,
  prefix: string,
  queues: string[],
): Promise<void> {
  const [program, script] =
    system === 'sidekiq'
      ? ['ruby', 'sidekiq_push.rb']
      : ['/usr/bin/python3', system === 'rq' ? 'rq_enqueue.py' : 'celery_send.py'];
  const result = await run(program, [`${FIXTURES}${script}`, url, prefix, ...queues]);
  if (result.code !== 0) {
    throw new Error(`${script} exited ${result.code}: ${result.stderr}`);
  }
}

/** What a user does after `init --discover`: put a real command where each placeholder is. */
export function fillPlaceholders(text: string): string {
  return text.replaceAll(`[${COMMAND_PLACEHOLDER}]`, '[node, worker.js]');
}
