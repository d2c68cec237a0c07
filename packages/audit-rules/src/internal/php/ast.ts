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

/** One stretch of a file the parser could not read: its tree holds an `error` node there. */
export interface PhpSyntaxError {
  line: number;
  /** Last line of the stretch (errors on neighbouring lines are one stretch). */
  endLine: number;
  column: number;
  message: string;
}

export interface ParsedPhp {
  /** The whole tree; where the parser met a construct it does not know it holds `error` nodes. */
  ast: PhpNode;
  /** Empty when the file parsed completely. */
  errors: PhpSyntaxError[];
}

const engines = new Map<boolean, Engine>();

function engine(tolerant: boolean): Engine {
  let found = engines.get(tolerant);
  if (found === undefined) {
    found = new Engine({
      parser: {
        php8: true,
        version: PHP_GRAMMAR_VERSION,
        extractDoc: false,
        // Recovery instead of the first error: the parser resynchronises at the next statement
        // and records each error, so one unknown construct no longer costs the whole file.
        suppressErrors: tolerant,
      },
      ast: { withPositions: true, withSource: false },
      lexer: { short_tags: true, asp_tags: false },
    });
    engines.set(tolerant, found);
  }
  return found;
}

/** How many lines are blanked before a file whose recovery keeps failing counts as unparsed. */
const MAX_BLANKED_LINES = 20;

/**
 * Parses PHP source error-tolerantly (positions on, comments kept): a construct the parser does
 * not know costs the statement it is in, and the rest of the file still yields its tree. Throws
 * only when nothing could be read at all.
 */
export function parsePhpTolerant(code: string, file: string): ParsedPhp {
  const blanked: PhpSyntaxError[] = [];
  let text = code;
  for (;;) {
    try {
      const ast = engine(true).parseCode(text, file) as unknown as PhpNode;
      const raw = Array.isArray(ast.errors) ? (ast.errors as PhpNode[]) : [];
      return { ast, errors: errorRegions([...raw.map(fromErrorNode), ...blanked]) };
    } catch (crash) {
      // php-parser's recovery itself fails on some errors (an operand missing inside
      // parentheses): the strict parse names the line, which is blanked (same length, so every
      // position stays right) and the file parsed again.
      const stop = strictErrorLine(text, file);
      if (stop === null || blanked.length >= MAX_BLANKED_LINES) throw crash;
      blanked.push(stop);
      text = blankLine(text, stop.line);
    }
  }
}

/** The line the strict parser stops at, or null when it stops without one (or does not stop). */
function strictErrorLine(text: string, file: string): PhpSyntaxError | null {
  try {
    engine(false).parseCode(text, file);
    return null;
  } catch (error) {
    const at = (error as { lineNumber?: unknown }).lineNumber;
    if (typeof at !== 'number') return null;
    const message = readableMessage((error as Error).message);
    return { line: at, endLine: at, column: 1, message };
  }
}

function blankLine(text: string, lineNumber: number): string {
  const lines = text.split('\n');
  const index = lineNumber - 1;
  const target = lines[index];
  if (target !== undefined) lines[index] = target.replace(/[^\r]/g, ' ');
  return lines.join('\n');
}

/** Parses PHP source and throws on the first syntax error (with its line), for callers that need every node. */
export function parsePhp(code: string, file: string): PhpNode {
  const { ast, errors } = parsePhpTolerant(code, file);
  const first = errors[0];
  if (first !== undefined) throw new SyntaxError(`${first.message} on line ${first.line}`);
  return ast;
}

function fromErrorNode(error: PhpNode): PhpSyntaxError {
  const at = typeof error.line === 'number' ? error.line : line(error);
  const message = readableMessage(String(error.message ?? 'syntax error'));
  return { line: at, endLine: at, column: column(error), message };
}

/**
 * The parser reports several errors around one unknown construct (the token it stopped at, then
 * each token it skipped to resynchronise): errors on the same or neighbouring lines are one
 * stretch, named by the first error's message.
 */
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
