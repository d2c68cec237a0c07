import {
  args,
  calledFunction,
  findAll,
  literal,
  methodCall,
  nameOf,
  type PhpNode,
  staticCall,
  thisProperty,
  walk,
} from './ast.js';
import { flatten } from './command.js';
import type { Provenance } from './command-provenance.js';
import { type Scope, variableKey } from './command-scope.js';
import type { PhpClass, PhpIndex } from './index-project.js';
import { isRedactorBody } from './redactors.js';
import { ownNodesOf, type ScopeInfo, type SinkCall, sinksIn } from './scopes.js';
import {
  blocklistStrength,
  regexStrength,
  type Strength,
  strippingIsSafe,
} from './validator-strength.js';

// Facts across the whole project, computed once per audit: what each function and method does
// with its arguments (summaries), what each property of `$this` is assigned anywhere in its
// class, which properties a browser controls (Livewire), which model attributes an accessor
// sanitises, and which project functions are validators. Rules never read these directly; the
// command flattening consults them when it meets a call (command-call-parts.ts), a property
// (command-property-parts.ts) or a value whose origin it judges (command-provenance.ts).

export interface FunctionSummary {
  /** Every return value is escaped or constant: a call to it is shell-safe (an escaper). */
  returnSafe: boolean;
  /** Parameters (by position) that reach the return value unescaped. */
  returnParams: number[];
  /** Where the rest of the return value comes from. */
  returnProvenance: Provenance;
  /** Parameters (by position) that reach a shell sink unescaped, with that sink. */
  executes: Map<number, string>;
  /** Parameter names by position, for calls with named arguments (`command: [...]`). */
  paramNames: string[];
}

export interface PropertyDef {
  node: PhpNode;
  operator: string;
  info: ScopeInfo;
}

export interface ProjectFacts {
  index: PhpIndex;
  summaries: Map<string, FunctionSummary>;
  /** Functions and methods called somewhere in the project (their callers carry the taint). */
  called: Set<string>;
  /** `Fqn.prop` -> every assignment to `$this->prop` in the class's methods. */
  propertyDefs: Map<string, PropertyDef[]>;
  /** `Fqn.prop` -> a Livewire property the browser can set, with how it is validated. */
  userProperties: Map<string, { strength: Strength | null }>;
  /** Model attribute -> model short names (lower case) whose accessor strips unsafe characters. */
  sanitisedAttributes: Map<string, Set<string>>;
  /**
   * `Job fqn.param` -> the origin of each value dispatch sites pass for that constructor
   * parameter (`X::dispatch(...)`, `dispatch(new X(...))`, `Bus::dispatch(new X(...))`).
   */
  jobArguments: Map<string, Provenance[]>;
  /** Project functions recognised as validators, with what they let through. */
  validators: Map<string, Map<number, Strength>>;
  /** Project functions and methods recognised as redactors from their bodies (redactors.ts). */
  redactors: Set<string>;
  /**
   * Model attributes whose every migration column is numeric or boolean (`$table->integer('port')`):
   * the database cannot hold shell syntax in them.
   */
  numericAttributes: Set<string>;
  /**
   * `Fqn` -> property paths (`this.application.base_directory`) a strict validator checks in
   * one of the class's methods (a job's constructor refusing a bad path): trusted in all of them.
   */
  classValidated: Map<string, Set<string>>;
  resolve(call: PhpNode, scope: Scope): string | null;
}

const MAX_ROUNDS = 4;
const LIVEWIRE = 'Livewire\\Component';
/** Laravel validation rules that leave no room for shell or path syntax. */
const STRICT_RULES =
  /^(integer|numeric|boolean|bool|uuid|ulid|ip|ipv4|ipv6|alpha_num|alpha_dash|alpha|digits(_between)?(:.*)?|in:.*|exists:.*|email|date|mac_address)$/;

export function keyOf(info: ScopeInfo): string | null {
  if (!info.method) return null;
  return info.cls ? `${info.cls.fqn.toLowerCase()}::${info.method}` : `fn:${info.method}`;
}

