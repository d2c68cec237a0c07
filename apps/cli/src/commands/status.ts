import { DaemonUnreachable, daemonTarget, fetchState } from '../internal/daemon-client.js';
import { renderDaemon } from '../internal/daemon-view.js';
import { type CliIo, EXIT, type ExitCode, line } from '../internal/io.js';
import type { StatusArgs } from '../specs/status.js';

export async function run({ values }: StatusArgs, io: CliIo): Promise<ExitCode> {
  const target = await daemonTarget(values, io);
  try {
    const state = await fetchState(target);
    line(
      io.stdout,
      values.json ? JSON.stringify(state, null, 2) : renderDaemon(state, target.url, 10),
    );
    return state.health.status === 'ok' ? EXIT.ok : EXIT.failure;
  } catch (error) {
    if (!(error instanceof DaemonUnreachable)) throw error;
    line(io.stderr, `qscale status: ${error.message}`);
    return EXIT.failure;
  }
}
