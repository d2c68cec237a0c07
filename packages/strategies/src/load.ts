import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pluginShapeProblems, type Strategy } from '@qscale/contracts';
import { StrategyError } from './errors.js';

export interface LoadStrategyOptions {
  /**
   * The folder to resolve the package from, normally the configuration file's folder: its
   * `node_modules` and those of its parents are searched, as Node does.
   */
  fromDir: string;
}

// npm package names: lower-case, optionally scoped; an optional subpath after the name.
const PACKAGE_PATTERN = /^(@[a-z0-9][\w.-]*\/[a-z0-9][\w.-]*|[a-z0-9][\w.-]*)(\/[\w./-]+)?$/;

// Export conditions Node applies to `import()`, in the order it honours them.
const CONDITIONS = new Set(['node', 'import', 'default']);

/**
 * Loads a third-party strategy: resolves `specifier` (a package name such as
 * `@acme/qscale-strategy`, or a `./relative` or absolute file path) from `fromDir`, imports
 * it, unwraps `default` (twice, for CommonJS interop) and checks that it has the shape of a
 * Strategy (`name`, `optionsSchema.safeParse`, `create`). Pass the result to `createStrategy`.
 *
 * @throws StrategyError `STRATEGY_NOT_FOUND` (nothing to import), `STRATEGY_IMPORT_FAILED`
 *   (the module threw while loading), `STRATEGY_SHAPE_INVALID` (no strategy exported); each
 *   message names the package and what was wrong.
 */
export async function loadStrategy(
  specifier: string,
  { fromDir }: LoadStrategyOptions,
): Promise<Strategy<unknown>> {
  const file = await resolveSpecifier(specifier, resolve(fromDir));
  let module: unknown;
  try {
    module = await import(pathToFileURL(file).href);
  } catch (error) {
    throw new StrategyError(
      'STRATEGY_IMPORT_FAILED',
      specifier,
      `strategy package "${specifier}" (${file}) failed to load: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  const candidate = unwrapDefault(module);
  const problems = pluginShapeProblems(candidate, 'recommend');
  if (problems.length > 0) {
    throw new StrategyError(
      'STRATEGY_SHAPE_INVALID',
      specifier,
      `strategy package "${specifier}" (${file}) does not export a strategy: ${problems.join('; ')}. Expected a default export made with defineStrategy({ name, optionsSchema, create }) from @qscale/contracts`,
    );
  }
  return candidate as Strategy<unknown>;
}

function unwrapDefault(module: unknown): unknown {
  let value = module;
  for (let i = 0; i < 2; i++) {
    if (typeof value === 'object' && value !== null && 'default' in value && !('create' in value)) {
      value = (value as { default: unknown }).default;
    }
  }
  return value;
}

async function resolveSpecifier(specifier: string, fromDir: string): Promise<string> {
  if (specifier.startsWith('.') || isAbsolute(specifier)) {
    const file = isAbsolute(specifier) ? specifier : resolve(fromDir, specifier);
    if (await isFile(file)) return file;
    throw notFound(specifier, `there is no file ${file}`);
  }
  const match = PACKAGE_PATTERN.exec(specifier);
  if (!match) {
    throw notFound(
      specifier,
      'it is not a valid package name (expected e.g. qscale-strategy-x or @scope/name) nor a ./relative path',
    );
  }
  const name = match[1] as string;
  const subpath = match[2] ? `.${match[2]}` : '.';
  const searched: string[] = [];
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const root = join(dir, 'node_modules', ...name.split('/'));
    searched.push(join(dir, 'node_modules'));
    const manifest = await readManifest(root, specifier);
    if (manifest) {
      const entry = entryPoint(manifest, subpath);
      if (entry === null) {
        throw notFound(specifier, `${root}/package.json does not export "${subpath}" for import`);
      }
      const file = resolve(root, entry);
      if (await isFile(file)) return file;
      throw notFound(specifier, `its entry point ${file} does not exist (is the package built?)`);
    }
    if (dirname(dir) === dir) break;
  }
  throw notFound(
    specifier,
    `it is not installed: searched ${searched.slice(0, 3).join(', ')}${searched.length > 3 ? ' and parents' : ''}; install it next to the configuration file`,
  );
}

interface Manifest {
  main?: unknown;
  exports?: unknown;
}

async function readManifest(root: string, specifier: string): Promise<Manifest | null> {
  let text: string;
  try {
    text = await readFile(join(root, 'package.json'), 'utf8');
  } catch {
    return null;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Manifest) : {};
  } catch (error) {
    throw new StrategyError(
      'STRATEGY_NOT_FOUND',
      specifier,
      `strategy package "${specifier}": ${join(root, 'package.json')} is not valid JSON`,
      { cause: error },
    );
  }
}

/** The file `import(name + subpath)` would load, per the package's `exports` or `main`. */
function entryPoint(manifest: Manifest, subpath: string): string | null {
  const { exports } = manifest;
  if (exports === undefined || exports === null) {
    if (subpath !== '.') return subpath;
    return typeof manifest.main === 'string' ? manifest.main : 'index.js';
  }
  const isSubpathMap =
    typeof exports === 'object' &&
    !Array.isArray(exports) &&
    Object.keys(exports).some((key) => key.startsWith('.'));
  const target = isSubpathMap
    ? (exports as Record<string, unknown>)[subpath]
    : subpath === '.'
      ? exports
      : undefined;
  return applyConditions(target);
}

function applyConditions(target: unknown): string | null {
  if (typeof target === 'string') return target;
  if (Array.isArray(target)) {
    for (const item of target) {
      const found = applyConditions(item);
      if (found !== null) return found;
    }
    return null;
  }
  if (typeof target === 'object' && target !== null) {
    for (const [condition, value] of Object.entries(target)) {
      if (!CONDITIONS.has(condition)) continue;
      const found = applyConditions(value);
      if (found !== null) return found;
    }
  }
  return null;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

function notFound(specifier: string, why: string): StrategyError {
  return new StrategyError(
    'STRATEGY_NOT_FOUND',
    specifier,
    `strategy package "${specifier}" cannot be loaded: ${why}`,
  );
}
