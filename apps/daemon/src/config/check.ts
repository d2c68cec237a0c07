import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { silentLogger } from '@qscale/contracts';
import { createMetricsReader } from '@qscale/metrics-reader';
import { checkPoolOptions, SupervisorError } from '@qscale/process-supervisor';
import { createDecider } from '../runtime/queue-runtime.js';
import { readerSources } from '../runtime/wiring.js';
import { configOrigin } from './load.js';
import {
  ConfigError,
  type ConfigProblem,
  formatPath,
  messageOf,
  type PathSegment,
} from './problems.js';
import type { QscaleConfig, QueueConfig } from './schema.js';

export interface CheckConfigOptions {
  /** Folder strategy plugins are loaded from. @defaultValue the config file's folder, else the cwd */
  configDir?: string;
  /**
   * Check what starting the workers needs: each program on its PATH, the working directory,
   * the user and group, the root policy. Off for a dry run, which starts none.
   * @defaultValue true
   */
  pools?: boolean;
  /** Overrides `supervision.refuseRoot` (a running supervisor keeps its own until a restart). */
  refuseRoot?: boolean;
}

/**
 * Everything `qscaled` checks of a valid configuration before it starts (and before a reload
 * changes anything): each queue's strategy and policies can be created, its workers can be
 * started on this host (program, directory, account, `supervision.refuseRoot`), its Redis
 * source is usable (TLS CA, client certificate and key files readable; on Redis Cluster, every
 * queue's keys can share a hash slot). `qscale validate` runs the same function, so a file
 * it accepts is one the daemon starts with. Nothing is started or changed.
 * @throws {ConfigError} `CONFIG_UNUSABLE`, with every problem found and its line:column when
 * the configuration came from `loadConfig`/`parseConfig`.
 */
export async function checkConfig(
  config: QscaleConfig,
  options: CheckConfigOptions = {},
): Promise<void> {
  const origin = configOrigin(config);
  const configDir = options.configDir ?? origin?.baseDir ?? process.cwd();
  const file = origin?.file ?? 'configuration';
  const problems: ConfigProblem[] = [];
  const report = (candidates: PathSegment[][], message: string) => {
    const path = candidates[0] ?? [];
    problems.push({ path: formatPath(path), message, file, ...origin?.at(candidates) });
  };
  const inQueue = (queue: QueueConfig, key: string): PathSegment[][] => [
    ['queues', queue.name, key],
    ['defaults', key],
    ['queues', queue.name],
  ];

  for (const queue of config.queues) {
    try {
      await createDecider(queue, { configDir, onPolicyEvent: () => {} });
    } catch (error) {
      report(inQueue(queue, 'strategy'), messageOf(error));
    }
    if (options.pools === false) continue;
    try {
      await checkPoolOptions(queue, {
        refuseRoot: options.refuseRoot ?? config.supervision.refuseRoot,
      });
    } catch (error) {
      const [key, message] = poolProblem(queue, error);
      report(inQueue(queue, key), message);
    }
  }

  try {
    await createMetricsReader({
      sources: config.queues.flatMap(readerSources),
      logger: silentLogger,
    }).close();
  } catch (error) {
    report([['redis']], messageOf(error));
  }
  // Every TLS file (CA, client certificate, client key) must be readable by this account.
  const tlsFiles = new Map<string, { what: string; where: PathSegment[][] }>();
  const tlsKeys = [
    ['caFile', 'ca', 'CA file'],
    ['certFile', 'cert', 'client certificate file'],
    ['keyFile', 'key', 'client key file'],
  ] as const;
  for (const [field, key, what] of tlsKeys) {
    const top = config.redis.tls?.[field];
    if (top) tlsFiles.set(top, { what, where: [['redis', 'tls', key]] });
    for (const queue of config.queues) {
      const file = queue.redis.tls?.[field];
      if (file && !tlsFiles.has(file)) {
        tlsFiles.set(file, {
          what,
          where: [
            ['queues', queue.name, 'redis', 'tls', key],
            ['defaults', 'redis', 'tls', key],
            ['redis', 'tls', key],
          ],
        });
      }
    }
  }
  for (const [file, { what, where }] of tlsFiles) {
    await access(file, constants.R_OK).catch((error: NodeJS.ErrnoException) =>
      report(where, `cannot read the TLS ${what} ${file} (${error.code ?? error.message})`),
    );
  }

  if (problems.length > 0) {
    problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
    throw new ConfigError('CONFIG_UNUSABLE', file, problems);
  }
}

/** The key a supervisor refusal is about, and a message that says how to fix it. */
function poolProblem(queue: QueueConfig, error: unknown): [string, string] {
  const message = messageOf(error).replace(`queue "${queue.name}": `, '');
  if (!(error instanceof SupervisorError)) return ['command', message];
  switch (error.code) {
    case 'COMMAND_NOT_FOUND':
      return ['command', message];
    case 'CWD_NOT_FOUND':
      return ['cwd', message];
    case 'ACCOUNT_NOT_FOUND':
      return [/\bgroup\b/.test(message) && queue.group ? 'group' : 'user', message];
    case 'ACCOUNT_SWITCH_NOT_PERMITTED':
      return ['user', `${message}: start qscaled as root, or remove user and group`];
    case 'ROOT_REFUSED':
      return [
        'user',
        'workers would run as root and supervision.refuseRoot is on: set user (and group) here or under defaults to the account the workers run as, or start qscaled as that account',
      ];
    default:
      return ['command', message];
  }
}
