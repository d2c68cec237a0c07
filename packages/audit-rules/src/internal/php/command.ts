import { args, calledFunction, line, literal, methodCall, type PhpNode } from './ast.js';
import { builderParts, sprintfParts, summarisedCall } from './command-call-parts.js';
import { arrayValues, implodeOperands } from './command-list-parts.js';
import { opaque } from './command-opaque.js';
import { propertyParts } from './command-property-parts.js';
import { classValidated, type Provenance, worst } from './command-provenance.js';
import { position, type Scope, variableKey } from './command-scope.js';
import type { Strength } from './validator-strength.js';

// Turns the argument of a shell sink into literal text and operands, following variables
// assigned earlier in the same function (intra-procedural def-use), and scores each operand:
// P-SAFE (escaped, cast, base64 in single quotes, validated) and P-PROV (untrusted, unknown,
// trusted).
//
// This module holds the walk over a value (variables, concatenation, interpolation) and the
// shapes it produces. The facts of one body are in command-scope.ts; what calls, lists and
// `$this->prop` contribute is in command-call-parts.ts, command-list-parts.ts and
// command-property-parts.ts, which call back into flattenParts (the recursion is mutual, so
// the import cycle between them is deliberate); the verdict on a value it cannot follow is in
// command-opaque.ts and command-provenance.ts, over the names in command-trust-lists.ts.

export interface Operand {
  node: PhpNode;
  /** A readable name for the operand: `$database`, `$server->ip`, `implode(...)`. */
  label: string;
  /** Escaped or otherwise made safe for a shell (P-SAFE). */
  safe: boolean;
  provenance: Provenance;
  /** Weak "escaping" applied to it: addslashes, escapeshellcmd, str_replace of double quotes. */
  weakEscape: string | null;
  /** Quote context of the operand in the final command. */
  quote: 'none' | 'single' | 'double';
  /** Line of the operand itself (it may come from an earlier assignment). */
  line: number;
  /** Offset of the operand's `${label}` in the flattened text. */
  offset: number;
  /** The function parameter this operand is (unescaped): its callers decide its origin. */
  param?: string;
  /** Why it is user-controlled, when that is not obvious from the label. */
  via?: string;
  /** A check it passed that still lets shell or path syntax through. */
  weak?: { strength: Strength; node: PhpNode };
}

export type Part = { text: string } | { operand: Omit<Operand, 'quote' | 'offset'> };

export interface FlatCommand {
  /** Literal text with each operand written as `${label}`. */
  text: string;
  operands: Operand[];
  node: PhpNode;
}

const SAME_VALUE_METHODS = new Set(['toarray', 'all', 'values', 'tostring', '__tostring', 'value']);

/** The separate commands an argument of a sink stands for (array items become commands). */
export function commandsOf(arg: PhpNode, scope: Scope, depth = 0): PhpNode[] {
  if (depth > 4) return [arg];
  if (arg.kind === 'array')
    return arrayValues(arg).flatMap((item) => commandsOf(item, scope, depth + 1));
  if (arg.kind === 'call' && calledFunction(arg) === 'collect' && args(arg)[0]) {
    return commandsOf(args(arg)[0] as PhpNode, scope, depth + 1);
  }
  if (arg.kind === 'variable' && typeof arg.name === 'string') {
    const defs = scope.defs.get(arg.name) ?? [];
    if (defs.some((def) => def.push || def.node.kind === 'array' || isCollect(def.node))) {
      return defs.flatMap((def) =>
        def.push ? [def.node] : commandsOf(def.node, scope, depth + 1),
      );
    }
  }
  return [arg];
}

function isCollect(node: PhpNode): boolean {
  return node.kind === 'call' && calledFunction(node) === 'collect';
}

export function flatten(node: PhpNode, scope: Scope): FlatCommand {
  const parts = flattenParts(node, scope, new Set(), 0);
  let text = '';
  const operands: Operand[] = [];
  let quote: Operand['quote'] = 'none';
  for (const part of parts) {
    if ('text' in part) {
      for (let i = 0; i < part.text.length; i++) {
        const char = part.text[i];
        if (char === '\\' && quote !== 'single') i++;
        else if (char === "'" && quote !== 'double') quote = quote === 'single' ? 'none' : 'single';
        else if (char === '"' && quote !== 'single') quote = quote === 'double' ? 'none' : 'double';
      }
      text += part.text;
    } else {
      operands.push({ ...part.operand, quote, offset: text.length });
      text += `\${${part.operand.label}}`;
    }
  }
  return { text, operands, node };
}

