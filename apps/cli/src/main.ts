import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseCommandLine, UsageError } from './internal/args.js';
import { commandHelp, mainHelp, usage } from './internal/help.js';
import { type CliIo, EXIT, type ExitCode, line } from './internal/io.js';
import type { CommandSpec } from './internal/spec.js';
import { COMMANDS } from './specs/index.js';

/**
 * Runs one `qscale` command line and returns its exit code (EXIT lists them). Never throws:
 * every error becomes a message and a code. Only the command that runs is imported; help
 * and version import no command code at all.
 */
export async function main(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const [name, ...args] = argv;
  if (name === undefined) {
    line(io.stderr, await help());
    return EXIT.usage;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    // `qscale help validate` is `qscale validate --help`.
    const about = COMMANDS.find((candidate) => candidate.name === args[0]);
    line(io.stdout, about ? commandHelp(about) : await help());
    return EXIT.ok;
  }
  if (name === '--version' || name === '-V') {
    line(io.stdout, `qscale ${(await manifest()).version}`);
    return EXIT.ok;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (!command) {
    line(io.stderr, `qscale: unknown command "${name}"; run qscale --help for the list`);
    return EXIT.usage;
  }
  // Everything after `--` is a value, never a request for help.
  const flags = args.includes('--') ? args.slice(0, args.indexOf('--')) : args;
  if (flags.includes('--help') || flags.includes('-h')) {
    line(io.stdout, commandHelp(command));
    return EXIT.ok;
  }
  try {
    const parsed = parseCommandLine(command, args);
    const code = await command.load();
    return await code.run(parsed, io);
  } catch (error) {
    return failed(command, error, io);
  }
}

async function failed(command: CommandSpec, error: unknown, io: CliIo): Promise<ExitCode> {
  const name = command.name;
  if (error instanceof UsageError) {
    line(io.stderr, `qscale ${name}: ${error.message}`);
    line(io.stderr, usage(command));
    line(io.stderr, `(qscale ${name} --help: every option, its default and examples)`);
    return EXIT.usage;
  }
  const message = error instanceof Error ? error.message : String(error);
  // Imported here: the help and the parser do not need @qscale/contracts (nor zod).
  const { isQscaleError } = await import('@qscale/contracts');
  line(io.stderr, `qscale ${name}: ${isQscaleError(error) ? '' : 'unexpected error: '}${message}`);
  if (io.env.QSCALE_DEBUG && error instanceof Error) line(io.stderr, error.stack);
  return EXIT.failure;
}

async function help(): Promise<string> {
  const readme = fileURLToPath(new URL('../README.md', import.meta.url));
  return mainHelp(COMMANDS, { version: (await manifest()).version, readme });
}

async function manifest(): Promise<{ version: string }> {
  return JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
}
