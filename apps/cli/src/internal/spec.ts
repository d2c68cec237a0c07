import type { CliIo, ExitCode } from './io.js';

// What a command declares about itself. The parser (args.ts) and the help (help.ts) both read
// these declarations, so the help can never describe a flag the parser does not take, and the
// command's code is only imported (load()) once the command line has been parsed.

interface OptionBase {
  /** One sentence for the help: what the option does. */
  readonly description: string;
  /** A one-letter alias: `-c` for `--config`. */
  readonly short?: string;
  /** The value's form in the help: FILE, URL, NAME. */
  readonly placeholder?: string;
  /** The default when it is worked out at run time (the help shows this text). */
  readonly defaultText?: string;
}

/** `--json`: present or not. */
export interface BooleanOption extends OptionBase {
  readonly type: 'boolean';
}

/** `--config FILE`; `choices` limits it to a fixed set. */
export interface StringOption extends OptionBase {
  readonly type: 'string';
  readonly default?: string;
  readonly choices?: readonly string[];
}

/** `--count 3`: a whole number, at least `min` (default 0). */
export interface IntegerOption extends OptionBase {
  readonly type: 'integer';
  readonly default?: number;
  readonly min?: number;
}

/** `--interval 2s`: the configuration's duration syntax, unit required; the value is in ms. */
export interface DurationOption extends OptionBase {
  readonly type: 'duration';
  /** As the user would write it: `1s`. */
  readonly default?: string;
  readonly minMs?: number;
}

/** `--queue a --queue b` or `--queue a,b`: repeatable, each value may hold a comma list. */
export interface ListOption extends OptionBase {
  readonly type: 'list';
  readonly choices?: readonly string[];
}

export type OptionSpec = BooleanOption | StringOption | IntegerOption | DurationOption | ListOption;

/** A command's options by flag name (`'fail-on'` for `--fail-on`). */
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

type ValueOf<O extends OptionSpec> = O extends BooleanOption
  ? boolean
  : O extends ListOption
    ? string[]
    : O extends IntegerOption | DurationOption
      ? number
      : string;

/** Booleans and lists always have a value (false, []); others only with a default. */
type AlwaysSet<O extends OptionSpec> = O extends BooleanOption | ListOption
  ? true
  : O extends { readonly default: string | number }
    ? true
    : false;

/** The parsed flags, typed from the declarations: durations in ms, lists as arrays. */
export type OptionValues<Os extends OptionSpecs> = {
  -readonly [K in keyof Os]: AlwaysSet<Os[K]> extends true
    ? ValueOf<Os[K]>
    : ValueOf<Os[K]> | undefined;
};

export interface ParsedArgs<Os extends OptionSpecs = OptionSpecs> {
  values: OptionValues<Os>;
  positionals: string[];
}

export interface PositionalSpec {
  readonly name: string;
  readonly description: string;
}

export interface Example {
  /** The whole command line, starting with `qscale`. */
  readonly command: string;
  /** What it does, in a few words. */
  readonly says: string;
}

/** What `load()` resolves to: the command's code. */
export interface CommandModule<Os extends OptionSpecs = OptionSpecs> {
  run(args: ParsedArgs<Os>, io: CliIo): Promise<ExitCode>;
}

/** One `qscale <name>` command, declared without importing its code. */
export interface CommandSpec<Os extends OptionSpecs = OptionSpecs> {
  readonly name: string;
  /** One line for `qscale --help`. */
  readonly summary: string;
  /** Paragraphs for `qscale <name> --help`, after the usage line. */
  readonly details?: readonly string[];
  readonly options: Os;
  /** Arguments without a flag; none unless declared. */
  readonly positionals?: readonly PositionalSpec[];
  /** Old flag names: using one is a usage error that names the new flag. */
  readonly renamed?: Readonly<Record<string, keyof Os & string>>;
  /** A positional argument this command used to take, now this option: refused, showing the new form. */
  readonly formerPositional?: keyof Os & string;
  /** At least one; the first is the most common use. */
  readonly examples: readonly [Example, ...Example[]];
  /** Imports the command's code; called only when the command runs. */
  load(): Promise<CommandModule<Os>>;
}

/**
 * Declares a command's options, keeping their literal types. Kept apart from the command so
 * the command's code can type its arguments (`ParsedArgs<typeof options>`) without a cycle.
 */
export function defineOptions<const Os extends OptionSpecs>(options: Os): Os {
  return options;
}

/**
 * Declares a command: its options, examples and load() are checked against each other here;
 * the result is type-erased so every command fits one list (COMMANDS) and one parser.
 */
export function defineCommand<Os extends OptionSpecs>(spec: CommandSpec<Os>): CommandSpec {
  return spec as unknown as CommandSpec;
}
