import type { CliIo, ExitCode } from './io.js';

/** One `qscale <name>` command. Add a new one to the list in commands/index.ts. */
export interface Command {
  readonly name: string;
  /** One line for `qscale --help`. */
  readonly summary: string;
  /** The synopsis shown with usage errors and `--help`. */
  readonly usage: string;
  run(args: readonly string[], io: CliIo): Promise<ExitCode>;
}
