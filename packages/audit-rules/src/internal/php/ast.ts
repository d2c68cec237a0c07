import { Engine } from 'php-parser';

/** A php-parser AST node, read structurally: every node has a `kind` and a position. */
export interface PhpNode {
  kind: string;
  loc?: { start: { line: number; column: number }; end: { line: number; column: number } } | null;
  [key: string]: unknown;
}

let engine: Engine | undefined;

/** Parses PHP source (PHP 8 syntax, positions on, comments kept). Throws on a syntax error. */
export function parsePhp(code: string, file: string): PhpNode {
  engine ??= new Engine({
    parser: { php8: true, extractDoc: false, suppressErrors: false },
    ast: { withPositions: true, withSource: false },
    lexer: { short_tags: true, asp_tags: false },
  });
  return engine.parseCode(code, file) as unknown as PhpNode;
}

export function isNode(value: unknown): value is PhpNode {
  return typeof value === 'object' && value !== null && typeof (value as PhpNode).kind === 'string';
}

const SKIPPED_KEYS = new Set(['loc', 'leadingComments', 'trailingComments']);

/** The direct child nodes of `node`, in source order. */
export function children(node: PhpNode): PhpNode[] {
  const out: PhpNode[] = [];
  for (const [key, value] of Object.entries(node)) {
    if (SKIPPED_KEYS.has(key)) continue;
    if (Array.isArray(value)) {
      for (const item of value) if (isNode(item)) out.push(item);
    } else if (isNode(value)) {
      out.push(value);
    }
  }
  return out;
}

/**
 * Depth-first walk; `visit` returning false skips the node's children. `ancestors` is the
 * path from the root (nearest last).
 */
export function walk(
  root: PhpNode,
  visit: (node: PhpNode, ancestors: readonly PhpNode[]) => unknown,
): void {
  const stack: PhpNode[] = [];
  const step = (node: PhpNode): void => {
    if (visit(node, stack) === false) return;
    stack.push(node);
    for (const child of children(node)) step(child);
    stack.pop();
  };
  step(root);
}

/** Every node of `kind` under `root` (root included). */
export function findAll(root: PhpNode, kinds: string | readonly string[]): PhpNode[] {
  const wanted = typeof kinds === 'string' ? [kinds] : kinds;
  const out: PhpNode[] = [];
  walk(root, (node) => {
    if (wanted.includes(node.kind)) out.push(node);
  });
  return out;
}

export function line(node: PhpNode | null | undefined): number {
  return node?.loc?.start.line ?? 1;
}

export function column(node: PhpNode | null | undefined): number {
  return (node?.loc?.start.column ?? 0) + 1;
}

/** The text of an identifier, name, variable or string node; null for anything else. */
export function nameOf(node: unknown): string | null {
  if (typeof node === 'string') return node;
  if (!isNode(node)) return null;
  if (node.kind === 'identifier' || node.kind === 'name' || node.kind === 'variable') {
    return typeof node.name === 'string' ? node.name : nameOf(node.name);
  }
  if (node.kind === 'string') return String(node.value);
  return null;
}

/** `foo(...)`: the called function's name (lower case, without a leading `\`), else null. */
export function calledFunction(node: PhpNode): string | null {
  if (node.kind !== 'call') return null;
  const what = node.what as PhpNode;
  if (what?.kind !== 'name') return null;
  return String(what.name).replace(/^\\/, '').toLowerCase();
}

/** `X::m(...)`: `['X', 'm']` (class as written, method lower case), else null. */
export function staticCall(node: PhpNode): [string, string] | null {
  if (node.kind !== 'call') return null;
  const what = node.what as PhpNode;
  if (what?.kind !== 'staticlookup') return null;
  const cls = nameOf(what.what);
  const method = nameOf(what.offset);
  if (cls === null || method === null) return null;
  return [cls.replace(/^\\/, ''), method.toLowerCase()];
}

/** `$o->m(...)`: `[object node, 'm']`, else null. */
export function methodCall(node: PhpNode): [PhpNode, string] | null {
  if (node.kind !== 'call') return null;
  const what = node.what as PhpNode;
  if (what?.kind !== 'propertylookup' && what?.kind !== 'nullsafepropertylookup') return null;
  const method = nameOf(what.offset);
  return method === null ? null : [what.what as PhpNode, method.toLowerCase()];
}

export function args(node: PhpNode): PhpNode[] {
  return Array.isArray(node.arguments) ? (node.arguments as PhpNode[]) : [];
}

/** The literal text of a string-like node with no interpolation, else null. */
export function literal(node: PhpNode | null | undefined): string | null {
  if (!node) return null;
  if (node.kind === 'string' || node.kind === 'nowdoc') return String(node.value);
  if (node.kind === 'number') return String(node.value);
  if (node.kind === 'boolean') return String(node.value);
  if (node.kind === 'bin' && node.type === '.') {
    const left = literal(node.left as PhpNode);
    const right = literal(node.right as PhpNode);
    return left !== null && right !== null ? left + right : null;
  }
  if (node.kind === 'encapsed') {
    let text = '';
    for (const part of node.value as PhpNode[]) {
      const expression = part.expression as PhpNode;
      if (expression.kind !== 'string') return null;
      text += String(expression.value);
    }
    return text;
  }
  return null;
}

/** `$this->name`: `name`; else null. */
export function thisProperty(node: PhpNode): string | null {
  if (node.kind !== 'propertylookup') return null;
  const target = node.what as PhpNode;
  if (target.kind !== 'variable' || target.name !== 'this') return null;
  return nameOf(node.offset);
}