export function buildFacts(infos: readonly ScopeInfo[], index: PhpIndex): ProjectFacts {
  const byKey = new Map<string, ScopeInfo>();
  const byMethodName = new Map<string, string[]>();
  for (const info of infos) {
    const key = keyOf(info);
    if (!key || byKey.has(key)) continue;
    byKey.set(key, info);
    if (info.cls) {
      const list = byMethodName.get(info.method ?? '') ?? [];
      list.push(key);
      byMethodName.set(info.method ?? '', list);
    }
  }
  const inClassChain = (fqn: string, method: string): string | null => {
    const seen = new Set<string>();
    let current: PhpClass | undefined = index.classes.get(fqn);
    while (current && !seen.has(current.fqn)) {
      seen.add(current.fqn);
      const key = `${current.fqn.toLowerCase()}::${method}`;
      if (byKey.has(key)) return key;
      current = current.extends ? index.classes.get(current.extends) : undefined;
    }
    return null;
  };
  const facts: ProjectFacts = {
    index,
    summaries: new Map(),
    called: new Set(),
    propertyDefs: new Map(),
    userProperties: new Map(),
    sanitisedAttributes: new Map(),
    jobArguments: new Map(),
    validators: new Map(),
    redactors: new Set(),
    numericAttributes: numericColumns(index),
    classValidated: new Map(),
    resolve(call, scope) {
      const fn = calledFunction(call);
      if (fn) return byKey.has(`fn:${fn}`) ? `fn:${fn}` : null;
      const owner = scope.owner;
      const stat = staticCall(call);
      if (stat) {
        const [cls, method] = stat;
        if (/^(self|static)$/i.test(cls))
          return owner?.cls ? inClassChain(owner.cls.fqn, method) : null;
        if (/^parent$/i.test(cls)) {
          const parent = owner?.cls?.extends;
          return parent ? inClassChain(parent, method) : null;
        }
        return owner ? inClassChain(owner.file.resolve(cls), method) : null;
      }
      const lookup = methodCall(call);
      if (!lookup) return null;
      const [target, method] = lookup;
      if (target.kind === 'variable' && target.name === 'this' && owner?.cls) {
        return inClassChain(owner.cls.fqn, method);
      }
      // Another object: only a method name that one project class defines is unambiguous.
      const candidates = byMethodName.get(method) ?? [];
      return candidates.length === 1 ? (candidates[0] ?? null) : null;
    },
  };
  for (const info of infos) info.scope.facts = facts;

  collectClassFacts(facts, infos);
  for (const [key, info] of byKey) {
    const checks = validatorChecks(info, index);
    if (checks.size > 0) facts.validators.set(key, checks);
    if (isRedactorBody(info)) facts.redactors.add(key);
  }
  for (const info of infos) {
    for (const call of ownNodesOf(info.scope, 'call')) {
      const key = facts.resolve(call, info.scope);
      if (!key) continue;
      facts.called.add(key);
      applyValidator(facts.validators.get(key), call, info, facts);
    }
  }
  // Summaries depend on each other (a wrapper of a wrapper): iterate to a fixed point, bounded.
  for (const info of infos) collectDispatches(facts, info);
  // Only called functions need a summary: it is read at their call sites.
  const summarised = [...byKey].filter(([key]) => facts.called.has(key));
  const closures = closuresByParent(infos);
  for (let round = 0; round < MAX_ROUNDS; round++) {
    let changed = false;
    for (const [key, info] of summarised) {
      const next = summarise(info, closures);
      const before = facts.summaries.get(key);
      if (!before || JSON.stringify(serial(before)) !== JSON.stringify(serial(next))) {
        facts.summaries.set(key, next);
        changed = true;
      }
    }
    if (!changed) break;
  }
  return facts;
}

const NUMERIC_COLUMN =
  /^(integer|tinyinteger|smallinteger|mediuminteger|biginteger|unsigned\w*integer|boolean|float|double|decimal|unsigneddecimal|year|increments|bigincrements|foreignid)$/;
const COLUMN =
  /^(string|char|text|mediumtext|longtext|tinytext|json|jsonb|enum|set|binary|uuid|ulid|ipaddress|macaddress|date|datetime|datetimetz|timestamp|timestamptz|time|timetz)$/;

