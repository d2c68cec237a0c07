import { readFile } from 'node:fs/promises';
import { isQscaleError } from '@qscale/contracts';
import { COMMANDS } from './commands/index.js';
import { UsageError } from './internal/args.js';
import { type CliIo, EXIT, type ExitCode, line } from './internal/io.js';

/**
 * Runs one `qscale` command line and returns its exit code: 0 ok, 1 findings or failure,
 * 2 usage error. Never throws: every error becomes a message and a code.
 */
export async function main(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const [name, ...args] = argv;
  if (name === undefined) {
    line(io.stderr, help());
    return EXIT.usage;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    line(io.stdout, help());
    return EXIT.ok;
  }
  if (name === '--version' || name === '-V') {
    line(io.stdout, await version());
    return EXIT.ok;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (!command) {
    line(io.stderr, `qscale: unknown command "${name}"; run qscale --help for the list`);
    return EXIT.usage;
  }
  if (args.includes('--help') || args.includes('-h')) {
    line(io.stdout, `${command.summary}\nusage: ${command.usage}`);
    return EXIT.ok;
  }
  try {
    return await command.run(args, io);
  } catch (error) {
    if (error instanceof UsageError) {
      line(io.stderr, `qscale ${name}: ${error.message}\nusage: ${command.usage}`);
      return EXIT.usage;
    }
    const message = error instanceof Error ? error.message : String(error);
    line(
      io.stderr,
      `qscale ${name}: ${isQscaleError(error) ? '' : 'unexpected error: '}${message}`,
    );
    if (io.env.QSCALE_DEBUG && error instanceof Error) line(io.stderr, error.stack);
    return EXIT.failure;
  }
}

function help(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  const list = COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`);
  return [
    'qscale: keeps the right number of queue workers running for your pickup SLO',
    '',
    'usage: qscale <command> [options]    (qscale <command> --help for its options)',
    '',
    'commands:',
    ...list,
    '',
    'exit codes: 0 ok, 1 findings or failure, 2 usage error',
  ].join('\n');
}

async function version(): Promise<string> {
  const manifest = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
  return `qscale ${manifest.version}`;
}
