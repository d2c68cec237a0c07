#!/usr/bin/env node
// The one entry point behind `npm test`, `npm run build` and `npm run lint`: installs the
// workspace with the pinned pnpm (through npx, so nothing global is assumed), then runs the
// task. Every command is an argv array; no shell is involved.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const PNPM = 'pnpm@10.34.8';
const root = fileURLToPath(new URL('..', import.meta.url));

// --continue=dependencies-successful: one red package does not hide the others' results
// (every task whose dependencies built still runs), and turbo still exits non-zero.
const CONTINUE = '--continue=dependencies-successful';

// Each step says what it does before it starts, and its tool streams its own progress: on a
// fresh clone the install and the build take minutes on a small machine, never in silence.
const tasks = {
  build: [
    [
      'building every package (turbo; cached packages are instant)',
      'exec',
      'turbo',
      'run',
      'build',
    ],
  ],
  demo: [
    [
      'building the demo: the CLI and the packages it uses (turbo prints a line per package; cached ones are instant)',
      'exec',
      'turbo',
      'run',
      'build',
      '--filter=@qscale/cli...',
      // A line per package as it starts (and tsc's errors); cached ones say so in one line.
      '--output-logs=new-only',
      '--log-order=stream',
      '--ui=stream',
    ],
  ],
  lint: [['biome ci', 'exec', 'biome', 'ci', '.']],
  test: [
    [
      'build, typecheck and test every package (turbo)',
      'exec',
      'turbo',
      'run',
      'build',
      'typecheck',
      'test',
      '--concurrency=2',
      CONTINUE,
    ],
    ['biome ci', 'exec', 'biome', 'ci', '.'],
  ],
};

const task = process.argv[2] ?? '';
const steps = tasks[task];
if (!steps) {
  console.error(
    `scripts/run.mjs: unknown task "${task}"; expected one of ${Object.keys(tasks).join(', ')}`,
  );
  process.exit(2);
}

exitOnFailure(
  phase(`installing dependencies with ${PNPM} (npx fetches pnpm itself the first time)`, [
    'install',
    '--frozen-lockfile',
    '--prefer-offline',
  ]),
);
// Every step runs even when an earlier one failed (lint findings are worth seeing beside a red
// test); the run then exits with the first failure's status.
let failed = 0;
for (const [what, ...step] of steps) {
  const status = phase(what, step);
  failed ||= status;
}
exitOnFailure(failed);
if (task === 'demo') demo();

function exitOnFailure(status) {
  if (status !== 0) process.exit(status);
}

/**
 * The demo handles Ctrl-C itself (it stops its workers gracefully, then exits): this parent
 * must not die first and hand the terminal back while the demo is still cleaning up.
 */
function demo() {
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => {});
  const cli = fileURLToPath(new URL('../apps/cli/dist/bin.js', import.meta.url));
  console.log('> starting the demo (about a minute; Ctrl-C stops it cleanly)');
  const result = spawnSync(process.execPath, [cli, 'demo', ...process.argv.slice(3)], {
    cwd: root,
    stdio: 'inherit',
  });
  process.exit(result.status ?? 1);
}

/** Says what a step does, runs it, says how long it took; returns its exit status. */
function phase(what, args) {
  const started = Date.now();
  console.log(`> ${what}...`);
  const status = pnpm(args);
  const seconds = ((Date.now() - started) / 1_000).toFixed(1);
  console.log(`> ${status === 0 ? 'done' : `failed (exit ${status})`} in ${seconds} s: ${what}`);
  return status;
}

/** Runs pnpm through npx; returns its exit status (1 when a signal ended it). */
function pnpm(args) {
  const result = spawnSync('npx', ['--yes', PNPM, ...args], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' },
  });
  if (result.error) {
    console.error(`scripts/run.mjs: cannot run npx: ${result.error.message}`);
    process.exit(1);
  }
  return result.status ?? 1;
}
