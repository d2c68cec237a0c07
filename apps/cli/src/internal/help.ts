import { DURATION_UNITS } from './args.js';
import { EXIT, EXIT_MEANINGS } from './io.js';
import type { CommandSpec, OptionSpec, OptionSpecs } from './spec.js';

// Every help text is generated from the command declarations the parser uses, so it cannot
// drift from what the parser accepts. Lines are wrapped at 80 columns whatever the terminal,
// so the output is the same in a pipe, a test and a terminal.

const WIDTH = 80;
const INDENT = ' '.repeat(10);

export const GLOBAL_OPTIONS = [
  ['-h, --help', "this help; after a command, that command's options and examples"],
  ['-V, --version', 'the version of qscale'],
] as const;

const CONVENTIONS = [
  ['files', 'the configuration is always --config FILE (-c FILE), default qscale.yml'],
  ['durations', `a number and its unit, as in the configuration: ${DURATION_UNITS}`],
  ['lists', 'repeat the flag or use commas: --queue a --queue b is --queue a,b'],
  ['--json', 'every command that reads something can print JSON instead of text'],
] as const;

/** `qscale --help`. */
export function mainHelp(
  commands: readonly CommandSpec[],
  { version, readme }: { version: string; readme: string },
): string {
  const width = Math.max(...commands.map((command) => command.name.length));
  const codeWidth = Math.max(...Object.values(EXIT).map((code) => String(code).length));
  return [
    `qscale ${version}: keeps the right number of queue workers running for your pickup SLO`,
    '',
    'usage: qscale <command> [options]',
    '       qscale <command> --help    every option of a command, its default and examples',
    '',
    'commands:',
    ...commands.map((command) => columns(`  ${command.name.padEnd(width)}  `, command.summary)),
    '',
    'global options:',
    ...GLOBAL_OPTIONS.map(([flag, text]) => columns(`  ${flag.padEnd(14)}  `, text)),
    '',
    'conventions (every command):',
    ...CONVENTIONS.map(([what, text]) => columns(`  ${what.padEnd(9)}  `, text)),
    '',
    'exit codes:',
    ...Object.values(EXIT).map((code) =>
      columns(`  ${String(code).padEnd(codeWidth)}  `, EXIT_MEANINGS[code]),
    ),
    '',
    'environment: QSCALE_DEBUG=1 prints the stack of an unexpected error; QSCALE_TOKEN is',
    "the daemon's bearer token for status and top.",
    '',
    `more: ${readme}`,
  ].join('\n');
}

/** `qscale <command> --help`. */
export function commandHelp(spec: CommandSpec<OptionSpecs>): string {
  const options = Object.entries(spec.options);
  const lines = [`qscale ${spec.name}: ${spec.summary}`, '', usage(spec)];
  for (const paragraph of spec.details ?? []) lines.push('', ...wrap(paragraph, ''));
  if (spec.positionals?.length) {
    lines.push('', 'arguments:');
    for (const positional of spec.positionals) {
      lines.push(`  ${positional.name}`, ...wrap(positional.description, INDENT));
    }
  }
  lines.push('', 'options:');
  for (const [name, option] of options) {
    lines.push(`  ${flagForm(name, option)}`, ...wrap(describe(option), INDENT));
  }
  lines.push('  -h, --help', `${INDENT}this help`);
  const notes: string[] = [];
  if (options.some(([, option]) => option.type === 'duration')) {
    notes.push(`Durations take their unit: ${DURATION_UNITS} (a bare number is refused).`);
  }
  if (options.some(([, option]) => option.type === 'list')) {
    notes.push('Lists: repeat the flag, or separate the values with commas.');
  }
  if (notes.length > 0) lines.push('', ...wrap(notes.join(' '), ''));
  lines.push('', 'examples:');
  for (const example of spec.examples) {
    lines.push(`  ${example.command}`, ...wrap(example.says, INDENT));
  }
  return lines.join('\n');
}

/**
 * `usage: qscale validate [--config FILE] [--schema-only] [--json]`, wrapped at 80 columns:
 * shown by the command's help and with each usage error.
 */
export function usage(spec: CommandSpec<OptionSpecs>): string {
  const parts = Object.entries(spec.options).map(([name, option]) => {
    const value = option.type === 'boolean' ? '' : ` ${valueForm(option)}`;
    return `[--${name}${value}]${option.type === 'list' ? '...' : ''}`;
  });
  const positionals = (spec.positionals ?? []).map((positional) => `[${positional.name}]`);
  const head = `usage: qscale ${spec.name} `;
  const lines: string[] = [];
  let current = head.trimEnd();
  for (const part of [...parts, ...positionals]) {
    if (current.length + 1 + part.length > WIDTH && current.length > head.length) {
      lines.push(current);
      current = ' '.repeat(head.length - 1);
    }
    current = `${current} ${part}`;
  }
  lines.push(current);
  return lines.join('\n');
}

/** `-c, --config FILE`, `    --queue NAME[,NAME...]` */
export function flagForm(name: string, option: OptionSpec): string {
  const short = option.short ? `-${option.short}, ` : '    ';
  const value = option.type === 'boolean' ? '' : ` ${valueForm(option)}`;
  const repeat = option.type === 'list' ? `[,${valueForm(option)}...]` : '';
  return `${short}--${name}${value}${repeat}`;
}

function valueForm(option: Exclude<OptionSpec, { type: 'boolean' }>): string {
  if (option.placeholder) return option.placeholder;
  if ('choices' in option && option.choices) return option.choices.join('|');
  if (option.type === 'integer') return 'N';
  if (option.type === 'duration') return 'DURATION';
  return 'VALUE';
}

/** The description with the default, as the help prints it. */
export function describe(option: OptionSpec): string {
  const fallback = defaultShown(option);
  return fallback === null ? option.description : `${option.description} (default: ${fallback})`;
}

/** The default as the help shows it, or null when the option has none. */
export function defaultShown(option: OptionSpec): string | null {
  if (option.defaultText !== undefined) return option.defaultText;
  if ('default' in option && option.default !== undefined) return String(option.default);
  return null;
}

function columns(head: string, text: string): string {
  const pad = ' '.repeat(head.length);
  const [first = '', ...rest] = wrap(text, pad);
  return [`${head}${first.slice(pad.length)}`, ...rest].join('\n');
}

/** Words re-flowed to the width, each line starting with `indent`. */
function wrap(text: string, indent: string): string[] {
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (current && indent.length + current.length + 1 + word.length > WIDTH) {
      lines.push(indent + current);
      current = word;
    } else {
      current = current ? `${current} ${word}` : word;
    }
  }
  if (current) lines.push(indent + current);
  return lines;
}
