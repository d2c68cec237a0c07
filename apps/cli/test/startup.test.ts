import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The built binary, spawned: which modules a process loads is only visible in a process.
// record-modules.mjs logs every module URL the process resolves (loader hook) or requires.

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const RECORDER = fileURLToPath(new URL('./fixtures/record-modules.mjs', import.meta.url));
const CLI_DIST = pathToFileURL(fileURLToPath(new URL('../dist/', import.meta.url))).href;
const DAEMON_UNITS = pathToFileURL(
  fileURLToPath(new URL('../../daemon/dist/config/units.js', import.meta.url)),
).href;

/** What help and version may load: the command declarations, the parser, the help. */
const ALLOWED_CLI = /^(bin|main|internal\/(args|format|help|io|spec)|specs\/[a-z]+)\.js$/;

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qscale-startup-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the binary with the recorder; resolves with its exit code, output and loaded modules. */
async function recorded(args: string[]) {
  const log = join(dir, `modules-${args.join('_').replace(/\W/g, '')}.log`);
  const child = spawn(process.execPath, ['--import', RECORDER, BIN, ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', QSCALE_MODULE_LOG: log },
  });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk;
  });
  child.stderr.resume();
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  const modules = [...new Set((await readFile(log, 'utf8')).split('\n').filter(Boolean))];
  return { code, stdout, modules };
}

describe('qscale starts without loading what it does not run', () => {
  const fast = [
    ['--help'],
    ['--version'],
    ['validate', '--help'],
    ['audit', '--help'],
    ['demo', '-h'],
  ];
  it.each(fast.map((args) => [args.join(' '), args] as const))(
    'qscale %s loads no command code and no dependency',
    async (_line, args) => {
      const run = await recorded(args);
      expect(run.code).toBe(0);
      expect(run.stdout.length).toBeGreaterThan(0);
      const files = run.modules.filter((url) => !url.startsWith('node:'));
      const unexpected = files.filter(
        (url) =>
          url !== DAEMON_UNITS &&
          !(url.startsWith(CLI_DIST) && ALLOWED_CLI.test(url.slice(CLI_DIST.length))),
      );
      expect(unexpected).toEqual([]);
      // The recorder saw the entry point: an empty log would prove nothing.
      expect(files).toContain(`${CLI_DIST}bin.js`);
    },
  );

  it('a usage error is found before the command is loaded', async () => {
    const run = await recorded(['queues', '--interval', '5']);
    expect(run.code).toBe(2);
    expect(run.modules.filter((url) => url.includes('/dist/commands/'))).toEqual([]);
    expect(run.modules.some((url) => url.includes('/node_modules/'))).toBe(false);
  });

  it('running a command loads that command, and only that one', async () => {
    const run = await recorded(['validate', '--config', 'nope.yml', '--schema-only']);
    expect(run.code).toBe(1);
    const commands = run.modules.filter((url) => url.startsWith(`${CLI_DIST}commands/`));
    expect(commands).toEqual([`${CLI_DIST}commands/validate.js`]);
    // The daemon (and what it brings) comes with the command that needs it.
    expect(run.modules.some((url) => /\/daemon\/dist\/index\.js$/.test(url))).toBe(true);
  });
});
