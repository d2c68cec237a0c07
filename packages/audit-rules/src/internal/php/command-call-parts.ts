import { args, argumentFor, calledFunction, line, literal, type PhpNode } from './ast.js';
import { flattenParts, type Part } from './command.js';
import { mapParts } from './command-list-parts.js';
import { labelOf } from './command-opaque.js';
import type { Scope } from './command-scope.js';
import { strippingIsSafe } from './validator-strength.js';

// The parts of a value a call builds: string builders (str_replace, preg_replace, sprintf with
// a format that is not a literal), list reshaping that keeps the elements, sprintf with a
// literal format, and calls to project functions read through their summaries.

const REPLACERS = new Set(['str_replace', 'str_ireplace', 'preg_replace']);

/**
 * String builders keep the taint of what they are built from: `str_replace($search, $value,
 * $template)` returns the template's operands and the inserted value; `sprintf($format, …)`
 * with a format that is not a literal returns its arguments. Only the operands are kept (the
 * text after a replacement is not known). Escaping replacements are left to `opaque`.
 */
export function builderParts(
  node: PhpNode,
  scope: Scope,
  seen: Set<string>,
  depth: number,
): Part[] | null {
  const fn = calledFunction(node);
  const values = args(node).map((a) => (a.kind === 'namedargument' ? (a.value as PhpNode) : a));
  const operandsOf = (value: PhpNode | undefined) =>
    value ? flattenParts(value, scope, seen, depth + 1).filter((p) => 'operand' in p) : [];
  if (fn && REPLACERS.has(fn) && values.length >= 3) {
    const [search, replace, subject] = values as [PhpNode, PhpNode, PhpNode];
    if (literal(search) === "'" && literal(replace) === "'\\''") return null;
    if (
      fn === 'preg_replace' &&
      literal(replace) === '' &&
      strippingIsSafe(literal(search) ?? '')
    ) {
      return null;
    }
    const template = operandsOf(subject);
    if (template.length === 0 && literal(subject) === null) return null;
    // The template's own operands went through the replacement: a weak escape at best.
    const marked = template.map((p) =>
      'operand' in p ? { operand: { ...p.operand, weakEscape: fn } } : p,
    );
    return [...marked, ...operandsOf(replace)];
  }
  if ((fn === 'sprintf' || fn === 'vsprintf') && values[0] && literal(values[0]) === null) {
    return values.flatMap((value) => operandsOf(value));
  }
  // List reshaping keeps the elements: `iterator_to_array($commands)`, `array_map($fn, $commands)`.
  const kept = fn ? LIST_PASS_THROUGH[fn] : undefined;
  if (kept !== undefined && values.length > 0) {
    if (fn === 'array_map') return mapParts(node, scope, seen, depth);
    const from = values.slice(kept === 'all' ? 0 : kept, kept === 'all' ? undefined : kept + 1);
    return from.flatMap((value) => operandsOf(value));
  }
  return null;
}

/** Argument positions whose elements a list function returns (`all`: every argument). */
const LIST_PASS_THROUGH: Record<string, number | 'all'> = {
  iterator_to_array: 0,
  array_values: 0,
  array_filter: 0,
  array_unique: 0,
  array_reverse: 0,
  array_slice: 0,
  array_map: 1,
  array_merge: 'all',
};

/**
 * A call to a project function or method, read through its summary: an escaper gives a safe
 * value; a builder passes on the provenance of the arguments it returns unescaped.
 */
export function summarisedCall(
  node: PhpNode,
  scope: Scope,
  seen: Set<string>,
  depth: number,
): Part[] | null {
  const key = scope.facts?.resolve(node, scope);
  const summary = key ? scope.facts?.summaries.get(key) : undefined;
  if (!summary) return null;
  const base = { node, label: labelOf(node), weakEscape: null, line: line(node) };
  if (summary.returnSafe) return [{ operand: { ...base, safe: true, provenance: 'trusted' } }];
  const parts: Part[] = summary.returnParams.flatMap((at) => {
    const value = argumentFor(node, at, summary.paramNames[at]);
    if (!value) return [];
    return flattenParts(value, scope, seen, depth + 1).filter((p) => 'operand' in p);
  });
  if (summary.returnProvenance !== 'trusted' || parts.length === 0) {
    parts.push({ operand: { ...base, safe: false, provenance: summary.returnProvenance } });
  }
  return parts;
}

export function sprintfParts(
  format: string,
  values: PhpNode[],
  scope: Scope,
  seen: Set<string>,
  depth: number,
): Part[] {
  const parts: Part[] = [];
  let index = 0;
  for (const piece of format.split(/(%%|%[-+ 0'#]*\d*(?:\.\d+)?[bcdeEfFgGosuxX])/)) {
    if (piece === '%%') parts.push({ text: '%' });
    else if (/^%/.test(piece)) {
      const value = values[index++];
      if (/[dufFeEgGxXob]$/.test(piece)) parts.push({ text: '0' });
      else if (value) parts.push(...flattenParts(value, scope, seen, depth + 1));
    } else if (piece) parts.push({ text: piece });
  }
  return parts;
}
