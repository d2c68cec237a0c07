import { Engine } from 'php-parser';

/** A php-parser AST node, read structurally: every node has a `kind` and a position. */
export interface PhpNode {
  kind: string;
  loc?: { start: { line: number; column: number }; end: { line: number; column: number } } | null;
  [key: string]: unknown;
}

/**
 * The grammar version php-parser is told to read. Its default (8.3) rejects PHP 8.4's `new Foo()->bar()`,
 * property hooks and asymmetric visibility; 8.5 is the newest it knows and accepts all of 8.4 as well as
 * 8.5's pipe operator (measured on Coolify and Firefly III in bench/RESULTS.md, "PHP front end").
 */
export const PHP_GRAMMAR_VERSION = '8.5';

/** One stretch of a file the parser could not read: its tree has no nodes there. */
export interface PhpSyntaxError {
  line: number;
  /** Last line of the stretch (errors on neighbouring lines are one stretch). */
  endLine: number;
  column: number;
  message: string;
}

export interface ParsedPhp {
  /** The tree of everything outside the stretches set aside. */
  ast: PhpNode;
  /** Empty when the file parsed completely. */
  errors: PhpSyntaxError[];
}

let engine: Engine | undefined;

function parseStrict(code: string, file: string): PhpNode {
  engine ??= new Engine({
    parser: { php8: true, version: PHP_GRAMMAR_VERSION, extractDoc: false, suppressErrors: false },
    ast: { withPositions: true, withSource: false },
    lexer: { short_tags: true, asp_tags: false },
  });
  return engine.parseCode(code, file) as unknown as PhpNode;
}

/** How many lines are set aside before a file counts as not parsed at all. */
const MAX_BLANKED_LINES = 20;

/**
 * Parses PHP source error-tolerantly (positions on, comments kept): a line the parser cannot
 * read is set aside (blanked to spaces of the same length, so every position stays right) and
 * the file parsed again, so one unknown construct costs its line and the rest of the file still
 * yields its tree. Throws only when the parser stops without naming a line (nesting deeper than
 * its stack) or after 20 lines set aside.
 *
 * php-parser's own recovery (`suppressErrors`) was measured and not used: on a 4,000-line job of
 * Coolify with one `$x = $y with { a: 1 };` it never returned (bench/RESULTS.md, "PHP front end").
 */
export function parsePhpTolerant(code: string, file: string): ParsedPhp {
  const blanked: PhpSyntaxError[] = [];
  const lines = code.split('\n');
  for (;;) {
    try {
      const ast = parseStrict(blanked.length === 0 ? code : lines.join('\n'), file);
      return { ast, errors: errorRegions(blanked) };
    } catch (error) {
      const at = (error as { lineNumber?: unknown }).lineNumber;
      if (typeof at !== 'number' || blanked.length >= MAX_BLANKED_LINES) throw error;
      // The parser often stops a line or more past the construct (at the end of the file for an
      // unclosed bracket): the nearest line above that still has code is the one set aside.
      let index = Math.min(at, lines.length) - 1;
      while (index >= 0 && (lines[index] ?? '').trim() === '') index--;
      const target = lines[index];
      if (target === undefined) throw error;
      lines[index] = target.replace(/[^\r]/g, ' ');
      const message = readableMessage((error as Error).message);
      blanked.push({ line: index + 1, endLine: index + 1, column: 1, message });
    }
  }
}

/** Parses PHP source and throws on the first syntax error (with its line), for callers that need every node. */
export function parsePhp(code: string, file: string): PhpNode {
  const { ast, errors } = parsePhpTolerant(code, file);
  const first = errors[0];
  if (first !== undefined) throw new SyntaxError(`${first.message} on line ${first.line}`);
  return ast;
}

/** Lines set aside next to each other are one stretch, named by the first one's message. */
function errorRegions(errors: readonly PhpSyntaxError[]): PhpSyntaxError[] {
  const sorted = [...errors].sort((a, b) => a.line - b.line || a.column - b.column);
  const regions: PhpSyntaxError[] = [];
  for (const error of sorted) {
    const last = regions.at(-1);
    if (last !== undefined && error.line <= last.endLine + 1)
      last.endLine = Math.max(last.endLine, error.endLine);
    else regions.push({ ...error });
  }
  return regions;
}

/** `Parse Error : syntax error, unexpected '??' (T_COALESCE), expecting ')' on line 3` → `syntax error, unexpected '??', expecting ')'`. */
function readableMessage(message: string): string {
  return message
    .replace(/^Parse Error\s*:\s*/, '')
    .replace(/ on line \d+$/, '')
    .replace(/ \(T_[A-Z_]+\)/g, '');
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

/** The value passed for a parameter: by position, or by name (`command: [...]`). */
export function argumentFor(
  call: PhpNode,
  at: number,
  name: string | undefined,
): PhpNode | undefined {
  const list = args(call);
  const named = list.find((a) => a.kind === 'namedargument' && String(a.name) === name);
  if (named) return named.value as PhpNode;
  const positional = list[at];
  return positional && positional.kind !== 'namedargument' ? positional : undefined;
}
