import { parseArgs } from 'node:util';
import type { Environment } from './config/env.js';
import { EXTERNAL_SCALER_DEFAULTS } from './config/external-scaler.js';
import { loadConfig } from './config/load.js';
import { ConfigError, formatProblem } from './config/problems.js';
import { startDaemon } from './daemon.js';
import type { Daemon } from './daemon-types.js';
import { createDaemonLogger } from './observability/logging.js';

export interface RunIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: { write(text: string): unknown };
  env: Environment;
}

export const DAEMON_USAGE = 'qscaled [--config FILE] [--dry-run]';
export const SCALER_USAGE = 'qscale scaler [--config FILE]';

/** How runDaemon runs: `qscaled`, or `qscale scaler` (KEDA's external scaler, pods elsewhere). */
export type RunMode = 'daemon' | 'scaler';

/**
 * `qscaled` (and `qscale start`): loads the configuration, runs the daemon in the foreground
 * until SIGTERM or SIGINT (graceful stop of every worker, exit 0; a second signal kills the
 * workers at once, exit 1), and reloads the configuration on SIGHUP. Resolves with the exit
 * code: 0 stopped cleanly, 1 could not start or stop cleanly, 2 usage error.
 */
export async function runDaemon(
  args: readonly string[],
  io: RunIo,
  mode: RunMode = 'daemon',
): Promise<number> {
  const scaler = mode === 'scaler';
  const program = scaler ? 'qscale scaler' : 'qscaled';
  const usage = scaler ? SCALER_USAGE : DAEMON_USAGE;
  let values: { config: string; 'dry-run': boolean; help: boolean };
  try {
    ({ values } = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string', short: 'c', default: 'qscale.yml' },
        'dry-run': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    io.stderr.write(`${program}: ${(error as Error).message.split('. ')[0]}\nusage: ${usage}\n`);
    return 2;
  }
  if (values.help) {
    io.stderr.write(
      scaler
        ? `usage: ${usage}\nRuns the qscale control loop without workers and serves KEDA's external scaler. SIGTERM/SIGINT: stop; SIGHUP: reload the configuration.\n`
        : `usage: ${usage}\nRuns the qscale control loop in the foreground. SIGTERM/SIGINT: stop every worker gracefully and exit; SIGHUP: reload the configuration.\n`,
    );
    return 0;
  }

  const path = values.config;
  let config: Awaited<ReturnType<typeof loadConfig>>;
  try {
    config = await loadConfig(path, { env: io.env });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) io.stderr.write(`${formatProblem(problem)}\n`);
    io.stderr.write(`${program}: ${path} is not a usable configuration; nothing was started\n`);
    return 1;
  }

  const logger = createDaemonLogger({
    level: config.log.level,
    format: config.log.format,
    destination: io.stdout,
  });
  let daemon: Daemon;
  try {
    daemon = await startDaemon({
      config,
      configPath: path,
      dryRun: values['dry-run'],
      logger,
      env: io.env,
      ...(scaler
        ? {
            workersElsewhere: true,
            externalScaler: config.externalScaler ?? {
              ...EXTERNAL_SCALER_DEFAULTS,
              token: null,
              tls: null,
            },
          }
        : {}),
    });
  } catch (error) {
    if (error instanceof ConfigError) {
      // The same lines `qscale validate` prints for this file.
      for (const problem of error.problems) io.stderr.write(`${formatProblem(problem)}\n`);
      io.stderr.write(`${program}: ${path} is not a usable configuration; nothing was started\n`);
    }
    logger.error('cannot start the daemon; nothing was left running', { error });
    logger.flush();
    return 1;
  }

  if (scaler) {
    // The line a supervisor (or a test) waits for: the service answers from here on.
    logger.info('qscale scaler ready', { externalScaler: daemon.scalerAddress, http: daemon.url });
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const finish = (code: number) => {
      for (const [signal, handler] of handlers) process.off(signal, handler);
      logger.flush();
      resolve(code);
    };
    const stop = (signal: string) => {
      if (stopping) {
        logger.warn(`${signal} again: killing every worker now`);
        const killed = daemon.killAllSync();
        logger.warn('workers killed', { killed });
        finish(1);
        return;
      }
      stopping = true;
      logger.info('stopping: every worker gets its grace period', { signal });
      daemon.stop().then(
        () => finish(0),
        (error: unknown) => {
          logger.error('stop failed', { error });
          finish(1);
        },
      );
    };
    const reload = () => {
      logger.info('SIGHUP: reloading the configuration', { file: path });
      // reload() reports its own failures; a daemon never dies of a reload.
      daemon.reload().catch((error: unknown) => {
        logger.error('configuration not reloaded; the running one stays', { file: path, error });
      });
    };
    const handlers: [NodeJS.Signals, () => void][] = [
      ['SIGTERM', () => stop('SIGTERM')],
      ['SIGINT', () => stop('SIGINT')],
      ['SIGHUP', reload],
    ];
    for (const [signal, handler] of handlers) process.on(signal, handler);
  });
}
