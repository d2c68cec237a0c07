import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  type Scalar,
} from 'yaml';
import { type Environment, substituteEnv } from './env.js';
import {
  ConfigError,
  type ConfigProblem,
  formatPath,
  issuesToProblems,
  type PathSegment,
} from './problems.js';
import { configSchema, type QscaleConfig } from './schema.js';
import { allowedKeysAt } from './schema-keys.js';

/** Configuration files are small; anything larger is a mistake (or an attack). */
const MAX_FILE_BYTES = 1_048_576;
/**
 * Values (mappings, lists, scalars) of the document once every alias is expanded. Aliases
 * may be used as often as users like (one anchor shared by hundreds of queues is fine); what
 * is bounded is what they expand to, so a "billion laughs" file is refused before it is built.
 */
const MAX_EXPANDED_VALUES = 100_000;

export interface ParseConfigOptions {
  /** The file name shown in problems. @defaultValue `qscale.yml` */
  fileName?: string;
  /** Folder that relative paths (`cwd`, `stateFile`) are resolved from. @defaultValue the process's cwd */
  baseDir?: string;
  /** Variables for `${NAME}` references. @defaultValue `process.env` */
  env?: Environment;
}

/**
 * Reads, validates and resolves a YAML or JSON configuration file.
 * @throws {ConfigError} `CONFIG_NOT_FOUND`, `CONFIG_UNREADABLE`, `CONFIG_SYNTAX` or
 * `CONFIG_INVALID`, with every problem found and its line:column.
 */
export async function loadConfig(
  path: string,
  options: Omit<ParseConfigOptions, 'fileName' | 'baseDir'> = {},
): Promise<QscaleConfig> {
  const text = await readConfigText(path);
  return parseConfig(text, { ...options, fileName: path, baseDir: dirname(resolve(path)) });
}

/** Validates and resolves configuration text (YAML, or JSON, which is YAML too). */
export function parseConfig(text: string, options: ParseConfigOptions = {}): QscaleConfig {
  const file = options.fileName ?? 'qscale.yml';
  const lines = new LineCounter();
  // merge: `<<: *worker` (a YAML 1.1 merge key) is how many users share settings between queues.
  const doc = parseDocument(text, {
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
    merge: true,
  });
  const at = (offset: number | undefined) => {
    if (offset === undefined) return {};
    const { line, col } = lines.linePos(offset);
    return { line, column: col };
  };

  if (doc.errors.length > 0) {
    const problems = doc.errors.map((error) => ({
      path: '',
      message: `malformed YAML: ${error.message.split('\n')[0]}`,
      file,
      ...at(error.pos[0]),
    }));
    throw new ConfigError('CONFIG_SYNTAX', file, problems);
  }
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    throw new ConfigError('CONFIG_INVALID', file, [
      { path: '', message: 'the file is empty: expected a mapping with at least "queues"', file },
    ]);
  }
  if (!isMap(doc.contents)) {
    const found = isSeq(doc.contents) ? 'a list' : 'a single value';
    throw new ConfigError('CONFIG_INVALID', file, [
      {
        path: '',
        message: `expected a mapping at the top level, got ${found}`,
        file,
        ...at(doc.contents.range?.[0]),
      },
    ]);
  }

  const envProblems: ConfigProblem[] = [];
  substituteReferences(doc.contents, [], options.env ?? process.env, (path, node, message) =>
    envProblems.push({ path: formatPath(path), message, file, ...at(node.range?.[0]) }),
  );
  if (envProblems.length > 0) throw new ConfigError('CONFIG_INVALID', file, envProblems);

  const expansion = checkAliases(doc);
  if (expansion) {
    throw new ConfigError('CONFIG_INVALID', file, [
      { path: '', message: expansion.message, file, ...at(expansion.offset) },
    ]);
  }
  // Bounded by checkAliases, so the library's own alias count (100) need not be.
  const data: unknown = doc.toJS({ maxAliasCount: -1 });
  const result = configSchema.safeParse(data);
  if (!result.success) {
    const problems = issuesToProblems(result.error.issues, data, allowedKeysAt).map(
      ({ path, message, atKey }) => ({
        path: formatPath(path),
        message,
        file,
        ...at(locate(doc, path, atKey)),
      }),
    );
    problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
    throw new ConfigError('CONFIG_INVALID', file, dedupe(problems));
  }
  const resolved = resolvePaths(result.data, options.baseDir ?? process.cwd());
  origins.set(resolved, {
    file,
    baseDir: options.baseDir ?? process.cwd(),
    at: (candidates) => {
      const path = candidates.find((candidate) => hasPath(doc, candidate)) ?? candidates[0] ?? [];
      return at(locate(doc, path, false));
    },
  });
  return resolved;
}

/** Where a configuration read by {@link parseConfig} came from. */
export interface ConfigOrigin {
  /** The file name shown in problems. */
  file: string;
  /** Folder its relative paths were resolved from. */
  baseDir: string;
  /** Line and column of the first of `candidates` that the file has (else near the first). */
  at(candidates: readonly (readonly PathSegment[])[]): { line?: number; column?: number };
}

const origins = new WeakMap<QscaleConfig, ConfigOrigin>();

/** The file and positions of a configuration parsed here; null for one built in code. */
export function configOrigin(config: QscaleConfig): ConfigOrigin | null {
  return origins.get(config) ?? null;
}

