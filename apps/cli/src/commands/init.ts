import { writeFile } from 'node:fs/promises';
import { exampleConfig } from '@qscale/daemon';
import { parseFlags } from '../internal/args.js';
import type { Command } from '../internal/command.js';
import { EXIT, line } from '../internal/io.js';

export const initCommand: Command = {
  name: 'init',
  summary: 'write a commented example configuration to start from',
  usage: 'qscale init [FILE] [--force]',
  async run(args, io) {
    const { values, positionals } = parseFlags(
      args,
      { force: { type: 'boolean', default: false } },
      { positionals: 1 },
    );
    const file = positionals[0] ?? 'qscale.yml';
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
