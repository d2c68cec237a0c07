import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QUEUE_BACKENDS } from '@qscale/contracts';
import { STRATEGY_NAMES } from '@qscale/strategies';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleValue, parseCommandLine } from '../src/internal/args.js';
import { defaultShown } from '../src/internal/help.js';
import { EXIT, EXIT_MEANINGS } from '../src/internal/io.js';
import { main } from '../src/main.js';
import { COMMANDS } from '../src/specs/index.js';
import { DRIVERS } from '../src/specs/shared.js';
import { STRATEGIES } from '../src/specs/simulate.js';

// In-process: main(argv, io) with string buffers. Nothing here needs a real process; the
// spawned binary is tested in startup.test.ts and the commands' own tests.

async function qscale(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: {},
  });
  return { code, stdout, stderr };
}

/** The help re-flows text at 80 columns: compare with every run of whitespace as one space. */
const flat = (text: string) => text.replace(/\s+/g, ' ');

describe('qscale --help', () => {
  it('lists every command, the global options, every exit code and where to read more', async () => {
    const run = await qscale(['--help']);
    expect(run.code).toBe(EXIT.ok);
    for (const command of COMMANDS) {
      expect(run.stdout).toMatch(new RegExp(`\\n {2}${command.name} +\\S`));
      expect(flat(run.stdout)).toContain(flat(command.summary));
    }
    expect(run.stdout).toContain('-h, --help');
    expect(run.stdout).toContain('-V, --version');
    const codes = Object.values(EXIT);
    expect(codes).toEqual([0, 1, 2, 3, 130]);
    for (const code of codes) {
      expect(flat(run.stdout)).toContain(flat(`${code} ${EXIT_MEANINGS[code]}`));
    }
    const readme = /^more: (.+)$/m.exec(run.stdout)?.[1] ?? '';
    await expect(access(readme)).resolves.toBeUndefined();
    // Without a command, the same text goes to stderr with a usage error.
    expect(await qscale([])).toMatchObject({ code: EXIT.usage, stderr: run.stdout });
  });

  it.each(COMMANDS.map((command) => [command.name, command] as const))(
    'qscale %s --help shows every option with its description, default and value form, and an example',
    async (name, command) => {
      const run = await qscale([name, '--help']);
      expect(run.code).toBe(EXIT.ok);
      const text = flat(run.stdout);
      for (const [flag, option] of Object.entries(command.options)) {
        expect(text).toContain(`--${flag}`);
        if (option.short) expect(text).toContain(`-${option.short}, --${flag}`);
        if (option.type !== 'boolean') {
          expect(text).toMatch(new RegExp(`--${flag} \\S+`));
        }
        const fallback = defaultShown(option);
        const described = fallback === null ? '' : ` (default: ${fallback})`;
        expect(text).toContain(flat(`${option.description}${described}`));
      }
      expect(command.examples.length).toBeGreaterThan(0);
      for (const example of command.examples) expect(run.stdout).toContain(example.command);
      // -h anywhere before `--` is help, whatever else the line holds; so is `qscale help NAME`.
      expect((await qscale([name, '--nonsense', '-h'])).stdout).toBe(run.stdout);
      expect((await qscale(['help', name])).stdout).toBe(run.stdout);
    },
  );

  it('the parser takes every option the help shows, in the form it shows', () => {
    for (const command of COMMANDS) {
      for (const [flag, option] of Object.entries(command.options)) {
        const args =
          option.type === 'boolean' ? [`--${flag}`] : [`--${flag}`, exampleValue(option)];
        const parsed = parseCommandLine(command, args);
        expect(parsed.values[flag], `${command.name} --${flag}`).not.toBeUndefined();
        if (option.short) {
          const short = parseCommandLine(command, [`-${option.short}`, ...args.slice(1)]);
          expect(short.values[flag]).toEqual(parsed.values[flag]);
        }
      }
    }
  });

  it('the names the help lists are the ones the packages know', () => {
    expect([...STRATEGIES]).toEqual([...STRATEGY_NAMES]);
    expect([...DRIVERS]).toEqual([...QUEUE_BACKENDS]);
  });

  it('--version prints the version from package.json', async () => {
    const run = await qscale(['--version']);
    expect(run).toMatchObject({ code: EXIT.ok, stderr: '' });
    expect(run.stdout).toMatch(/^qscale \d+\.\d+\.\d+\n$/);
  });
});

