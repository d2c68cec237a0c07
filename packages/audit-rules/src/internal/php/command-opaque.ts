import {
  args,
  calledFunction,
  line,
  literal,
  methodCall,
  nameOf,
  type PhpNode,
  staticCall,
} from './ast.js';
import type { Operand } from './command.js';
import { isRequestObject, provenanceOf, worst } from './command-provenance.js';
import { type Scope, variableKey } from './command-scope.js';
import {
  CAST_SAFE,
  CONVERSIONS,
  GENERATED_ID,
  SAFE_CALLS,
  TRUSTED_CALLS,
  TRUSTED_STATIC,
} from './command-trust-lists.js';

// One operand whose text the command cannot show (a parameter, a call, a cast, a property): is
// it escaped (P-SAFE), where does it come from (P-PROV), and the readable label a report names
// it by. Every path of the flattening ends here when it can follow a value no further.

/** A value the command text cannot show: decide whether it is safe and where it comes from. */
export function opaque(
  node: PhpNode,
  scope: Scope,
): { operand: Omit<Operand, 'quote' | 'offset'> } {
  const label = labelOf(node);
  const base = { node, label, weakEscape: null as string | null, line: line(node) };
  if (node.kind === 'variable' && typeof node.name === 'string') {
    if (scope.userParams.has(node.name)) {
      const via = 'a parameter of a public Livewire method (the browser calls it)';
      return { operand: { ...base, safe: false, provenance: 'untrusted', via } };
    }
    if (scope.numericParams.has(node.name) && scope.params.has(node.name)) {
      return { operand: { ...base, safe: true, provenance: 'trusted' } };
    }
    if (scope.params.has(node.name) && !scope.validated.has(node.name)) {
      const provenance = provenanceOf(node, scope);
      const weak = scope.weakChecks.get(node.name);
      const operand = { ...base, safe: false, provenance, param: node.name };
      return { operand: weak ? { ...operand, weak } : operand };
    }
  }
  if (node.kind === 'cast' && CAST_SAFE.has(String(node.type))) {
    return { operand: { ...base, safe: true, provenance: 'trusted' } };
  }
  if (node.kind === 'call') {
    const fn = calledFunction(node);
    const stat = staticCall(node);
    const method = methodCall(node);
    const escapers = scope.options.escapers.map((e) => e.toLowerCase());
    const callee = fn ?? stat?.[1] ?? method?.[1] ?? '';
    if ((fn && SAFE_CALLS.has(fn)) || escapers.includes(callee)) {
      // Escaping keeps what a weak check let through that matters after it: `..`, a leading -.
      const checked = variableKey(args(node)[0]);
      const weak = checked ? scope.weakChecks.get(checked) : undefined;
      const param = paramName(args(node)[0], scope);
      const operand = { ...base, safe: true, provenance: 'trusted' as const };
      return { operand: { ...operand, ...(weak ? { weak } : {}), ...(param ? { param } : {}) } };
    }
    if (fn && TRUSTED_CALLS.has(fn))
      return { operand: { ...base, safe: false, provenance: 'trusted' } };
    if (stat && TRUSTED_STATIC.test(`${stat[0].split('\\').at(-1)}::${stat[1]}`)) {
      return { operand: { ...base, safe: false, provenance: 'trusted' } };
    }
    const inner = args(node)[0];
    if (fn === 'str_replace' && args(node).length >= 3) {
      const search = literal(args(node)[0]);
      const replace = literal(args(node)[1]);
      const subject = args(node)[2] as PhpNode;
      const innerProv = provenanceOf(subject, scope);
      if (search === "'" && replace === "'\\''") {
        const param = paramName(subject, scope);
        const operand = { ...base, safe: true, provenance: innerProv };
        return { operand: param ? { ...operand, param } : operand };
      }
      return {
        operand: { ...base, safe: false, provenance: innerProv, weakEscape: 'str_replace' },
      };
    }
    if ((fn === 'addslashes' || fn === 'escapeshellcmd') && inner) {
      return {
        operand: { ...base, safe: false, provenance: provenanceOf(inner, scope), weakEscape: fn },
      };
    }
    if (fn === 'request' || (method && isRequestObject(method[0]))) {
      return { operand: { ...base, safe: false, provenance: 'untrusted' } };
    }
    // `Str::uuid()->toString()`: a conversion keeps the provenance of what it converts.
    if (method && CONVERSIONS.has(method[1].toLowerCase())) {
      const receiver = opaque(method[0], scope).operand;
      return { operand: { ...base, safe: false, provenance: receiver.provenance } };
    }
    return { operand: { ...base, safe: false, provenance: 'unknown' } };
  }
  // Identifiers the code generates itself (`new Cuid2()`, `new Ulid()`): never user input.
  if (node.kind === 'new' && GENERATED_ID.test(nameOf(node.what) ?? '')) {
    return { operand: { ...base, safe: false, provenance: 'trusted' } };
  }
  if (node.kind === 'cast') {
    const inner = opaque(node.expr as PhpNode, scope).operand;
    return { operand: { ...base, safe: false, provenance: inner.provenance } };
  }
  if (node.kind === 'number' || node.kind === 'boolean' || node.kind === 'nullkeyword') {
    return { operand: { ...base, safe: true, provenance: 'trusted' } };
  }
  // `PHP_EOL`, `DIRECTORY_SEPARATOR`: php-parser reads a bare constant as a `name`.
  if (['constref', 'staticlookup', 'magic', 'name'].includes(node.kind)) {
    return { operand: { ...base, safe: false, provenance: 'trusted' } };
  }
  if (node.kind === 'bin' && node.type === '??') {
    // `$commit ?? $this->git_commit_sha`: either side may be the value.
    const a = opaque(node.left as PhpNode, scope).operand;
    const b = opaque(node.right as PhpNode, scope).operand;
    // Not a plain parameter any more: the right side carries its own origin to the callers.
    return {
      operand: { ...base, safe: a.safe && b.safe, provenance: worst(a.provenance, b.provenance) },
    };
  }
  if (node.kind === 'retif') {
    const a = opaque((node.trueExpr as PhpNode) ?? (node.test as PhpNode), scope).operand;
    const b = opaque(node.falseExpr as PhpNode, scope).operand;
    const safe = a.safe && b.safe;
    const provenance = worst(a.provenance, b.provenance);
    return { operand: { ...base, safe, provenance } };
  }
  return { operand: { ...base, safe: false, provenance: provenanceOf(node, scope) } };
}

