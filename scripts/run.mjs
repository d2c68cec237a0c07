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

const tasks = {
  build: [['exec', 'turbo', 'run', 'build']],
  demo: [['exec', 'turbo', 'run', 'build', '--output-logs=errors-only']],
  lint: [['exec', 'biome', 'ci', '.']],
  test: [
    ['exec', 'turbo', 'run', 'build', 'typecheck', 'test', '--concurrency=2', CONTINUE],
    ['exec', 'biome', 'ci', '.'],
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

exitOnFailure(pnpm(['install', '--frozen-lockfile', '--prefer-offline', '--reporter=silent']));
// Every step runs even when an earlier one failed (lint findings are worth seeing beside a red
// test); the run then exits with the first failure's status.
let failed = 0;
for (const step of steps) {
  const status = pnpm(step);
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
  const result = spawnSync(process.execPath, [cli, 'demo', ...process.argv.slice(3)], {
    cwd: root,
    stdio: 'inherit',
  });
  process.exit(result.status ?? 1);
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