describe('one convention for every command', () => {
  const command = (name: string) => {
    const found = COMMANDS.find((candidate) => candidate.name === name);
    if (!found) throw new Error(`no command ${name}`);
    return found;
  };

  it('lists: a repeated flag and commas mean the same, for every list option', () => {
    const lists = COMMANDS.flatMap((spec) =>
      Object.entries(spec.options)
        .filter(([, option]) => option.type === 'list')
        .map(([flag]) => [spec, flag] as const),
    );
    expect(lists.map(([spec, flag]) => `${spec.name} --${flag}`)).toEqual([
      'queues --queue',
      'top --queue',
      'audit --disable',
      'audit --remote-sink',
      'audit --escaper',
      'audit --validator',
      'audit --redactor',
      'simulate --compare',
    ]);
    for (const [spec, flag] of lists) {
      const repeated = parseCommandLine(spec, [`--${flag}`, 'a', `--${flag}`, 'b']);
      const commas = parseCommandLine(spec, [`--${flag}`, 'a, b,', `--${flag}`, 'a']);
      expect(repeated.values[flag]).toEqual(['a', 'b']);
      expect(commas.values[flag]).toEqual(['a', 'b']);
      expect(parseCommandLine(spec, []).values[flag]).toEqual([]);
    }
  });

  it('durations: the configuration syntax, in milliseconds', () => {
    expect(parseCommandLine(command('queues'), []).values.interval).toBe(1_000);
    expect(parseCommandLine(command('queues'), ['--interval', '0s']).values.interval).toBe(0);
    expect(parseCommandLine(command('top'), ['--interval', '1.5m']).values.interval).toBe(90_000);
    expect(parseCommandLine(command('demo'), []).values.duration).toBe(60_000);
  });

  it.each([
    [
      ['queues', '--interval', '5'],
      'qscale queues: --interval 5: a duration needs its unit, e.g. --interval 5s (500ms, 2s, 1m, 1h)',
    ],
    [
      ['top', '--interval', '2'],
      'qscale top: --interval 2: a duration needs its unit, e.g. --interval 2s',
    ],
    [
      ['demo', '--duration', '60'],
      'qscale demo: --duration 60: a duration needs its unit, e.g. --duration 60s',
    ],
    [['demo', '--duration', '5s'], 'qscale demo: --duration 5s: expected at least 8s'],
    [['demo', '--seconds', '60'], 'qscale demo: --seconds is now --duration (e.g. --duration 60s)'],
    [['top', '--interval', 'soon'], 'qscale top: --interval soon: expected a duration like 500ms'],
    [['top', '--count', '0'], 'qscale top: --count 0: expected a whole number >= 1'],
    [['simulate', '--seed=-1'], 'qscale simulate: --seed -1: expected a whole number >= 0'],
    [['simulate', '--seed', 'x'], 'qscale simulate: --seed x: expected a whole number >= 0'],
    [
      ['queues', '--redis', 'redis://127.0.0.1:6379', '--driver', 'bulmq'],
      'qscale queues: --driver bulmq: expected one of laravel, bullmq, sidekiq, rq, celery (did you mean bullmq?)',
    ],
    [
      ['audit', '--path', '.', '--fail-on', 'severe'],
      'qscale audit: --fail-on severe: expected one of critical, high, medium, low, none',
    ],
    [
      ['validate', '--confgi', 'x.yml'],
      'qscale validate: unknown option --confgi (did you mean --config?)',
    ],
    [['status', '--json=yes'], "qscale status: Option '--json' does not take an argument"],
    [
      ['init', 'mine.yml'],
      'qscale init: unexpected argument "mine.yml": the file is now given with --config: qscale init --config mine.yml',
    ],
    [['resources', 'extra'], 'qscale resources: unexpected argument "extra"'],
  ])(
    'refuses %j before loading the command: exit 2, the flag, the usage',
    async (argv, message) => {
      const run = await qscale(argv);
      expect(run.code).toBe(EXIT.usage);
      expect(run.stdout).toBe('');
      expect(run.stderr.startsWith(message)).toBe(true);
      expect(run.stderr).toContain(`\nusage: qscale ${argv[0]} `);
      expect(run.stderr).toContain(`(qscale ${argv[0]} --help: every option`);
    },
  );

  it('an unknown command is a usage error that points at --help', async () => {
    expect(await qscale(['valdiate'])).toEqual({
      code: EXIT.usage,
      stdout: '',
      stderr: 'qscale: unknown command "valdiate"; run qscale --help for the list\n',
    });
  });
});

describe('values only the command knows', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'qscale-flags-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('simulate --compare hybrid names the flag and the strategy it may mean, and runs nothing', async () => {
    const run = await qscale(['simulate', '--scenario', 'spike', '--compare', 'hybrid']);
    expect(run.code).toBe(EXIT.usage);
    expect(run.stdout).toBe('');
    const first = run.stderr.split('\n')[0];
    expect(first).toBe(
      'qscale simulate: --compare hybrid: not a built-in strategy (did you mean laravel-hybrid?); expected one of predictive, littles-law, backlog, fixed, laravel-hybrid, horizon, hpa, erlang-drain, or an installed strategy package, or a ./file.js',
    );
    expect(run.stderr).not.toContain('--strategy hybrid');
    expect(run.stderr).not.toContain('configuration file');
  });

  it('accepts nothing ambiguous: a partial name is refused, not completed', async () => {
    const run = await qscale(['simulate', '--scenario', 'spike', '--strategy', 'laravel']);
    expect(run.code).toBe(EXIT.usage);
    expect(run.stderr).toContain(
      '--strategy laravel: not a built-in strategy (did you mean laravel-hybrid?)',
    );
    const many = await qscale(['simulate', '--scenario', 'spike', '--compare', 'hpa,hpx']);
    expect(many.code).toBe(EXIT.usage);
    expect(many.stderr).toContain('--compare hpx: not a built-in strategy (did you mean hpa?)');
  });

  it('audit --disable with an unknown rule id is a usage error naming it', async () => {
    const run = await qscale(['audit', '--path', dir, '--disable', 'CFG-002,CFG-99']);
    expect(run.code).toBe(EXIT.usage);
    expect(run.stderr).toMatch(
      /^qscale audit: --disable CFG-99: no such rule; expected one of AUT-001, /,
    );
    expect(run.stderr).toContain('CFG-002');
  });

  it('init writes the file given by --config; a failure is exit 1', async () => {
    const file = join(dir, 'written.yml');
    const run = await qscale(['init', '--config', file]);
    expect(run).toMatchObject({ code: EXIT.ok, stderr: '' });
    await expect(access(file)).resolves.toBeUndefined();
    const again = await qscale(['init', '--config', file]);
    expect(again).toMatchObject({
      code: EXIT.failure,
      stderr: `qscale init: ${file} already exists; pass --force to overwrite it\n`,
    });
  });
});