export function flattenParts(
  node: PhpNode,
  scope: Scope,
  seen: Set<string>,
  depth: number,
): Part[] {
  if (depth > 12) return [opaque(node, scope)];
  const text = literal(node);
  if (text !== null) return [{ text }];
  switch (node.kind) {
    case 'encapsed':
      return (node.value as PhpNode[]).flatMap((part) =>
        flattenParts(part.expression as PhpNode, scope, seen, depth + 1),
      );
    case 'bin':
      if (node.type === '.') {
        return [
          ...flattenParts(node.left as PhpNode, scope, seen, depth + 1),
          ...flattenParts(node.right as PhpNode, scope, seen, depth + 1),
        ];
      }
      return [opaque(node, scope)];
    case 'variable': {
      const name = typeof node.name === 'string' ? node.name : null;
      if (name === null || seen.has(name)) return [opaque(node, scope)];
      const captured = scope.parent && capturedFromParent(scope, name);
      if (captured && scope.parent) return flattenParts(node, scope.parent, seen, depth + 1);
      const defs = (scope.defs.get(name) ?? []).filter((def) => !def.push);
      const useLine = line(node);
      const before = defs.filter((def) => def.line <= useLine);
      const usable = before.length > 0 ? before : defs;
      const inner = new Set(seen).add(name);
      const parts = definitionParts(usable, node, scope, inner, depth);
      if (parts === null) return [opaque(node, scope)];
      if (scope.validated.has(name))
        return parts.map((p) =>
          'operand' in p ? { operand: { ...p.operand, provenance: 'trusted' } } : p,
        );
      return markWeak(parts, scope.weakChecks.get(name));
    }
    case 'call': {
      const fn = calledFunction(node);
      const first = args(node)[0];
      if (fn === 'sprintf' && first) {
        const format = literal(first);
        if (format !== null) return sprintfParts(format, args(node).slice(1), scope, seen, depth);
      }
      if ((fn === 'implode' || fn === 'join') && args(node).length === 2) {
        return implodeOperands(node, scope, seen, depth);
      }
      if ((fn === 'trim' || fn === 'strtolower' || fn === 'rtrim' || fn === 'ltrim') && first) {
        return flattenParts(first, scope, seen, depth + 1);
      }
      const built = builderParts(node, scope, seen, depth);
      if (built) return built;
      // `$commands->toArray()`, `$name->value()`: the same value in another shape.
      const method = methodCall(node);
      if (method && args(node).length === 0 && SAME_VALUE_METHODS.has(method[1])) {
        return flattenParts(method[0], scope, seen, depth + 1);
      }
      return summarisedCall(node, scope, seen, depth) ?? [opaque(node, scope)];
    }
    case 'retif': {
      // `$a ? $b : $c`: either branch may be the value (`$a ?: $c` returns `$a`).
      const yes = (node.trueExpr as PhpNode | null) ?? (node.test as PhpNode);
      return [
        ...flattenParts(yes, scope, seen, depth + 1),
        { text: ' ' },
        ...flattenParts(node.falseExpr as PhpNode, scope, seen, depth + 1),
      ];
    }
    case 'propertylookup':
    case 'nullsafepropertylookup': {
      const key = variableKey(node);
      // Checked by a strict validator in this body (or in a method of its class, such as the
      // constructor): trusted whatever it was assigned.
      if (key && (scope.validated.has(key) || classValidated(scope, key))) {
        return [{ operand: { ...opaque(node, scope).operand, provenance: 'trusted' } }];
      }
      const parts = propertyParts(node, scope, seen, depth) ?? [opaque(node, scope)];
      return markWeak(parts, key ? scope.weakChecks.get(key) : undefined);
    }
    default:
      return [opaque(node, scope)];
  }
}

type Def = Scope['defs'] extends Map<string, (infer D)[]> ? D : never;

/**
 * The value of a variable from its assignments before the use: the last `=` and the `.=` after
 * it. When that `=` is conditional (inside an `if` or a loop), the value before it may still
 * arrive: its operands (or the parameter itself) are added.
 */
function definitionParts(
  usable: readonly Def[],
  node: PhpNode,
  scope: Scope,
  inner: Set<string>,
  depth: number,
): Part[] | null {
  const lastAssign = usable.map((def) => def.operator).lastIndexOf('=');
  if (lastAssign < 0) return null;
  const chain = usable
    .slice(lastAssign)
    .filter((def) => def.operator === '=' || def.operator === '.=');
  const parts = chain.flatMap((def) => {
    const from = flattenParts(def.node, scope, inner, depth + 1);
    if (!def.loop) return from;
    // One element of what the loop iterates: named as the loop variable, with the
    // provenance of the collection.
    const provenance = from.reduce<Provenance>(
      (p, part) => ('operand' in part ? worst(p, part.operand.provenance) : p),
      'trusted',
    );
    return [{ operand: { ...opaque(node, scope).operand, provenance } }];
  });
  const last = usable[lastAssign];
  const at = node.loc ? position(node.loc.start) : -1;
  const sameBranch = last?.branch !== undefined && at >= last.branch.start && at <= last.branch.end;
  if (!last?.conditional || sameBranch) return parts;
  const earlier = definitionParts(usable.slice(0, lastAssign), node, scope, inner, depth);
  const prior = earlier ?? (scope.params.has(String(node.name)) ? [opaque(node, scope)] : []);
  return [...parts, ...prior.filter((p) => 'operand' in p)];
}

/** A variable a closure reads from its enclosing body: captured, and not its own. */
function capturedFromParent(scope: Scope, name: string): boolean {
  if (scope.params.has(name) || scope.defs.has(name) || name === 'this') return false;
  return scope.captured === 'all' || scope.captured?.has(name) === true;
}

export function markWeak(parts: Part[], weak: Operand['weak'] | undefined): Part[] {
  if (!weak) return parts;
  return parts.map((p) => ('operand' in p ? { operand: { ...p.operand, weak } } : p));
}
