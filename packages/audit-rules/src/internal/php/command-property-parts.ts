import { line, type PhpNode, thisProperty } from './ast.js';
import { flattenParts, type Operand, type Part } from './command.js';
import { labelOf } from './command-opaque.js';
import { type Provenance, worst } from './command-provenance.js';
import type { Scope } from './command-scope.js';
import type { PropertyDef } from './project-facts.js';

// The parts of `$this->prop`: a Livewire property the browser sets, or the values the class
// assigns to the property in its methods (a command built in one method and run in another).

/**
 * `$this->prop`: a Livewire property the browser sets is user input; otherwise the values the
 * class assigns to it in any of its methods (a command built in one method, run in another).
 */
export function propertyParts(
  node: PhpNode,
  scope: Scope,
  seen: Set<string>,
  depth: number,
): Part[] | null {
  const prop = thisProperty(node);
  const cls = scope.owner?.cls;
  if (prop === null || !cls || !scope.facts || scope.jobParams.has(prop)) return null;
  const base = { node, label: labelOf(node), weakEscape: null, line: line(node) };
  const user = scope.facts.userProperties.get(`${cls.fqn}.${prop}`);
  if (user) {
    const trusted = user.strength?.strict === true;
    const operand = {
      ...base,
      safe: false,
      provenance: trusted ? ('trusted' as const) : ('untrusted' as const),
      via: 'a public Livewire property the browser can set',
    };
    const weak = user.strength && !trusted ? { strength: user.strength, node } : undefined;
    return [{ operand: weak ? { ...operand, weak } : operand }];
  }
  const key = `this.${prop}`;
  const defs = scope.facts.propertyDefs.get(`${cls.fqn}.${prop}`) ?? [];
  if (defs.length === 0 || seen.has(key)) return null;
  // A property read in many places is flattened once (its defs do not depend on the reader).
  const cached = propertyCache.get(defs);
  if (cached) return cached;
  const parts = propertyDefParts(defs, node, seen, depth, key);
  propertyCache.set(defs, parts);
  return parts;
}

const propertyCache = new WeakMap<readonly PropertyDef[], Part[]>();

function propertyDefParts(
  defs: readonly PropertyDef[],
  node: PhpNode,
  seen: Set<string>,
  depth: number,
  key: string,
): Part[] {
  const base = { node, label: labelOf(node), weakEscape: null, line: line(node) };
  const inner = new Set(seen).add(key);
  const methods = new Set(defs.map((d) => d.info));
  if (methods.size === 1) {
    // One method builds it: follow its `=` / `.=` chain like a local variable.
    const last = defs.map((d) => d.operator).lastIndexOf('=');
    const chain = defs
      .slice(Math.max(0, last))
      .filter((d) => d.operator === '=' || d.operator === '.=');
    return chain.flatMap((d) => flattenParts(d.node, d.info.scope, inner, depth + 1));
  }
  // Several methods assign it: one operand, as safe and as trusted as the worst of them.
  const operands = defs
    .flatMap((d) => flattenParts(d.node, d.info.scope, inner, depth + 1))
    .filter((p): p is { operand: Omit<Operand, 'quote' | 'offset'> } => 'operand' in p)
    .map((p) => p.operand);
  const safe = operands.every((op) => op.safe);
  const provenance = operands.reduce<Provenance>((p, op) => worst(p, op.provenance), 'trusted');
  return [{ operand: { ...base, safe, provenance } }];
}
