import { writeFile } from 'node:fs/promises';
import { exampleConfig } from '@qscale/daemon/config';
import { UsageError } from '../internal/args.js';
import { initDiscover } from '../internal/discover/index.js';
import { type CliIo, EXIT, type ExitCode, line } from '../internal/io.js';
import type { InitArgs } from '../specs/init.js';

export async function run({ values }: InitArgs, io: CliIo): Promise<ExitCode> {
  const file = values.config;
  if (values.discover) {
    if (values.redis === undefined) throw new UsageError('--discover needs --redis URL');
    const { redis, prefix = '', measure, force } = values;
    return initDiscover({ redis, scope: prefix, measureMs: measure, file, force }, io);
  }
  if (values.redis !== undefined || values.prefix !== undefined) {
    throw new UsageError('--redis and --prefix go with --discover');
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
}
