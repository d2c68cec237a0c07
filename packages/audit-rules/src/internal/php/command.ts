import type { ResolvedOptions } from '../types.js';
import {
  args,
  argumentFor,
  calledFunction,
  findAll,
  line,
  literal,
  methodCall,
  nameOf,
  type PhpNode,
  staticCall,
  thisProperty,
  walk,
} from './ast.js';
import type { PhpClass, PhpFile } from './index-project.js';
import type { ProjectFacts, PropertyDef } from './project-facts.js';
import type { Strength } from './validator-strength.js';
import { regexStrength, strippingIsSafe } from './validator-strength.js';

// Turns the argument of a shell sink into literal text and operands, following variables
// assigned earlier in the same function (intra-procedural def-use), and scores each operand:
// P-SAFE (escaped, cast, base64 in single quotes, validated) and P-PROV (untrusted, unknown,
// trusted).

export type Provenance = 'untrusted' | 'unknown' | 'trusted';

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

const SAME_VALUE_METHODS = new Set(['toarray', 'all', 'values', 'tostring', '__tostring', 'value']);
const CONDITIONAL_KINDS = new Set(['if', 'switch', 'while', 'do', 'for', 'foreach', 'retif']);
const TRUSTED_NAME = /([Uu]uid|_id|Id|_ids|Ids|^id|[Dd]elimiter|_count|Count)$/;
const TRUSTED_CALLS = new Set([
  'md5',
  'sha1',
  'hash',
  'crc32',
  'uniqid',
  'random_bytes',
  'bin2hex',
  'random_int',
  'time',
  'config',
  'storage_path',
  'base_path',
  'now',
  'count',
  'strlen',
  'basename',
]);
const TRUSTED_STATIC = /^(Str::(uuid|random|ulid|orderedUuid)|Hash::make|Carbon::now|Uuid::.*)$/i;
const GENERATED_ID = /(^|\\)(Cuid2?|Ulid|Uuid\w*|ObjectId)$/i;
const CONVERSIONS = new Set([
  'tostring',
  '__tostring',
  'tobase32',
  'tobase58',
  'torfc4122',
  'tohex',
]);
const CAST_SAFE = new Set(['int', 'float', 'bool', 'boolean', 'integer', 'double']);
const SAFE_CALLS = new Set(['intval', 'floatval', 'boolval', 'escapeshellarg', 'base64_encode']);
const UNTRUSTED_ROOTS = new Set([
  'request',
  '_get',
  '_post',
  '_request',
  '_cookie',
  '_files',
  '_server',
]);

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

