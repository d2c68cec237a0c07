import { dirname, resolve } from 'node:path';
import {
  ConfigError,
  checkConfig,
  configWarnings,
  formatProblem,
  loadConfig,
} from '@qscale/daemon';
import { formatDuration, plural } from '../internal/format.js';
import { type CliIo, EXIT, type ExitCode, line } from '../internal/io.js';
import type { ValidateArgs } from '../specs/validate.js';

export async function run({ values }: ValidateArgs, io: CliIo): Promise<ExitCode> {
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
    // A worker group is one entry of config.queues; its member queues count as queues.
    const queueCount = config.queues.reduce(
      (sum, queue) => sum + (queue.workerGroup?.members.length ?? 1),
      0,
    );
    const groupCount = config.queues.filter((queue) => queue.workerGroup).length;
    const groups =
      groupCount > 0
        ? ` in ${plural(config.queues.length, 'pool')} (${plural(groupCount, 'worker group')})`
        : '';
    line(io.stdout, `${file} is valid: ${plural(queueCount, 'queue')}${groups}`);
    for (const queue of config.queues) {
      const { min, max } = queue.workers;
      const slo = `p${queue.slo.percentile} pickup <= ${formatDuration(queue.slo.pickupMs)}`;
      const group = queue.workerGroup;
      if (group) {
        // A worker group: one pool; each member queue keeps its own SLO.
        const members = group.members.map(
          (member) =>
            `${member.name}${group.weights ? ` (weight ${group.weights[member.name]})` : ''} p${member.slo.percentile} pickup <= ${formatDuration(member.slo.pickupMs)}`,
        );
        line(
          io.stdout,
          `  ${queue.name}: ${queue.driver} group (${group.discipline}), ${min}-${max} workers, strategy ${queue.strategy.name}, serving ${members.join('; ')}`,
        );
        continue;
      }
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
      line(io.stdout, JSON.stringify({ valid: false, file, error: error.code, problems }, null, 2));
    } else {
      for (const problem of error.problems) line(io.stdout, formatProblem(problem));
      line(io.stderr, `${file}: ${plural(error.problems.length, 'problem')}`);
    }
    return EXIT.failure;
  }
}