/** Columns that every migration declares numeric or boolean, by name. */
function numericColumns(index: PhpIndex): Set<string> {
  const numeric = new Set<string>();
  const other = new Set<string>();
  for (const file of index.files) {
    if (!/(^|\/)database\/migrations\//.test(file.path)) continue;
    for (const call of findAll(file.ast, 'call')) {
      const method = methodCall(call)?.[1];
      const column = literal(args(call)[0]);
      if (!method || column === null) continue;
      if (NUMERIC_COLUMN.test(method)) numeric.add(column);
      else if (COLUMN.test(method)) other.add(column);
    }
  }
  for (const name of other) numeric.delete(name);
  return numeric;
}

function serial(summary: FunctionSummary): unknown {
  return { ...summary, executes: [...summary.executes] };
}

function closuresByParent(infos: readonly ScopeInfo[]): Map<ScopeInfo, ScopeInfo[]> {
  const out = new Map<ScopeInfo, ScopeInfo[]>();
  for (const info of infos) {
    if (!info.parent) continue;
    const list = out.get(info.parent) ?? [];
    list.push(info);
    out.set(info.parent, list);
  }
  return out;
}

/**
 * Sinks in the closures a body creates (`retry(function () use ($command) {…})`), each with the
 * closure parameters that hide the body's own names: the body runs what its closures run.
 */
function closureSinks(
  info: ScopeInfo,
  closures: Map<ScopeInfo, ScopeInfo[]>,
  shadowed: ReadonlySet<string> = new Set(),
): { sink: SinkCall; shadowed: ReadonlySet<string> }[] {
  return (closures.get(info) ?? []).flatMap((closure) => {
    const inner = new Set([...shadowed, ...closure.scope.params]);
    return [
      ...sinksIn(closure).map((sink) => ({ sink, shadowed: inner })),
      ...closureSinks(closure, closures, inner),
    ];
  });
}

function summarise(info: ScopeInfo, closures: Map<ScopeInfo, ScopeInfo[]>): FunctionSummary {
  const params = [...info.scope.params];
  const summary: FunctionSummary = {
    returnSafe: true,
    returnParams: [],
    returnProvenance: 'trusted',
    executes: new Map(),
    paramNames: params,
  };
  let returns = 0;
  for (const node of ownNodesOf(info.scope, 'return')) {
    if (!node.expr) continue;
    returns++;
    const flat = flatten(node.expr as PhpNode, info.scope);
    for (const op of flat.operands) {
      const at = op.param ? params.indexOf(op.param) : -1;
      // Quoted for `bash -c '…'` is quoted for the outer shell only: the inner one runs it.
      if (at >= 0 && /\b(ba|z|da)?sh\s+-c\s*['"]?$/.test(flat.text.slice(0, op.offset))) {
        if (!summary.executes.has(at)) summary.executes.set(at, labelOf(info));
      }
      if (op.safe) continue;
      summary.returnSafe = false;
      if (at >= 0) {
        if (!summary.returnParams.includes(at)) summary.returnParams.push(at);
      } else if (op.provenance !== 'trusted') {
        summary.returnProvenance =
          op.provenance === 'untrusted' || summary.returnProvenance === 'untrusted'
            ? 'untrusted'
            : 'unknown';
      }
    }
  }
  if (returns === 0) {
    summary.returnSafe = false;
    summary.returnProvenance = 'unknown';
  }
  if (info.returnsNumber) {
    // `: int` is enforced by PHP: whatever the body computes, the caller gets a number.
    summary.returnSafe = true;
    summary.returnParams = [];
    summary.returnProvenance = 'trusted';
  }
  const sinks = [
    ...sinksIn(info).map((sink) => ({ sink, shadowed: new Set<string>() })),
    ...closureSinks(info, closures),
  ];
  for (const { sink, shadowed } of sinks) {
    for (const command of sink.commands) {
      for (const op of command.operands) {
        const own = op.param && !op.safe && !shadowed.has(op.param);
        const at = own ? params.indexOf(op.param ?? '') : -1;
        if (at >= 0 && !summary.executes.has(at)) summary.executes.set(at, sink.sink);
      }
    }
  }
  return summary;
}

/**
 * A function that checks a parameter and throws or returns early: `preg_match('/^…$/', $p)`
 * (judged by what the regex admits) or a loop over a literal list of refused characters.
 */
function refusesTraversal(info: ScopeInfo, name: string): boolean {
  return ownNodesOf(info.scope, 'call').some((call) => {
    const [subject, needle] = args(call);
    return (
      calledFunction(call) === 'str_contains' &&
      subject?.kind === 'variable' &&
      subject.name === name &&
      literal(needle) === '..'
    );
  });
}

function validatorChecks(info: ScopeInfo, index: PhpIndex): Map<number, Strength> {
  const params = [...info.scope.params];
  const out = new Map<number, Strength>();
  const own = (kind: string) => ownNodesOf(info.scope, kind);
  if (own('throw').length === 0 && own('return').length === 0) return out;
  for (const call of own('call')) {
    const fn = calledFunction(call);
    const [first, second] = args(call);
    if (fn === 'preg_match' && first && second?.kind === 'variable') {
      const at = params.indexOf(String(second.name));
      const pattern = literal(first) ?? classConstant(index, info.file.resolve, first);
      let strength = pattern === null ? null : regexStrength(pattern);
      // `if (str_contains($path, '..')) throw …`: the traversal the regex admits is refused.
      if (strength && refusesTraversal(info, String(second.name))) {
        const lets = strength.lets.filter((l) => l !== '..');
        strength = { strict: lets.every((l) => l === 'a leading -'), lets };
      }
      if (at >= 0 && strength) out.set(at, strength);
    }
  }
  for (const loop of own('foreach')) {
    const source = loop.source as PhpNode;
    const list = source?.kind === 'variable' ? assignedArray(info, String(source.name)) : source;
    if (list?.kind !== 'array') continue;
    const refused = ((list.items as PhpNode[]) ?? []).flatMap((item) => {
      const key = item.kind === 'entry' ? literal(item.key as PhpNode) : null;
      const value = literal(item.kind === 'entry' ? (item.value as PhpNode) : item);
      return [key ?? value ?? ''].filter((t) => t.length > 0 && t.length <= 3);
    });
    const checked = findAll(loop, 'call').find((c) =>
      ['str_contains', 'strpos', 'stripos'].includes(calledFunction(c) ?? ''),
    );
    const subject = checked ? args(checked)[0] : undefined;
    const at = subject?.kind === 'variable' ? params.indexOf(String(subject.name)) : -1;
    if (at >= 0 && refused.length > 0) out.set(at, blocklistStrength(refused));
  }
  return out;
}

function assignedArray(info: ScopeInfo, name: string): PhpNode | null {
  for (const assign of ownNodesOf(info.scope, 'assign')) {
    const left = assign.left as PhpNode;
    if (left.kind === 'variable' && left.name === name) return assign.right as PhpNode;
  }
  return null;
}

/** A call to a recognised validator marks its argument validated (strict) or weakly checked. */
function applyValidator(
  checks: Map<number, Strength> | undefined,
  call: PhpNode,
  info: ScopeInfo,
  facts: ProjectFacts,
): void {
  if (!checks) return;
  const { scope } = info;
  for (const [at, strength] of checks) {
    const arg = args(call)[at];
    const name = arg ? variableKey(arg) : null;
    if (!name) continue;
    if (strength.strict) {
      scope.validated.add(name);
      // `$dir = $this->application->base_directory; validate($dir)`: the attribute itself.
      const defs = scope.defs.get(name) ?? [];
      const source =
        defs.length === 1 ? variableKey(defs[0]?.node) : name.includes('.') ? name : null;
      if (source?.startsWith('this.') && info.cls) {
        const set = facts.classValidated.get(info.cls.fqn) ?? new Set<string>();
        set.add(source);
        facts.classValidated.set(info.cls.fqn, set);
      }
    } else {
      // The project's own body decides, whatever the validator is called.
      scope.validated.delete(name);
      scope.weakChecks.set(name, { node: call, strength });
    }
  }
}

function collectClassFacts(facts: ProjectFacts, infos: readonly ScopeInfo[]): void {
  for (const info of infos) {
    if (!info.cls || !info.method) continue;
    for (const node of ownNodesOf(info.scope, 'assign')) {
      const prop = thisProperty(node.left as PhpNode);
      if (prop === null) continue;
      const key = `${info.cls?.fqn}.${prop}`;
      const list = facts.propertyDefs.get(key) ?? [];
      list.push({ node: node.right as PhpNode, operator: String(node.operator), info });
      facts.propertyDefs.set(key, list);
    }
  }
  for (const cls of facts.index.classes.values()) {
    if (facts.index.implementsInterface(cls.fqn, LIVEWIRE)) livewireProperties(facts, cls);
    if (facts.index.isModel(cls.fqn)) sanitisingAccessors(facts, cls);
  }
}

/** Public, non-static Livewire properties without #[Locked]: the browser sets them. */
function livewireProperties(facts: ProjectFacts, cls: PhpClass): void {
  const rules = declaredRules(cls);
  for (const member of (cls.node.body as PhpNode[]) ?? []) {
    if (member.kind !== 'propertystatement' || member.isStatic) continue;
    if (String(member.visibility || 'public') !== 'public') continue;
    for (const prop of (member.properties as PhpNode[]) ?? []) {
      const name = nameOf(prop.name) ?? '';
      const attrs = ((prop.attrGroups as PhpNode[]) ?? []).flatMap(
        (g) => (g.attrs as PhpNode[]) ?? [],
      );
      if (attrs.some((a) => /(^|\\)Locked$/.test(String(a.name)))) continue;
      // `public ?int $lines`: Livewire casts what the browser sends to the declared type.
      const type = prop.type as PhpNode | null;
      if (type?.kind === 'typereference' && /^(int|float|bool)$/i.test(String(type.name))) {
        facts.userProperties.set(`${cls.fqn}.${name}`, { strength: { strict: true, lets: [] } });
        continue;
      }
      const validate = attrs.find((a) => /(^|\\)(Validate|Rule)$/.test(String(a.name)));
      const rule = validate
        ? ruleText((validate.args as PhpNode[])?.[0] ?? null)
        : (rules.get(name) ?? null);
      facts.userProperties.set(`${cls.fqn}.${name}`, {
        strength: rule === null ? null : ruleStrength(rule),
      });
    }
  }
}

/** `protected $rules = [...]` or `rules(): array { return [...] }`: property -> rule text. */
function declaredRules(cls: PhpClass): Map<string, string> {
  const out = new Map<string, string>();
  let list: PhpNode | null = cls.properties.find((p) => p.name === 'rules')?.value ?? null;
  const method = cls.methods.get('rules');
  if (!list && method) list = (findAll(method, 'return')[0]?.expr as PhpNode | undefined) ?? null;
  if (list?.kind !== 'array') return out;
  for (const item of (list.items as PhpNode[]) ?? []) {
    if (item.kind !== 'entry') continue;
    const key = literal(item.key as PhpNode);
    const text = ruleText(item.value as PhpNode);
    if (key !== null && text !== null) out.set(key, text);
  }
  return out;
}

function ruleText(node: PhpNode | null): string | null {
  if (!node) return null;
  if (node.kind === 'namedargument') return ruleText(node.value as PhpNode);
  const text = literal(node);
  if (text !== null) return text;
  if (node.kind !== 'array') return null;
  const parts = ((node.items as PhpNode[]) ?? []).map((item) =>
    literal(item.kind === 'entry' ? (item.value as PhpNode) : item),
  );
  return parts.filter((p): p is string => p !== null).join('|');
}

/** Strict when one rule alone confines the value; a regex rule is judged by what it admits. */
export function ruleStrength(rule: string): Strength | null {
  const regex = /(?:^|\|)regex:(.+?)(?=\|[a-z_]+(:|\||$)|$)/.exec(rule)?.[1];
  if (regex) return regexStrength(regex);
  if (rule.split('|').some((r) => STRICT_RULES.test(r.trim()))) return { strict: true, lets: [] };
  return null;
}

/**
 * Eloquent accessors or mutators that strip every shell-unsafe character:
 * `getIpAttribute($v)` or `ip(): Attribute { return Attribute::make(get: fn ($v) => preg_replace('/[^0-9.]/', '', $v)) }`.
 */
function sanitisingAccessors(facts: ProjectFacts, cls: PhpClass): void {
  for (const [name, method] of cls.methods) {
    const original = String(nameOf(method.name) ?? name);
    const legacy = /^get(\w+)Attribute$/i.exec(original);
    const bodies: PhpNode[] = [];
    if (legacy) {
      const ret = findAll(method, 'return')[0]?.expr as PhpNode | undefined;
      if (ret) bodies.push(ret);
    } else {
      for (const call of findAll(method, 'call')) {
        const stat = staticCall(call);
        if (!stat || !/(^|\\)Attribute$/.test(stat[0]) || stat[1] !== 'make') continue;
        for (const arg of args(call)) {
          const fn = arg.kind === 'namedargument' ? (arg.value as PhpNode) : arg;
          const body =
            fn?.kind === 'arrowfunc'
              ? (fn.body as PhpNode)
              : ((findAll(fn, 'return')[0]?.expr as PhpNode | undefined) ?? null);
          if (body) bodies.push(body);
        }
      }
    }
    const file = facts.index.file(cls.file);
    const text = (node: PhpNode | undefined) =>
      literal(node) ?? (node && file ? classConstant(facts.index, file.resolve, node) : null);
    if (bodies.length === 0 || !bodies.some((body) => sanitises(body, text))) continue;
    const raw = legacy ? (legacy[1] ?? '') : original;
    const attribute = raw.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
    const models = facts.sanitisedAttributes.get(attribute) ?? new Set<string>();
    models.add(cls.shortName.toLowerCase());
    facts.sanitisedAttributes.set(attribute, models);
  }
}

/** `Patterns::SAFE_NAME`: the literal value of a project class constant, else null. */
function classConstant(
  index: PhpIndex,
  resolve: (name: string) => string,
  node: PhpNode,
): string | null {
  if (node.kind !== 'staticlookup') return null;
  const owner = nameOf(node.what);
  const name = nameOf(node.offset);
  const cls = owner ? index.classes.get(resolve(owner)) : undefined;
  if (!cls || !name) return null;
  for (const member of (cls.node.body as PhpNode[]) ?? []) {
    if (member.kind !== 'classconstant') continue;
    for (const constant of (member.constants as PhpNode[]) ?? []) {
      if (nameOf(constant.name) === name) return literal(constant.value as PhpNode);
    }
  }
  return null;
}

function sanitises(expr: PhpNode, text: (node: PhpNode | undefined) => string | null): boolean {
  let found = false;
  walk(expr, (node) => {
    if (node.kind === 'cast' && /^(int|integer|float|bool|boolean)$/.test(String(node.type))) {
      found = true;
    }
    const fn = calledFunction(node);
    if (fn === 'intval' || fn === 'escapeshellarg') found = true;
    if (fn === 'preg_replace') {
      const pattern = text(args(node)[0]);
      if (pattern !== null && literal(args(node)[1]) === '' && strippingIsSafe(pattern))
        found = true;
    }
    return !found;
  });
  return found;
}

function labelOf(info: ScopeInfo): string {
  return info.cls ? `${info.cls.shortName}::${info.method}` : (info.method ?? 'a function');
}

const DISPATCH_STATIC = new Set([
  'dispatch',
  'dispatchsync',
  'dispatchif',
  'dispatchafterresponse',
]);

/** What each dispatch site passes to a queued job's constructor, by parameter. */
function collectDispatches(facts: ProjectFacts, info: ScopeInfo): void {
  for (const call of ownNodesOf(info.scope, 'call')) {
    const sites: { job: string; values: PhpNode[] }[] = [];
    const stat = staticCall(call);
    if (stat && DISPATCH_STATIC.has(stat[1]) && !/(^|\\)Bus$/.test(stat[0])) {
      sites.push({ job: info.file.resolve(stat[0]), values: args(call) });
    } else if (
      calledFunction(call) === 'dispatch' ||
      calledFunction(call) === 'dispatch_sync' ||
      stat?.[0].endsWith('Bus')
    ) {
      for (const created of args(call).filter((a) => a.kind === 'new')) {
        const name = nameOf(created.what);
        if (name) sites.push({ job: info.file.resolve(name), values: args(created) });
      }
    }
    for (const { job, values } of sites) {
      const cls = facts.index.classes.get(job);
      if (!cls || !facts.index.isQueued(job)) continue;
      cls.constructorParams.forEach((param, at) => {
        const value = values[at];
        const key = `${job}.${param.name}`;
        const list = facts.jobArguments.get(key) ?? [];
        // A named or missing argument: its origin is not known here.
        if (!value || value.kind === 'namedargument') list.push('unknown');
        else list.push(originOf(value, info.scope));
        facts.jobArguments.set(key, list);
      });
    }
  }
}

function originOf(value: PhpNode, scope: Scope): Provenance {
  const operands = flatten(value, scope).operands;
  if (operands.some((op) => op.provenance === 'untrusted' && !op.safe)) return 'untrusted';
  return operands.every((op) => op.safe || op.provenance === 'trusted') ? 'trusted' : 'unknown';
}
