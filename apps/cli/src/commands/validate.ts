import { dirname, resolve } from 'node:path';
import {
  ConfigError,
  checkConfig,
  configWarnings,
  formatProblem,
  loadConfig,
} from '@qscale/daemon';
import { parseFlags } from '../internal/args.js';
import type { Command } from '../internal/command.js';
import { formatDuration, plural } from '../internal/format.js';
import { EXIT, line } from '../internal/io.js';

export const validateCommand: Command = {
  name: 'validate',
  summary:
    'check a configuration file, and that qscaled can start it here; every problem with its line:column',
  usage: 'qscale validate [--config FILE] [--schema-only] [--json]',
  async run(args, io) {
    const { values } = parseFlags(args, {
      config: { type: 'string', short: 'c', default: 'qscale.yml' },
      json: { type: 'boolean', default: false },
      // For CI or another machine than the one that runs qscaled: the file only.
      'schema-only': { type: 'boolean', default: false },
    });
    const file = values.config;
    try {
      const config = await loadConfig(file, { env: io.env });
      // Exactly what qscaled checks before it starts: programs, directories, accounts, root
      // policy, strategies, Redis sources.
      if (!values['schema-only']) await checkConfig(config, { configDir: dirname(resolve(file)) });
      const warnings = configWarnings(config);
      if (values.json) {
        const queues = config.queues.map((queue) => queue.name);
        line(
          io.stdout,
          JSON.stringify({ valid: true, file, queues, warnings, problems: [] }, null, 2),
        );
        return EXIT.ok;
      }
      line(io.stdout, `${file} is valid: ${plural(config.queues.length, 'queue')}`);
      for (const queue of config.queues) {
        const { min, max } = queue.workers;
        const slo = `p${queue.slo.percentile} pickup <= ${formatDuration(queue.slo.pickupMs)}`;
        line(
          io.stdout,
          `  ${queue.name}: ${queue.driver}, ${min}-${max} workers, ${slo}, strategy ${queue.strategy.name}`,
        );
      }
      for (const warning of warnings) line(io.stdout, `warning: ${warning}`);
      return EXIT.ok;
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      if (values.json) {
        const problems = error.problems.map(({ path, message, line: at, column }) => ({
          path,
          message,
          line: at ?? null,
          column: column ?? null,
        }));
        line(
          io.stdout,
          JSON.stringify({ valid: false, file, error: error.code, problems }, null, 2),
        );
      } else {
        for (const problem of error.problems) line(io.stdout, formatProblem(problem));
        line(io.stderr, `${file}: ${plural(error.problems.length, 'problem')}`);
      }
      return EXIT.failure;
    }
  },
};
