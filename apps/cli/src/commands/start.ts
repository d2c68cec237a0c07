import { DAEMON_USAGE, runDaemon } from '@qscale/daemon';
import type { Command } from '../internal/command.js';
import type { ExitCode } from '../internal/io.js';

export const startCommand: Command = {
  name: 'start',
  summary: 'run the daemon in the foreground, as qscaled does (SIGTERM or Ctrl-C stops it)',
  usage: DAEMON_USAGE.replace('qscaled', 'qscale start'),
  async run(args, io) {
    // The daemon logs to the real stdout (pino writes to a stream, not to a test buffer).
    const code = await runDaemon(args, { stdout: process.stdout, stderr: io.stderr, env: io.env });
    return code as ExitCode;
  },
};
