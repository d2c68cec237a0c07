#!/usr/bin/env node
// `npm run mutation -- [package...]`: Stryker mutation testing of the packages that decide and
// measure (default: strategies, policies and metrics-reader), each with its own stryker.config.json.
// Slow (minutes to an hour per package): never part of `npm test` or CI. Stryker 10 needs
// Node >= 22; on an older Node this uses .ci/.node24 (`npm install --prefix .ci/.node24 node@24`)
// when it is there. Extra Stryker flags go after `--`, e.g.
//   npm run mutation -- metrics-reader -- --mutate src/internal/drivers/bullmq.ts
// Every command is an argv array; no shell is involved.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const split = args.indexOf('--');
const names = split === -1 ? args : args.slice(0, split);
const strykerArgs = split === -1 ? [] : args.slice(split + 1);
const packages = names.length > 0 ? names : ['strategies', 'policies', 'metrics-reader'];

const major = Number(process.versions.node.split('.')[0]);
const node24 = join(root, '.ci', '.node24', 'node_modules', 'node', 'bin');
let node = process.execPath;
let path = process.env.PATH ?? '';
if (major < 22) {
  if (!existsSync(join(node24, 'node'))) {
    console.error(
      `scripts/mutation.mjs: Stryker 10 needs Node >= 22, found ${process.version}; install one with \`npm install --prefix .ci/.node24 node@24\` or run on Node 22+`,
    );
    process.exit(2);
  }
  node = join(node24, 'node');
  // Stryker's test runner processes are started as `node`: the same one.
  path = `${node24}${delimiter}${path}`;
}

const stryker = join(root, 'node_modules', '@stryker-mutator', 'core', 'bin', 'stryker.js');
for (const name of packages) {
  const cwd = join(root, 'packages', name);
  if (!existsSync(join(cwd, 'stryker.config.json'))) {
    console.error(`scripts/mutation.mjs: packages/${name} has no stryker.config.json`);
    process.exit(2);
  }
  const result = spawnSync(node, [stryker, 'run', 'stryker.config.json', ...strykerArgs], {
    cwd,
    stdio: 'inherit',
    env: { ...process.env, PATH: path },
  });
  if (result.error) {
    console.error(`scripts/mutation.mjs: cannot run stryker: ${result.error.message}`);
    process.exit(1);
  }
  if (result.status !== 0) process.exit(result.status ?? 1);
}