export function labelOf(node: PhpNode): string {
  if (node.kind === 'variable') return `$${String(node.name)}`;
  if (node.kind === 'propertylookup' || node.kind === 'nullsafepropertylookup') {
    const base = labelOf(node.what as PhpNode);
    return `${base}->${nameOf(node.offset) ?? '?'}`;
  }
  if (node.kind === 'offsetlookup') return `${labelOf(node.what as PhpNode)}[…]`;
  if (node.kind === 'call') {
    const fn = calledFunction(node);
    const stat = staticCall(node);
    const method = methodCall(node);
    const inner = args(node)[0];
    const innerLabel = inner ? labelOf(inner) : '';
    if (fn) return `${fn}(${innerLabel})`;
    if (stat) return `${stat[0].split('\\').at(-1)}::${stat[1]}(…)`;
    if (method) return `${labelOf(method[0])}->${method[1]}(…)`;
  }
  if (node.kind === 'cast') return `(${String(node.type)})${labelOf(node.expr as PhpNode)}`;
  if (node.kind === 'namedargument')
    return `${String(node.name)}: ${labelOf(node.value as PhpNode)}`;
  return PLAIN_LABELS[node.kind] ?? 'an expression';
}

/** Words for a report: the parser's node names ("encapsed", "retif") mean nothing to a reader. */
const PLAIN_LABELS: Record<string, string> = {
  encapsed: 'an interpolated string',
  retif: 'a conditional (?:) value',
  bin: 'a computed value',
  array: 'an array',
  match: 'a match expression',
  new: 'a new object',
  staticlookup: 'a class constant',
  constref: 'a constant',
  closure: 'a closure',
  arrowfunc: 'an arrow function',
  call: 'a call',
  nullsafepropertylookup: 'a property',
  assign: 'an assignment',
  unary: 'a computed value',
  boolean: 'a boolean',
  number: 'a number',
  nowdoc: 'a nowdoc string',
  string: 'a string',
};

/** The parameter a value is, when it is one of the function's own parameters (unassigned). */
function paramName(node: PhpNode | undefined, scope: Scope): string | undefined {
  if (node?.kind !== 'variable' || typeof node.name !== 'string') return undefined;
  return scope.params.has(node.name) && !scope.defs.has(node.name) ? node.name : undefined;
}
