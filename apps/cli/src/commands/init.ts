import { writeFile } from 'node:fs/promises';
import { exampleConfig } from '@qscale/daemon';
import { parseFlags, UsageError } from '../internal/args.js';
import type { Command } from '../internal/command.js';
import { initDiscover } from '../internal/discover/index.js';
import { EXIT, line } from '../internal/io.js';

export const initCommand: Command = {
  name: 'init',
  summary: 'write a commented example configuration to start from',
  usage:
    'qscale init [FILE | --config FILE] [--force] | qscale init --discover --redis URL [--prefix P] [--measure 10s] [--config FILE] [--force]',
  async run(args, io) {
    const { values, positionals } = parseFlags(
      args,
      {
        force: { type: 'boolean', default: false },
        config: { type: 'string', short: 'c' },
        discover: { type: 'boolean', default: false },
        redis: { type: 'string' },
        prefix: { type: 'string' },
        measure: { type: 'string' },
      },
      { positionals: 1 },
    );
    if (positionals[0] !== undefined && values.config !== undefined) {
      throw new UsageError('name the file once: either FILE or --config FILE');
    }
    const file = values.config ?? positionals[0] ?? 'qscale.yml';
    if (values.discover) {
      if (values.redis === undefined) throw new UsageError('--discover needs --redis URL');
      const { redis, prefix = '', measure = '10s', force } = values;
      return initDiscover({ redis, scope: prefix, measure, file, force }, io);
    }
    if (values.redis !== undefined || values.prefix !== undefined || values.measure !== undefined) {
      throw new UsageError('--redis, --prefix and --measure go with --discover');
    }
    try {
      // 'wx' fails if the file exists, with no window between a check and the write.
      await writeFile(file, exampleConfig(), { flag: values.force ? 'w' : 'wx', mode: 0o640 });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reason =
        code === 'EEXIST'
          ? 'already exists; pass --force to overwrite it'
          : code === 'ENOENT'
            ? 'cannot be created: its folder does not exist'
            : `cannot be written: ${(error as Error).message}`;
      line(io.stderr, `qscale init: ${file} ${reason}`);
      return EXIT.failure;
    }
    line(io.stdout, `wrote ${file}; edit it, then check it with: qscale validate --config ${file}`);
    return EXIT.ok;
  },
};
