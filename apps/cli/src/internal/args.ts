import { type ParseArgsConfig, parseArgs } from 'node:util';

/** A command line that cannot be run as written; the CLI exits 2 with this message. */
export class UsageError extends Error {}
Object.defineProperty(UsageError.prototype, 'name', { value: 'UsageError' });

type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed<T extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: true }>
>;

/**
 * Parses flags strictly: an unknown flag, a missing value or a stray positional is a usage
 * error that names it, never a stack trace.
 */
export function parseFlags<T extends Options>(
  args: readonly string[],
  options: T,
  { positionals = 0 }: { positionals?: number } = {},
): Parsed<T> {
  try {
    const parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: true });
    if (parsed.positionals.length > positionals) {
      throw new UsageError(`unexpected argument "${parsed.positionals[positionals]}"`);
    }
    return parsed;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    // node:util's messages are clear but long; keep their first sentence.
    throw new UsageError((error as Error).message.split('. ')[0] ?? String(error));
  }
}
