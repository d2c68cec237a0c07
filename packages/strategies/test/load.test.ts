import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { isQscaleError } from '@qscale/contracts';
import { context } from '@qscale/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStrategy } from '../src/create.js';
import { loadStrategy } from '../src/load.js';

const STRATEGY_SOURCE = (name: string) => `
const optionsSchema = { safeParse: (input) => ({ success: true, data: input }) };
export default {
  name: '${name}',
  optionsSchema,
  create: (options) => ({
    recommend: () => ({ workers: options.workers ?? 2, reason: '${name}', terms: {} }),
  }),
};
`;

let project: string;
let configDir: string;

async function write(path: string, content: string): Promise<void> {
  await mkdir(dirname(join(project, path)), { recursive: true });
  await writeFile(join(project, path), content);
}

async function loadError(specifier: string): Promise<Error> {
  try {
    await loadStrategy(specifier, { fromDir: configDir });
  } catch (error) {
    return error as Error;
  }
  throw new Error(`loading ${specifier} did not fail`);
}

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), 'qscale-strategies-'));
  configDir = join(project, 'config');
  await mkdir(configDir, { recursive: true });
  // An ESM package whose exports only have an `import` condition (require.resolve fails).
  await write(
    'node_modules/acme-strategy/package.json',
    JSON.stringify({
      name: 'acme-strategy',
      type: 'module',
      exports: { '.': { import: './dist/index.js' } },
    }),
  );
  await write('node_modules/acme-strategy/dist/index.js', STRATEGY_SOURCE('acme'));
  // A scoped package with `main` only.
  await write(
    'node_modules/@acme/scaler/package.json',
    JSON.stringify({ name: '@acme/scaler', type: 'module', main: 'main.js' }),
  );
  await write('node_modules/@acme/scaler/main.js', STRATEGY_SOURCE('acme-scoped'));
  // CommonJS compiled from ESM: exports.default with __esModule (default unwrapped twice).
  await write('node_modules/cjs-strategy/package.json', JSON.stringify({ name: 'cjs-strategy' }));
  await write(
    'node_modules/cjs-strategy/index.js',
    `Object.defineProperty(exports, '__esModule', { value: true });
exports.default = { name: 'cjs', optionsSchema: { safeParse: (i) => ({ success: true, data: i }) },
  create: () => ({ recommend: () => ({ workers: 5, reason: 'cjs', terms: {} }) }) };`,
  );
  await write(
    'node_modules/not-a-strategy/package.json',
    JSON.stringify({ name: 'not-a-strategy', type: 'module' }),
  );
  await write('node_modules/not-a-strategy/index.js', 'export default { name: "x", create: 42 };');
  await write(
    'node_modules/throws-on-load/package.json',
    JSON.stringify({ name: 'throws-on-load', type: 'module' }),
  );
  await write('node_modules/throws-on-load/index.js', 'throw new Error("REDIS_URL is not set");');
  await write(
    'node_modules/unbuilt/package.json',
    JSON.stringify({ name: 'unbuilt', main: 'dist/index.js' }),
  );
  await write('config/strategies/local.mjs', STRATEGY_SOURCE('local'));
});

afterAll(async () => {
  await rm(project, { recursive: true, force: true });
});

describe('loadStrategy', () => {
  it('resolves a package from the node_modules above the config folder', async () => {
    const strategy = await loadStrategy('acme-strategy', { fromDir: configDir });
    expect(strategy.name).toBe('acme');
    expect(createStrategy(strategy, { workers: 4 }).recommend(context()).workers).toBe(4);
  });

  it('resolves scoped packages, CommonJS packages and relative files', async () => {
    expect((await loadStrategy('@acme/scaler', { fromDir: configDir })).name).toBe('acme-scoped');
    const cjs = await loadStrategy('cjs-strategy', { fromDir: configDir });
    expect(createStrategy(cjs).recommend(context()).workers).toBe(5);
    expect((await loadStrategy('./strategies/local.mjs', { fromDir: configDir })).name).toBe(
      'local',
    );
  });

  it('names the package and the missing piece when the shape is wrong', async () => {
    const error = await loadError('not-a-strategy');
    expect(isQscaleError(error, 'STRATEGY_SHAPE_INVALID')).toBe(true);
    expect(error.message).toContain('strategy package "not-a-strategy"');
    expect(error.message).toContain('"optionsSchema" must have a safeParse() method');
    expect(error.message).toContain('"create" must be a function');
  });

  it('says where it looked when the package is not installed', async () => {
    const error = await loadError('missing-strategy');
    expect(isQscaleError(error, 'STRATEGY_NOT_FOUND')).toBe(true);
    expect(error.message).toContain('strategy package "missing-strategy"');
    expect(error.message).toContain(join(configDir, 'node_modules'));
  });

  it('reports a missing entry point, a module that throws, and a bad name', async () => {
    expect((await loadError('unbuilt')).message).toMatch(
      /entry point .*dist\/index\.js does not exist/,
    );
    const thrown = await loadError('throws-on-load');
    expect(isQscaleError(thrown, 'STRATEGY_IMPORT_FAILED')).toBe(true);
    expect(thrown.message).toContain('REDIS_URL is not set');
    expect((await loadError('Not A Package!')).message).toMatch(/not a valid package name/);
  });
});
