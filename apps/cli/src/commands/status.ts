import { parseFlags } from '../internal/args.js';
import type { Command } from '../internal/command.js';
import {
  DAEMON_FLAGS,
  DaemonUnreachable,
  daemonTarget,
  fetchState,
} from '../internal/daemon-client.js';
import { renderDaemon } from '../internal/daemon-view.js';
import { EXIT, line } from '../internal/io.js';

export const statusCommand: Command = {
  name: 'status',
  summary: 'ask a running daemon: health, host, queues, workers and recent decisions',
  usage: 'qscale status [--url URL | --config FILE] [--token TOKEN] [--json]',
  async run(args, io) {
    const { values } = parseFlags(args, {
      ...DAEMON_FLAGS,
      config: { type: 'string', short: 'c' },
      json: { type: 'boolean', default: false },
    });
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
  },
};
