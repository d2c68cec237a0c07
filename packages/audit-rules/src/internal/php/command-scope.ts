import type { ResolvedOptions } from '../types.js';
import {
  args,
  calledFunction,
  line,
  literal,
  methodCall,
  nameOf,
  type PhpNode,
  staticCall,
  walk,
} from './ast.js';
import type { PhpClass, PhpFile } from './index-project.js';
import type { ProjectFacts } from './project-facts.js';
import type { Strength } from './validator-strength.js';
import { regexStrength } from './validator-strength.js';

// What one function-like body knows about its own variables before any command is read: its
// assignments in source order (which of them are conditional, and in which branch), the
// variables a validator or a weak check has seen, and the context a value's origin depends on.
// The command analysis (command.ts) reads values through it; it never reads commands itself.

/** The function-like body a command lives in, with its assignments in source order. */
export interface Scope {
  body: PhpNode;
  /** Parameters of the function (their values come from callers). */
  params: Set<string>;
  /** `$name` -> assignments (`=`, `.=`, `[] =`), in source order. */
  /** Assignments per variable; `loop`: the variable is one element of `node` (foreach). */
  defs: Map<
    string,
    {
      node: PhpNode;
      operator: string;
      push: boolean;
      line: number;
      loop?: boolean;
      /** Inside an `if`, `switch` or loop: the value before it may still arrive. */
      conditional?: boolean;
      /** The branch it is in (source offsets): a use inside the same branch sees only it. */
      branch?: { start: number; end: number };
    }[]
  >;
  /** Variables passed to a validator (`validateShellSafePath($x)`, `preg_match(..., $x)`). */
  validated: Set<string>;
  /** Properties of `$this` that are constructor parameters of a queued job: untrusted input. */
  jobParams: ReadonlySet<string>;
  options: ResolvedOptions;
  /** Parameters a browser sets directly (public methods of a Livewire component). */
  userParams: Set<string>;
  /** Parameters declared `int`, `float` or `bool`: PHP converts or refuses anything else. */
  numericParams: Set<string>;
  /** Variables gated by a check that still lets shell or path syntax through. */
  weakChecks: Map<string, { node: PhpNode; strength: Strength }>;
  /** Where the body is declared, for resolving `$this`, `self::` and project calls. */
  owner?: { file: PhpFile; cls: PhpClass | null };
  /** Project-wide facts (summaries, properties), set once every scope exists. */
  facts?: ProjectFacts;
  /** A closure's enclosing body, where its captured variables are defined. */
  parent?: Scope;
  /** Variables a closure captures (`use (...)`), or `all` for an arrow function. */
  captured?: ReadonlySet<string> | 'all';
}

const CONDITIONAL_KINDS = new Set(['if', 'switch', 'while', 'do', 'for', 'foreach', 'retif']);

export function buildScope(
  body: PhpNode,
  params: readonly PhpNode[],
  jobParams: ReadonlySet<string>,
  options: ResolvedOptions,
): Scope {
  const defs: Scope['defs'] = new Map();
  const validated = new Set<string>();
  const weakChecks: Scope['weakChecks'] = new Map();
  const validators = new Set(options.validators.map((v) => v.toLowerCase()));
  walk(body, (node, ancestors) => {
    if (node !== body && ['closure', 'function', 'class'].includes(node.kind)) return false;
    if (node.kind === 'assign') {
      const left = node.left as PhpNode;
      const push = left.kind === 'offsetlookup' && (left.offset === false || left.offset === null);
      const target = push ? (left.what as PhpNode) : left;
      if (target.kind === 'variable' && typeof target.name === 'string') {
        const list = defs.get(target.name) ?? [];
        list.push({
          node: node.right as PhpNode,
          operator: String(node.operator),
          push,
          line: line(node),
          ...conditionalBranch(ancestors, node),
        });
        defs.set(target.name, list);
      }
    }
    // `foreach (['nginx', 'redis'] as $image)`: every value is a literal of the code itself;
    // otherwise the loop variable comes from what it iterates (request input stays untrusted).
    if (node.kind === 'foreach') {
      const value = node.value as PhpNode | null;
      const source = node.source as PhpNode;
      if (value?.kind === 'variable' && typeof value.name === 'string') {
        if (isLiteralList(source)) validated.add(value.name);
        else {
          const list = defs.get(value.name) ?? [];
          list.push({ node: source, operator: '=', push: false, line: line(node), loop: true });
          defs.set(value.name, list);
        }
      }
    }
    if (node.kind === 'call') {
      const fn = calledFunction(node) ?? staticCall(node)?.[1] ?? methodCall(node)?.[1];
      const pattern = fn === 'preg_match' ? literal(args(node)[0]) : null;
      const strength = pattern === null ? null : regexStrength(pattern);
      if (strength && !strength.strict) {
        // A regex that admits spaces, quotes or `..` is a check, not a sanitiser.
        const name = variableKey(args(node)[1] as PhpNode);
        if (name) weakChecks.set(name, { node, strength });
      } else if (
        fn &&
        (validators.has(fn) || fn === 'preg_match' || fn === 'filter_var' || fn === 'in_array')
      ) {
        for (const arg of args(node)) {
          const name = variableKey(arg);
          if (name) validated.add(name);
        }
      }
    }
    return true;
  });
  return {
    body,
    params: new Set(params.map((p) => nameOf(p.name) ?? '')),
    defs,
    validated,
    jobParams,
    options,
    userParams: new Set(),
    numericParams: new Set(),
    weakChecks,
  };
}

/** `$x` -> `x`, `$this->x` -> `this.x`, `$o->x` -> `o.x`; else null. */
export function variableKey(node: PhpNode | undefined): string | null {
  if (!node) return null;
  if (node.kind === 'variable' && typeof node.name === 'string') return node.name;
  if (node.kind === 'propertylookup') {
    const base = variableKey(node.what as PhpNode);
    const prop = nameOf(node.offset);
    return base && prop ? `${base}.${prop}` : null;
  }
  return null;
}

/** A source position as one comparable number (line-major). */
export function position(at: { line: number; column: number }): number {
  return at.line * 100_000 + at.column;
}

/** Whether an assignment is conditional, and the branch (the `if` body, the loop body) it is in. */
function conditionalBranch(
  ancestors: readonly PhpNode[],
  node: PhpNode,
): { conditional?: boolean; branch?: { start: number; end: number } } {
  let at = -1;
  ancestors.forEach((a, i) => {
    if (CONDITIONAL_KINDS.has(a.kind)) at = i;
  });
  if (at < 0) return {};
  const loc = (ancestors[at + 1] ?? node).loc;
  return loc
    ? { conditional: true, branch: { start: position(loc.start), end: position(loc.end) } }
    : { conditional: true };
}

function isLiteralList(node: PhpNode | null): boolean {
  if (node?.kind !== 'array') return false;
  return ((node.items as (PhpNode | null)[]) ?? []).every((item) => {
    const value = item?.kind === 'entry' ? (item.value as PhpNode) : item;
    return value !== null && literal(value) !== null;
  });
}