function arrayValues(node: PhpNode): PhpNode[] {
  return ((node.items as PhpNode[]) ?? []).map((item) =>
    item.kind === 'entry' ? (item.value as PhpNode) : item,
  );
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

function flattenParts(node: PhpNode, scope: Scope, seen: Set<string>, depth: number): Part[] {
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

const REPLACERS = new Set(['str_replace', 'str_ireplace', 'preg_replace']);

/**
 * String builders keep the taint of what they are built from: `str_replace($search, $value,
 * $template)` returns the template's operands and the inserted value; `sprintf($format, …)`
 * with a format that is not a literal returns its arguments. Only the operands are kept (the
 * text after a replacement is not known). Escaping replacements are left to `opaque`.
 */
function builderParts(
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
function summarisedCall(
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

/**
 * `$this->prop`: a Livewire property the browser sets is user input; otherwise the values the
 * class assigns to it in any of its methods (a command built in one method, run in another).
 */
function propertyParts(
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

function sprintfParts(
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

function implodeOperands(node: PhpNode, scope: Scope, seen: Set<string>, depth: number): Part[] {
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
function mapParts(call: PhpNode, scope: Scope, seen: Set<string>, depth: number): Part[] {
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

/** A value the command text cannot show: decide whether it is safe and where it comes from. */
function opaque(node: PhpNode, scope: Scope): { operand: Omit<Operand, 'quote' | 'offset'> } {
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

/** A source position as one comparable number (line-major). */
function position(at: { line: number; column: number }): number {
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

/** A variable a closure reads from its enclosing body: captured, and not its own. */
function capturedFromParent(scope: Scope, name: string): boolean {
  if (scope.params.has(name) || scope.defs.has(name) || name === 'this') return false;
  return scope.captured === 'all' || scope.captured?.has(name) === true;
}

function isLiteralList(node: PhpNode | null): boolean {
  if (node?.kind !== 'array') return false;
  return ((node.items as (PhpNode | null)[]) ?? []).every((item) => {
    const value = item?.kind === 'entry' ? (item.value as PhpNode) : item;
    return value !== null && literal(value) !== null;
  });
}

function worst(a: Provenance, b: Provenance): Provenance {
  if (a === 'untrusted' || b === 'untrusted') return 'untrusted';
  if (a === 'unknown' || b === 'unknown') return 'unknown';
  return 'trusted';
}

function isRequestObject(node: PhpNode): boolean {
  const name = nameOf(node);
  if (name && UNTRUSTED_ROOTS.has(name.toLowerCase())) return true;
  if (node.kind === 'call' && calledFunction(node) === 'request') return true;
  return thisProperty(node) === 'request';
}

function classValidated(scope: Scope, key: string): boolean {
  const cls = scope.owner?.cls;
  return cls ? scope.facts?.classValidated.get(cls.fqn)?.has(key) === true : false;
}

/** P-PROV for a value: where it comes from. */
export function provenanceOf(node: PhpNode, scope: Scope): Provenance {
  const key = variableKey(node);
  if (key && (scope.validated.has(key) || classValidated(scope, key))) return 'trusted';
  const lastName = key?.split('.').at(-1) ?? nameOf(node) ?? '';
  if (lastName && TRUSTED_NAME.test(lastName)) return 'trusted';
  if (node.kind === 'variable') {
    const name = String(node.name);
    if (UNTRUSTED_ROOTS.has(name.toLowerCase())) return 'untrusted';
    return 'unknown';
  }
  if (node.kind === 'offsetlookup') {
    const base = node.what as PhpNode;
    return isRequestObject(base) ? 'untrusted' : provenanceOf(base, scope);
  }
  if (node.kind === 'propertylookup' || node.kind === 'nullsafepropertylookup') {
    const prop = nameOf(node.offset) ?? '';
    if (scope.options.validatedAttributes.includes(prop)) return 'trusted';
    if (scope.facts?.numericAttributes.has(prop)) return 'trusted';
    const owner = node.what as PhpNode;
    if (isRequestObject(owner)) return 'untrusted';
    const own = thisProperty(node);
    if (own !== null) {
      if (scope.jobParams.has(own)) {
        // Every dispatch site passes a value the code made itself: the job's data is trusted.
        const passed = scope.owner?.cls
          ? scope.facts?.jobArguments.get(`${scope.owner.cls.fqn}.${own}`)
          : undefined;
        return passed?.every((p) => p === 'trusted') ? 'trusted' : 'untrusted';
      }
      // Inside a model, `$this->git_commit_sha` is a column users edit, like `$app->git_commit_sha`.
      const cls = scope.owner?.cls;
      const model = cls && scope.facts?.index.isModel(cls.fqn);
      if (model && !cls.properties.some((p) => p.name === own)) {
        return sanitisedBy(node.what as PhpNode, own, scope, cls.shortName)
          ? 'trusted'
          : 'untrusted';
      }
      return 'unknown';
    }
    if (sanitisedBy(owner, prop, scope)) return 'trusted';
    // `Carbon::now()->timestamp`, `$this->getName()->value`: what a call returns, not a model.
    if (owner.kind === 'call') {
      const stat = staticCall(owner);
      return stat && TRUSTED_STATIC.test(`${stat[0].split('\\').at(-1)}::${stat[1]}`)
        ? 'trusted'
        : 'unknown';
    }
    // A model attribute ($server->ip, $storage->name): user-editable unless declared validated.
    return 'untrusted';
  }
  return 'unknown';
}

function labelOf(node: PhpNode): string {
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

/** `$server->ip` where a model's accessor for `ip` strips unsafe characters. */
function sanitisedBy(owner: PhpNode, attribute: string, scope: Scope, model?: string): boolean {
  const models = scope.facts?.sanitisedAttributes.get(attribute);
  if (!models) return false;
  const name = (model ?? thisProperty(owner) ?? nameOf(owner) ?? '').toLowerCase();
  // The receiver is named after the model (`$server`, `$this->server`), or one model has it.
  return models.has(name) || models.size === 1;
}

function markWeak(parts: Part[], weak: Operand['weak'] | undefined): Part[] {
  if (!weak) return parts;
  return parts.map((p) => ('operand' in p ? { operand: { ...p.operand, weak } } : p));
}

/** The parameter a value is, when it is one of the function's own parameters (unassigned). */
function paramName(node: PhpNode | undefined, scope: Scope): string | undefined {
  if (node?.kind !== 'variable' || typeof node.name !== 'string') return undefined;
  return scope.params.has(node.name) && !scope.defs.has(node.name) ? node.name : undefined;
}
