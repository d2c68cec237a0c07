import type { ProjectContext } from '../types.js';
import { args, calledFunction, findAll, literal, nameOf, type PhpNode, staticCall } from './ast.js';

/** A value the constant folder could not compute (a call, a variable): reported as unknown. */
export const UNKNOWN: unique symbol = Symbol('unknown');
export type PhpValue =
  | string
  | number
  | boolean
  | null
  | typeof UNKNOWN
  | PhpValue[]
  | { [key: string]: PhpValue };

export interface ConfigValue {
  value: PhpValue;
  /** Line of the key in the config file, for locations. */
  lines: Map<string, number>;
  path: string;
  text: string;
}

/**
 * Partially evaluates `config/<name>.php` (`return [...]`) against the scanned env file:
 * literals, arrays, env('X', default), casts, concatenation, ??, min/max. Anything else is
 * UNKNOWN, never a guess.
 */
export function laravelConfig(context: ProjectContext, name: string): ConfigValue | null {
  const path = `config/${name}.php`;
  const file = context.php.file(path);
  if (!file) return null;
  const ret = findAll(file.ast, 'return')[0];
  if (!ret?.expr) return null;
  const lines = new Map<string, number>();
  const value = evaluate(ret.expr as PhpNode, context.tree.env, lines, '');
  return { value, lines, path, text: file.text };
}

function envValue(raw: string | undefined, fallback: PhpValue): PhpValue {
  if (raw === undefined) return fallback;
  const lower = raw.toLowerCase();
  if (lower === 'null' || lower === '(null)') return null;
  if (lower === 'true' || lower === '(true)') return true;
  if (lower === 'false' || lower === '(false)') return false;
  if (lower === 'empty' || lower === '(empty)') return '';
  return raw;
}

function evaluate(
  node: PhpNode,
  env: ReadonlyMap<string, string>,
  lines: Map<string, number>,
  path: string,
): PhpValue {
  const text = literal(node);
  if (node.kind === 'number') return Number(node.value);
  if (node.kind === 'boolean') return node.value === true || node.value === 'true';
  if (node.kind === 'nullkeyword') return null;
  if (text !== null) return text;
  switch (node.kind) {
    case 'array': {
      const items = (node.items as PhpNode[]) ?? [];
      const keyed = items.some((item) => item.kind === 'entry' && item.key);
      if (!keyed)
        return items.map((item) =>
          evaluate(item.kind === 'entry' ? (item.value as PhpNode) : item, env, lines, path),
        );
      const out: { [key: string]: PhpValue } = {};
      for (const item of items) {
        if (item.kind !== 'entry') continue;
        const key = item.key ? literal(item.key as PhpNode) : null;
        if (key === null) continue;
        const childPath = path ? `${path}.${key}` : key;
        lines.set(childPath, item.loc?.start.line ?? 1);
        out[key] = evaluate(item.value as PhpNode, env, lines, childPath);
      }
      return out;
    }
    case 'call': {
      const fn = calledFunction(node);
      const list = args(node);
      if (fn === 'env' && list[0]) {
        const key = literal(list[0]);
        const fallback = list[1] ? evaluate(list[1], env, lines, path) : null;
        return key === null ? UNKNOWN : envValue(env.get(key), fallback);
      }
      if ((fn === 'min' || fn === 'max') && list.length > 0) {
        const values = list.map((a) => evaluate(a, env, lines, path));
        if (values.every((v): v is number => typeof v === 'number')) {
          return fn === 'min' ? Math.min(...values) : Math.max(...values);
        }
        return UNKNOWN;
      }
      if (fn === 'intval' && list[0]) return toInt(evaluate(list[0], env, lines, path));
      const stat = staticCall(node);
      if (stat && /Str$/.test(stat[0]) && stat[1] === 'slug') return UNKNOWN;
      return UNKNOWN;
    }
    case 'cast': {
      const inner = evaluate(node.expr as PhpNode, env, lines, path);
      if (node.type === 'int') return toInt(inner);
      if (node.type === 'bool')
        return inner === UNKNOWN ? UNKNOWN : Boolean(inner) && inner !== '0';
      if (node.type === 'string') return inner === UNKNOWN ? UNKNOWN : String(inner ?? '');
      return inner;
    }
    case 'bin': {
      const left = evaluate(node.left as PhpNode, env, lines, path);
      const right = evaluate(node.right as PhpNode, env, lines, path);
      if (node.type === '??') return left === null ? right : left;
      if (left === UNKNOWN || right === UNKNOWN) return UNKNOWN;
      if (node.type === '.') return `${String(left ?? '')}${String(right ?? '')}`;
      if (typeof left === 'number' && typeof right === 'number') {
        if (node.type === '*') return left * right;
        if (node.type === '+') return left + right;
        if (node.type === '-') return left - right;
      }
      return UNKNOWN;
    }
    case 'unary':
      if (node.type === '-' && (node.what as PhpNode)?.kind === 'number')
        return -Number((node.what as PhpNode).value);
      return UNKNOWN;
    case 'constref':
      if (/^(true|false|null)$/i.test(nameOf(node.name) ?? '')) {
        const v = (nameOf(node.name) ?? '').toLowerCase();
        return v === 'null' ? null : v === 'true';
      }
      return UNKNOWN;
    default:
      return UNKNOWN;
  }
}

function toInt(value: PhpValue): PhpValue {
  if (value === UNKNOWN) return UNKNOWN;
  if (typeof value === 'number') return Math.trunc(value);
  if (typeof value === 'string') return Number.parseInt(value, 10) || 0;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return 0;
}

/** `get(value, 'connections.redis.retry_after')`; undefined when a segment is missing. */
export function get(value: PhpValue | undefined, path: string): PhpValue | undefined {
  let current: PhpValue | undefined = value;
  for (const segment of path.split('.')) {
    if (current === UNKNOWN) return UNKNOWN;
    if (
      current === undefined ||
      current === null ||
      typeof current !== 'object' ||
      Array.isArray(current)
    ) {
      return undefined;
    }
    current = (current as { [key: string]: PhpValue })[segment];
  }
  return current;
}

export function isMap(value: PhpValue | undefined): value is { [key: string]: PhpValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
