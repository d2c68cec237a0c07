import { parseArgs } from 'node:util';
import { parseDurationMs } from '@qscale/daemon/units';
import { formatDuration } from './format.js';
import type { CommandSpec, OptionSpec, ParsedArgs } from './spec.js';

/** A command line that cannot be run as written; the CLI exits 2 with this message. */
export class UsageError extends Error {}
Object.defineProperty(UsageError.prototype, 'name', { value: 'UsageError' });

/** Shown wherever a duration is wanted: the configuration's syntax. */
export const DURATION_UNITS = '500ms, 2s, 1m, 1h';

/**
 * Parses a command's arguments by its declarations, strictly: an unknown flag, a missing or
 * malformed value, a stray argument is a usage error naming it. One rule for every command:
 * durations need their unit, lists take a repeated flag and/or commas, files come by --config.
 */
export function parseCommandLine(spec: CommandSpec, args: readonly string[]): ParsedArgs {
  refuseRenamed(spec, args);
  const config: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> =
    {};
  for (const [name, option] of Object.entries(spec.options)) {
    config[name] = {
      type: option.type === 'boolean' ? 'boolean' : 'string',
      ...(option.short ? { short: option.short } : {}),
      ...(option.type === 'list' ? { multiple: true } : {}),
    };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...args], options: config, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(parseArgsMessage(error as Error & { code?: string }, spec));
  }

  const expected = spec.positionals?.length ?? 0;
  if (parsed.positionals.length > expected) {
    const extra = parsed.positionals[expected] as string;
    const moved = spec.formerPositional;
    if (moved !== undefined && expected === 0) {
      const what = spec.options[moved]?.placeholder?.toLowerCase() ?? 'value';
      throw new UsageError(
        `unexpected argument "${extra}": the ${what} is now given with --${moved}: qscale ${spec.name} --${moved} ${extra}`,
      );
    }
    throw new UsageError(`unexpected argument "${extra}"`);
  }

  const values: Record<string, unknown> = {};
  for (const [name, option] of Object.entries(spec.options)) {
    values[name] = convert(name, option, parsed.values[name]);
  }
  return { values: values as ParsedArgs['values'], positionals: parsed.positionals };
}

function refuseRenamed(spec: CommandSpec, args: readonly string[]): void {
  for (const [old, now] of Object.entries(spec.renamed ?? {})) {
    const used = args.some((arg) => arg === `--${old}` || arg.startsWith(`--${old}=`));
    if (!used) continue;
    const option = spec.options[now];
    const example = option ? ` (e.g. --${now} ${exampleValue(option)})` : '';
    throw new UsageError(`--${old} is now --${now}${example}`);
  }
}

/** A value as the user wrote it, in the declared type; undefined when absent without default. */
function convert(name: string, option: OptionSpec, raw: unknown): unknown {
  const flag = `--${name}`;
  switch (option.type) {
    case 'boolean':
      return raw === true;
    case 'list': {
      const items = ((raw as string[] | undefined) ?? []).flatMap((value) =>
        value
          .split(',')
          .map((item) => item.trim())
          .filter((item) => item.length > 0),
      );
      for (const item of items) checkChoice(flag, item, option.choices);
      return [...new Set(items)];
    }
    case 'string': {
      const text = (raw as string | undefined) ?? option.default;
      if (text !== undefined) checkChoice(flag, text, option.choices);
      return text;
    }
    case 'integer': {
      const text = raw as string | undefined;
      if (text === undefined) return option.default;
      const min = option.min ?? 0;
      const value = /^\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
      if (!(value >= min))
        throw new UsageError(`${flag} ${text}: expected a whole number >= ${min}`);
      return value;
    }
    case 'duration': {
      const text = (raw as string | undefined) ?? option.default;
      if (text === undefined) return undefined;
      return durationMs(flag, text, option.minMs ?? 0);
    }
  }
}

/** The daemon's own duration parser: `2s` here means what it means in the configuration. */
function durationMs(flag: string, text: string, minMs: number): number {
  const ms = parseDurationMs(text);
  if (ms === null) {
    const bare = /^\d+(\.\d+)?$/.test(text.trim());
    throw new UsageError(
      bare
        ? `${flag} ${text}: a duration needs its unit, e.g. ${flag} ${text.trim()}s (${DURATION_UNITS})`
        : `${flag} ${text}: expected a duration like ${DURATION_UNITS}`,
    );
  }
  if (ms < minMs)
    throw new UsageError(`${flag} ${text}: expected at least ${formatDuration(minMs)}`);
  return ms;
}

function checkChoice(flag: string, value: string, choices: readonly string[] | undefined): void {
  if (choices && !choices.includes(value)) {
    const near = closest(value, choices);
    throw new UsageError(
      `${flag} ${value}: expected one of ${choices.join(', ')}${near ? ` (did you mean ${near}?)` : ''}`,
    );
  }
}

/** A short, valid value of an option, for examples in messages. */
export function exampleValue(option: OptionSpec): string {
  if (option.type === 'duration') return option.default ?? '2s';
  if (option.type === 'integer') return String(option.default ?? option.min ?? 1);
  if ('choices' in option && option.choices?.[0]) return option.choices[0];
  return option.placeholder ?? 'VALUE';
}

/** node:util's messages name the flag but run long; keep their first sentence, and suggest. */
function parseArgsMessage(error: Error & { code?: string }, spec: CommandSpec): string {
  if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const flag = /'([^']+)'/.exec(error.message)?.[1] ?? '';
    const names = Object.keys(spec.options);
    const near = closest(flag.replace(/^-+/, ''), names);
    return `unknown option ${flag}${near ? ` (did you mean --${near}?)` : ''}`;
  }
  return error.message.split('. ')[0] ?? String(error);
}

/** The one candidate within two edits of `value`, or containing it; null when none or several. */
export function closest(value: string, candidates: readonly string[]): string | null {
  const near = candidates.filter(
    (candidate) =>
      editDistance(value, candidate) <= 2 || (value.length >= 3 && candidate.includes(value)),
  );
  return near.length === 1 ? (near[0] as string) : null;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        substitution,
      );
    }
    previous = current;
  }
  return previous[b.length] as number;
}
