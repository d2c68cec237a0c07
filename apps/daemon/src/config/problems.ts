import { QscaleError } from '@qscale/contracts';
import type { z } from 'zod';

/** One thing wrong with a configuration file, with where it is. */
export interface ConfigProblem {
  /** Key path, e.g. `queues.emails.workers.max`; empty for the file as a whole. */
  path: string;
  /** What is wrong: what was expected and what was found. */
  message: string;
  /** The file as the user named it. */
  file: string;
  /** 1-based line and column in the file, when known. */
  line?: number;
  column?: number;
}

export type ConfigErrorCode =
  | 'CONFIG_NOT_FOUND'
  | 'CONFIG_UNREADABLE'
  | 'CONFIG_SYNTAX'
  | 'CONFIG_INVALID'
  /** Valid, but not runnable here: a program, directory, account or strategy is missing, or root is refused. */
  | 'CONFIG_UNUSABLE';

/** Thrown by `loadConfig` and `parseConfig`; `problems` lists every problem found. */
export class ConfigError extends QscaleError<ConfigErrorCode> {
  readonly file: string;
  readonly problems: readonly ConfigProblem[];

  constructor(
    code: ConfigErrorCode,
    file: string,
    problems: ConfigProblem[],
    options?: { cause?: unknown },
  ) {
    super(code, problems.map(formatProblem).join('\n'), options);
    this.file = file;
    this.problems = problems;
  }
}
Object.defineProperty(ConfigError.prototype, 'name', { value: 'ConfigError' });

/** `queues.emails.workers.max: expected ..., got "ten" (qscale.yml:14:12)` */
export function formatProblem(problem: ConfigProblem): string {
  const where =
    problem.line === undefined
      ? problem.file
      : `${problem.file}:${problem.line}:${problem.column ?? 1}`;
  return `${problem.path ? `${problem.path}: ` : ''}${problem.message} (${where})`;
}

export type PathSegment = string | number;

/** `queues.emails.workers`, or `queues["v2.emails"]` when a key holds a dot or other marks. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_-]*$/.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

// Values under these keys may be secrets: a problem says what kind of value it found there,
// never the value itself.
const SECRET_KEY = /pass|token|secret|^url$|^env$|^headers$/i;

/** Turns zod issues into problems: one per unknown key, "got ..." added where it helps. */
export function issuesToProblems(
  issues: readonly z.core.$ZodIssue[],
  data: unknown,
  allowedKeys: (path: readonly PathSegment[]) => string[],
): { path: PathSegment[]; message: string; atKey: boolean }[] {
  const problems: { path: PathSegment[]; message: string; atKey: boolean }[] = [];
  for (const issue of issues) {
    const path = issue.path.map((segment) =>
      typeof segment === 'symbol' ? String(segment) : segment,
    );
    if (issue.code === 'unrecognized_keys') {
      const known = allowedKeys(path);
      for (const key of issue.keys) {
        const hint = closest(key, known);
        problems.push({
          path: [...path, key],
          message: `unknown key${hint ? ` (did you mean "${hint}"?)` : ''}${known.length ? `; expected one of ${known.join(', ')}` : ''}`,
          atKey: true,
        });
      }
      continue;
    }
    if (issue.code === 'invalid_key') {
      const inner = issue.issues[0]?.message ?? 'invalid key';
      problems.push({ path, message: `${inner}, got ${JSON.stringify(path.at(-1))}`, atKey: true });
      continue;
    }
    const complete = issue.code === 'custom' && issue.params?.complete === true;
    const message = complete ? issue.message : withFound(issue.message, path, data);
    problems.push({ path, message, atKey: false });
  }
  return problems;
}

function withFound(message: string, path: readonly PathSegment[], data: unknown): string {
  if (/\bgot\b|^required/.test(message)) return message;
  const found = valueAt(data, path);
  if (found.missing) return `${message}, but it is missing`;
  const secret = path.some((segment) => typeof segment === 'string' && SECRET_KEY.test(segment));
  return `${message}, got ${describe(found.value, secret)}`;
}

function valueAt(
  data: unknown,
  path: readonly PathSegment[],
): { missing: boolean; value?: unknown } {
  let current: unknown = data;
  for (const segment of path) {
    if (typeof current !== 'object' || current === null || !(segment in current)) {
      return { missing: true };
    }
    current = (current as Record<PathSegment, unknown>)[segment];
  }
  return { missing: false, value: current };
}

function describe(value: unknown, secret: boolean): string {
  if (value === null) return 'null (an empty value)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (secret) return `a ${typeof value} (value hidden)`;
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  }
  return String(value);
}

/** The known key nearest to a misspelt one, if it is close enough to be a typo. */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** An error's message, or the thrown value as text: one line of a problem list. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