function hasPath(doc: Document, path: readonly PathSegment[]): boolean {
  let node: unknown = doc.contents;
  for (const segment of path) {
    if (!isMap(node)) return false;
    const pair = node.items.find(
      (item) => isScalar(item.key) && String(item.key.value) === String(segment),
    );
    if (!pair) return false;
    node = pair.value;
  }
  return true;
}

/**
 * Counts the values of the document with its aliases expanded, each anchored node counted
 * once and reused. Returns what is wrong (an alias to no anchor, an alias inside the node it
 * names, too large an expansion) and where, or null.
 */
function checkAliases(doc: Document): { message: string; offset: number | undefined } | null {
  const sizes = new Map<unknown, number>();
  const open = new Set<unknown>();
  let problem: { message: string; offset: number | undefined } | null = null;
  const size = (node: unknown): number => {
    if (problem) return 0;
    if (isAlias(node)) {
      const target = node.resolve(doc);
      if (target === undefined) {
        problem = { message: `alias *${node.source} refers to no anchor`, offset: node.range?.[0] };
        return 0;
      }
      if (open.has(target)) {
        problem = {
          message: `alias *${node.source} is inside the node it refers to (a circular structure)`,
          offset: node.range?.[0],
        };
        return 0;
      }
      return size(target);
    }
    if (isPair(node)) return size(node.key) + size(node.value);
    if (!isMap(node) && !isSeq(node)) return 1;
    const known = sizes.get(node);
    if (known !== undefined) return known;
    open.add(node);
    let total = 1;
    for (const item of node.items) {
      total += size(item);
      if (total > MAX_EXPANDED_VALUES) break;
    }
    open.delete(node);
    sizes.set(node, total);
    return total;
  };
  const total = size(doc.contents);
  if (problem) return problem;
  if (total > MAX_EXPANDED_VALUES) {
    return {
      message: `the file expands to more than ${MAX_EXPANDED_VALUES} values once its aliases (*name) are expanded; refused as an alias bomb`,
      offset: undefined,
    };
  }
  return null;
}

async function readConfigText(path: string): Promise<string> {
  try {
    const info = await stat(path);
    if (info.isDirectory()) {
      throw unreadable(path, 'is a directory, expected a YAML or JSON file');
    }
    if (info.size > MAX_FILE_BYTES) {
      throw unreadable(path, `is ${info.size} bytes, expected at most ${MAX_FILE_BYTES}`);
    }
    return await readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new ConfigError(
        'CONFIG_NOT_FOUND',
        path,
        [{ path: '', message: 'no such file (create one with `qscale init`)', file: path }],
        { cause: error },
      );
    }
    const reason = code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new ConfigError(
      'CONFIG_UNREADABLE',
      path,
      [{ path: '', message: `cannot read the file: ${reason}`, file: path }],
      {
        cause: error,
      },
    );
  }
}

function unreadable(path: string, message: string): ConfigError {
  return new ConfigError('CONFIG_UNREADABLE', path, [{ path: '', message, file: path }]);
}

/**
 * Replaces `${NAME}` references in string values (never in keys), node by node, so a value
 * can never inject YAML structure. An unquoted value that was a reference takes the type its
 * text reads as (`${PORT}` -> 9730); a quoted one stays a string.
 */
function substituteReferences(
  node: unknown,
  path: PathSegment[],
  env: Environment,
  report: (path: PathSegment[], node: Node, message: string) => void,
): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '?';
      substituteReferences(pair.value, [...path, key], env, report);
    }
  } else if (isSeq(node)) {
    for (const [index, item] of node.items.entries()) {
      substituteReferences(item, [...path, index], env, report);
    }
  } else if (isScalar(node) && typeof node.value === 'string') {
    const result = substituteEnv(node.value, env);
    if (!result.ok) report(path, node, result.message);
    else if (result.changed) node.value = readPlain(node, result.value);
  }
}

function readPlain(node: Scalar, value: string): unknown {
  if (node.type !== 'PLAIN') return value;
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  if (value === 'true' || value === 'false') return value === 'true';
  return value;
}

/** Offset of the node at `path`, or of the deepest key that exists on the way there. */
function locate(doc: Document, path: readonly PathSegment[], atKey: boolean): number | undefined {
  let node: unknown = doc.contents;
  let fallback = (doc.contents as Node | null)?.range?.[0];
  for (const [index, segment] of path.entries()) {
    const last = index === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => isScalar(item.key) && String(item.key.value) === String(segment),
      );
      if (!pair) return fallback;
      const keyOffset = (pair.key as Node).range?.[0];
      if (last && atKey) return keyOffset;
      fallback = keyOffset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment];
      if (node === undefined) return fallback;
    } else {
      return fallback;
    }
  }
  return (node as Node | null)?.range?.[0] ?? fallback;
}

function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((problem) => {
    const key = `${problem.path}\0${problem.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function resolvePaths(config: QscaleConfig, baseDir: string): QscaleConfig {
  const absolute = (path: string) => (isAbsolute(path) ? path : resolve(baseDir, path));
  return {
    ...config,
    supervision: { ...config.supervision, stateFile: absolute(config.supervision.stateFile) },
    externalScaler: config.externalScaler && {
      ...config.externalScaler,
      tls: config.externalScaler.tls && {
        certFile: absolute(config.externalScaler.tls.certFile),
        keyFile: absolute(config.externalScaler.tls.keyFile),
        clientCaFile:
          config.externalScaler.tls.clientCaFile &&
          absolute(config.externalScaler.tls.clientCaFile),
      },
    },
    queues: config.queues.map((queue) => ({ ...queue, cwd: absolute(queue.cwd) })),
  };
}
