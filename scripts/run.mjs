#!/usr/bin/env node
// The one entry point behind `npm test`, `npm run build` and `npm run lint`: installs the
// workspace with the pinned pnpm (through npx, so nothing global is assumed), then runs the
// task. Every command is an argv array; no shell is involved.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const PNPM = 'pnpm@10.34.8';
const root = fileURLToPath(new URL('..', import.meta.url));

const tasks = {
  build: [['exec', 'turbo', 'run', 'build']],
  demo: [['exec', 'turbo', 'run', 'build', '--output-logs=errors-only']],
  lint: [['exec', 'biome', 'ci', '.']],
  test: [
    ['exec', 'turbo', 'run', 'build', 'typecheck', 'test', '--concurrency=2'],
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

pnpm(['install', '--frozen-lockfile', '--prefer-offline', '--reporter=silent']);
for (const step of steps) pnpm(step);
if (task === 'demo') demo();

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
  if (result.status !== 0) process.exit(result.status ?? 1);
}
