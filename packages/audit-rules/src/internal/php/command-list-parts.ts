import { args, calledFunction, findAll, line, nameOf, type PhpNode } from './ast.js';
import { flattenParts, type Operand, type Part } from './command.js';
import { opaque } from './command-opaque.js';
import type { Scope } from './command-scope.js';

// The operands of lists that become one command: implode/join of an array, array_map with a
// callback, and the elements of array literals, pushes and array_keys. A list's text is not
// known, so only its operands are kept.

export function arrayValues(node: PhpNode): PhpNode[] {
  return ((node.items as PhpNode[]) ?? []).map((item) =>
    item.kind === 'entry' ? (item.value as PhpNode) : item,
  );
}

export function implodeOperands(
  node: PhpNode,
  scope: Scope,
  seen: Set<string>,
  depth: number,
): Part[] {
  const [, list] = args(node) as [PhpNode, PhpNode];
  const base = { node, label: 'implode(…)', weakEscape: null, line: line(node) };
  let operands: Omit<Operand, 'quote' | 'offset'>[] | null = null;
  if (list.kind === 'array') operands = elementOperands(list, scope, seen, depth);
  else if (list.kind === 'call' && calledFunction(list) === 'array_map') {
    operands = operandsOnly(mapParts(list, scope, seen, depth));
  }
  if (operands === null && list.kind === 'variable') {
    // `implode("\n", $commands)`: the list stands for its elements (a parameter stays one,
    // and a list that is either the parameter or a rewrite of it keeps both).
    const from = flattenParts(list, scope, seen, depth + 1).flatMap((p) =>
      'operand' in p ? [{ operand: { ...p.operand, label: base.label } }] : [],
    );
    if (from.length > 0) return from;
  }
  if (operands === null) return [{ operand: { ...base, safe: false, provenance: 'unknown' } }];
  const unsafe = operands.filter((op) => !op.safe && op.provenance !== 'trusted');
  if (unsafe.length === 0) return [{ operand: { ...base, safe: true, provenance: 'trusted' } }];
  const provenance = unsafe.some((op) => op.provenance === 'untrusted') ? 'untrusted' : 'unknown';
  return [{ operand: { ...base, safe: false, provenance } }];
}

type PlainOperand = Omit<Operand, 'quote' | 'offset'>;

function operandsOnly(parts: readonly Part[]): PlainOperand[] {
  return parts.flatMap((p) => ('operand' in p ? [p.operand] : []));
}

/**
 * `array_map(fn ($key, $value) => "$key=$value", array_keys($env), $env)`: the callback's
 * result, with each of its parameters standing for the elements of the matching list.
 */
export function mapParts(call: PhpNode, scope: Scope, seen: Set<string>, depth: number): Part[] {
  const [fn, ...lists] = args(call);
  const body =
    fn?.kind === 'arrowfunc' ? (fn.body as PhpNode) : fn?.kind === 'closure' ? returnOf(fn) : null;
  if (!fn || !body) {
    return lists.flatMap((list) =>
      elementOperands(list, scope, seen, depth).map((operand) => ({ operand })),
    );
  }
  const params = ((fn.arguments as PhpNode[]) ?? []).map((p) => nameOf(p.name) ?? '');
  return flattenParts(body, scope, seen, depth + 1).flatMap((part): Part[] => {
    if (!('operand' in part) || part.operand.node.kind !== 'variable') return [part];
    const at = params.indexOf(String(part.operand.node.name));
    if (at < 0) return [part];
    const list = lists[at];
    return list ? elementOperands(list, scope, seen, depth).map((operand) => ({ operand })) : [];
  });
}

/** The operands of a list's elements: array literals, pushes, `array_keys` of a literal. */
function elementOperands(
  list: PhpNode,
  scope: Scope,
  seen: Set<string>,
  depth: number,
): PlainOperand[] {
  if (depth > 12) return [opaque(list, scope).operand];
  if (list.kind === 'array') {
    return arrayValues(list).flatMap((value) =>
      value.kind === 'array'
        ? elementOperands(value, scope, seen, depth + 1)
        : operandsOnly(flattenParts(value, scope, seen, depth + 1)),
    );
  }
  if (
    list.kind === 'call' &&
    calledFunction(list) === 'array_keys' &&
    args(list)[0]?.kind === 'array'
  ) {
    const keys = ((args(list)[0]?.items as PhpNode[]) ?? []).map((item) =>
      item.kind === 'entry' ? (item.key as PhpNode | null) : null,
    );
    return keys.flatMap((key) =>
      key ? operandsOnly(flattenParts(key, scope, seen, depth + 1)) : [],
    );
  }
  if (list.kind === 'call' && calledFunction(list) === 'array_keys' && args(list)[0]) {
    return elementOperands(args(list)[0] as PhpNode, scope, seen, depth + 1);
  }
  const name = list.kind === 'variable' && typeof list.name === 'string' ? list.name : null;
  const defs = name && !seen.has(name) ? (scope.defs.get(name) ?? []) : [];
  if (name && defs.some((def) => def.push || def.node.kind === 'array')) {
    const inner = new Set(seen).add(name);
    return defs.flatMap((def) =>
      def.push || def.node.kind !== 'array'
        ? operandsOnly(flattenParts(def.node, scope, inner, depth + 1))
        : elementOperands(def.node, scope, inner, depth + 1),
    );
  }
  return operandsOnly(flattenParts(list, scope, seen, depth + 1));
}

function returnOf(fn: PhpNode): PhpNode | null {
  const ret = findAll(fn.body as PhpNode, 'return')[0];
  return (ret?.expr as PhpNode | undefined) ?? null;
}
