import { runDaemon } from '@qscale/daemon';
import type { CliIo, ExitCode } from '../internal/io.js';
import type { StartArgs } from '../specs/start.js';

export async function run({ values }: StartArgs, io: CliIo): Promise<ExitCode> {
  // The flags were checked by the CLI's parser; hand the daemon the same command line.
  const args = ['--config', values.config, ...(values['dry-run'] ? ['--dry-run'] : [])];
  // The daemon logs to the real stdout (pino writes to a stream, not to a test buffer).
  const code = await runDaemon(args, { stdout: process.stdout, stderr: io.stderr, env: io.env });
  return code as ExitCode;
}
