#!/usr/bin/env node
// `npm run setup`: install, build the CLI and the daemon (a line per package as it builds),
// then put `qscale` and `qscaled` on the PATH with `npm link`, pointing at this checkout.
// `npm run setup -- --remove` takes the two commands off the PATH again. Every command is
// an argv array; no shell is involved.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, lstatSync, realpathSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PNPM = 'pnpm@10.34.8';
const root = fileURLToPath(new URL('..', import.meta.url));
const LINKED = [
  { bin: 'qscale', pkg: '@qscale/cli', dir: join(root, 'apps/cli') },
  { bin: 'qscaled', pkg: '@qscale/daemon', dir: join(root, 'apps/daemon') },
];
const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' };

if (process.argv.includes('--remove')) {
  remove();
} else {
  step('1/3 installing dependencies (pnpm install)');
  run('npx', [
    '--yes',
    PNPM,
    'install',
    '--frozen-lockfile',
    '--prefer-offline',
    '--reporter=append-only',
  ]);
  step('2/3 building the CLI, the daemon and the packages they use (one line per package)');
  // new-only: a package turbo already built says so in one line; a fresh build prints tsc's
  // output as it comes. --log-order=stream shows each line as it happens, not grouped.
  run('npx', [
    '--yes',
    PNPM,
    'exec',
    'turbo',
    'run',
    'build',
    '--filter=@qscale/cli...',
    '--output-logs=new-only',
    '--log-order=stream',
  ]);
  step('3/3 linking qscale and qscaled onto the PATH (npm link)');
  for (const { dir } of LINKED) run('npm', ['link', '--no-fund', '--no-audit'], dir);
  report();
}

function step(text) {
  console.log(`\nqscale setup ${text}`);
}

function run(command, args, cwd = root) {
  const result = spawnSync(command, args, { cwd, stdio: 'inherit', env });
  if (result.error) fail(`cannot run ${command}: ${result.error.message}`);
  if (result.status !== 0) {
    fail(
      `${command} ${args.join(' ')} failed (exit ${result.status ?? result.signal})${
        command === 'npm' ? npmHint() : ''
      }`,
    );
  }
}

/** What `which` would answer: the first executable of that name on the PATH. */
function onPath(bin) {
  for (const folder of (process.env.PATH ?? '').split(delimiter)) {
    if (!folder) continue;
    try {
      accessSync(join(folder, bin), constants.X_OK);
      return join(folder, bin);
    } catch {}
  }
  return null;
}

function report() {
  const binDir = globalBinDir();
  console.log('');
  let missing = false;
  for (const { bin, dir } of LINKED) {
    const found = onPath(bin);
    const target = join(dir, 'dist/bin.js');
    if (found && realpathSync(found) === target) {
      console.log(`${bin}: ${found} -> ${target}`);
    } else {
      missing = true;
      console.log(
        found
          ? `${bin}: ${found} comes first on your PATH and is not this checkout's; run ${join(binDir, bin)}`
          : `${bin}: linked in ${binDir}, which is not on your PATH`,
      );
    }
  }
  if (missing) console.log(`add ${binDir} to PATH, e.g. export PATH="${binDir}:$PATH"`);
  console.log('\ntry: qscale --help    undo: npm run setup -- --remove');
}

/** Removes the global links, only where they point at this checkout. */
function remove() {
  const globalRoot = capture('npm', ['root', '--global']);
  const ours = LINKED.filter(({ pkg, dir }) => {
    const link = join(globalRoot, pkg);
    try {
      return lstatSync(link).isSymbolicLink() && realpathSync(link) === dir;
    } catch {
      return false;
    }
  });
  for (const { pkg, bin } of LINKED.filter((item) => !ours.includes(item))) {
    console.log(`${bin}: ${pkg} is not linked from this checkout; left alone`);
  }
  if (ours.length === 0) return;
  run('npm', ['rm', '--global', '--no-fund', '--no-audit', ...ours.map(({ pkg }) => pkg)]);
  for (const { bin } of ours) console.log(`${bin}: removed from ${globalBinDir()}`);
}

function globalBinDir() {
  return join(capture('npm', ['prefix', '--global']), 'bin');
}

function capture(command, args) {
  const result = spawnSync(command, args, { cwd: root, encoding: 'utf8', env });
  if (result.status !== 0) fail(`${command} ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout.trim();
}

function npmHint() {
  return `\nnpm link writes to ${globalBinDir()}; without the right to write there, use a prefix you own:\n  npm config set prefix ~/.local && export PATH="$HOME/.local/bin:$PATH"\nthen run npm run setup again.`;
}

function fail(message) {
  console.error(`scripts/setup.mjs: ${message}`);
  process.exit(1);
}
