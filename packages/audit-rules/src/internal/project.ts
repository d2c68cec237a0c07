import { execFile } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { AuditError } from './errors.js';

/** The files of a project tree, relative to its root with `/` separators, read on demand. */
export interface ProjectTree {
  readonly root: string;
  readonly files: readonly string[];
  /** True when the list came from `git ls-files` (tracked and untracked-but-not-ignored). */
  readonly fromGit: boolean;
  /** Tracked files only (for SEC-001); equal to `files` when git was not available. */
  readonly tracked: ReadonlySet<string>;
  /** The file's text, or null when it is too large, binary or unreadable. Cached. */
  read(path: string): Promise<string | null>;
  /** Values of the scanned env files (`.env`, `.env.production`, never `.env.example`). */
  readonly env: ReadonlyMap<string, string>;
  readonly envFile: string | null;
}

/** `**`, `*` and `?` globs over `/`-separated relative paths. */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i] as string;
    if (char === '*' && glob[i + 1] === '*') {
      source += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += glob[i + 2] === '/' ? 2 : 1;
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

const TEST_GLOBS = [
  '**/test/**',
  '**/tests/**',
  '**/__tests__/**',
  '**/fixtures/**',
  '**/*.test.*',
  '**/*.spec.*',
];

export async function openProject(
  root: string,
  options: {
    exclude: readonly string[];
    includeTests: boolean;
    envFiles: readonly string[];
    maxFileBytes: number;
  },
): Promise<ProjectTree> {
  const info = await stat(root).catch((error: NodeJS.ErrnoException) => {
    throw new AuditError(
      'AUDIT_PATH_INVALID',
      `--path ${root}: ${error.code === 'ENOENT' ? 'no such directory' : error.message}`,
      { cause: error },
    );
  });
  if (!info.isDirectory()) {
    throw new AuditError(
      'AUDIT_PATH_INVALID',
      `--path ${root}: is a file, expected a project directory`,
    );
  }
  const excluded = [...options.exclude, ...(options.includeTests ? [] : TEST_GLOBS)].map(
    globToRegExp,
  );
  const keep = (path: string) => !excluded.some((regex) => regex.test(path));
  const listed = await gitFiles(root);
  const all = listed ? listed.files : await walk(root, keep);
  const files = all.filter(keep).sort();
  const cache = new Map<string, Promise<string | null>>();
  const read = (path: string) => {
    let text = cache.get(path);
    if (!text) {
      text = readText(join(root, path), options.maxFileBytes);
      cache.set(path, text);
    }
    return text;
  };
  const present = new Set(files);
  let envFile: string | null = null;
  const env = new Map<string, string>();
  for (const candidate of options.envFiles) {
    if (!present.has(candidate) && !(await exists(join(root, candidate)))) continue;
    const text = await readText(join(root, candidate), options.maxFileBytes);
    if (text === null) continue;
    envFile = candidate;
    for (const [key, value] of parseEnv(text)) env.set(key, value);
    break;
  }
  return {
    root,
    files,
    fromGit: listed !== null,
    tracked: listed?.tracked ?? new Set(files),
    read,
    env,
    envFile,
  };
}

/** KEY=value lines; quotes stripped; `#` comments; no interpolation (nothing is executed). */
export function parseEnv(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(raw);
    if (!match) continue;
    let value = (match[2] ?? '').trim();
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.endsWith(quote) && value.length >= 2) {
      value = value.slice(1, -1);
    } else {
      value = value.replace(/\s+#.*$/, '');
    }
    values.set(match[1] as string, value);
  }
  return values;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function readText(path: string, maxBytes: number): Promise<string | null> {
  try {
    const info = await stat(path);
    if (!info.isFile() || info.size > maxBytes) return null;
    const buffer = await readFile(path);
    // A NUL in the first KiB means a binary file: nothing to parse.
    if (buffer.subarray(0, 1024).includes(0)) return null;
    return buffer.toString('utf8');
  } catch {
    return null;
  }
}

/** `git ls-files`: respects .gitignore, so generated trees and local env files stay out. */
function gitFiles(root: string): Promise<{ files: string[]; tracked: Set<string> } | null> {
  const run = (args: string[]) =>
    new Promise<string[] | null>((resolve) => {
      execFile(
        'git',
        // The scanned repository's own config must not make git run anything (fsmonitor hooks).
        ['-C', root, '-c', 'core.fsmonitor=false', 'ls-files', '-z', ...args],
        { maxBuffer: 256 * 1024 * 1024, shell: false, windowsHide: true },
        (error, stdout) => resolve(error ? null : stdout.split('\0').filter(Boolean)),
      );
    });
  return Promise.all([run(['--cached']), run(['--others', '--exclude-standard'])]).then(
    ([tracked, others]) => {
      // Not a repository, or a folder git ignores (a generated tree): walk it instead.
      if (!tracked || !others || tracked.length + others.length === 0) return null;
      const existing = new Set([...tracked, ...others]);
      return { files: [...existing], tracked: new Set(tracked) };
    },
  );
}

const ALWAYS_SKIPPED = new Set(['.git', 'node_modules', 'vendor']);

async function walk(root: string, keep: (path: string) => boolean): Promise<string[]> {
  const out: string[] = [];
  const visit = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const full = join(dir, entry.name);
      const rel = relative(root, full).split(sep).join('/');
      if (entry.isDirectory()) {
        if (ALWAYS_SKIPPED.has(entry.name) || !keep(`${rel}/`)) continue;
        await visit(full);
      } else if (entry.isFile()) {
        out.push(rel);
      }
    }
  };
  await visit(root);
  return out;
}
