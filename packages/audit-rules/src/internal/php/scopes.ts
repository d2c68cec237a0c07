import type { ResolvedOptions } from '../types.js';
import {
  args,
  argumentFor,
  calledFunction,
  literal,
  methodCall,
  nameOf,
  type PhpNode,
  staticCall,
  walk,
} from './ast.js';
import { commandsOf, type FlatCommand, flatten } from './command.js';
import { buildScope, type Scope } from './command-scope.js';
import type { PhpClass, PhpFile, PhpIndex } from './index-project.js';

export interface ScopeInfo {
  scope: Scope;
  file: PhpFile;
  cls: PhpClass | null;
  /** Method name (lower case) or function name, null for top-level code and closures. */
  method: string | null;
  /** For a closure or arrow function: the body it is written in (its `use` variables live there). */
  parent?: ScopeInfo;
  /** Declared to return an int, float or bool: its result never carries shell syntax. */
  returnsNumber?: boolean;
}

const FUNCTION_KINDS = new Set(['method', 'function', 'closure', 'arrowfunc']);

/** Every function-like body of a file (plus its top level), each with its own scope. */
export function scopesOf(file: PhpFile, index: PhpIndex, options: ResolvedOptions): ScopeInfo[] {
  const out: ScopeInfo[] = [];
  const classAt = (node: PhpNode) => file.classes.find((cls) => cls.node === node) ?? null;
  const top = buildScope(file.ast, [], new Set(), options);
  top.owner = { file, cls: null };
  const topInfo: ScopeInfo = { scope: top, file, cls: null, method: null };
  out.push(topInfo);
  const infoOf = new Map<PhpNode, ScopeInfo>();
  walk(file.ast, (node, ancestors) => {
    if (!FUNCTION_KINDS.has(node.kind) || !node.body) return true;
    const owner = [...ancestors].reverse().find((a) => a.kind === 'class' || a.kind === 'trait');
    const cls = owner ? classAt(owner) : null;
    const jobParams =
      cls && index.isQueued(cls.fqn)
        ? new Set(cls.constructorParams.map((p) => p.name))
        : new Set<string>();
    const body = node.kind === 'arrowfunc' ? node : (node.body as PhpNode);
    const params = (node.arguments as PhpNode[]) ?? [];
    const scope = buildScope(body, params, jobParams, options);
    scope.owner = { file, cls };
    for (const param of params)
      if (numericType(param.type)) scope.numericParams.add(nameOf(param.name) ?? '');
    if (cls && node.kind === 'method' && isBrowserCallable(node, cls, index)) {
      for (const param of params)
        if (!typedSafely(param)) scope.userParams.add(nameOf(param.name) ?? '');
    }
    const info: ScopeInfo = {
      scope,
      file,
      cls,
      method:
        node.kind === 'method' || node.kind === 'function'
          ? (nameOf(node.name) ?? '').toLowerCase()
          : null,
    };
    if (numericType(node.type)) info.returnsNumber = true;
    if (node.kind === 'closure' || node.kind === 'arrowfunc') {
      // `function () use ($command) {…}` reads the enclosing body's `$command`; an arrow
      // function reads any variable of it. Linking them lets a wrapper that runs its parameter
      // inside a retry closure be recognised as running it.
      const enclosing = [...ancestors].reverse().find((a) => FUNCTION_KINDS.has(a.kind));
      const parent = enclosing ? infoOf.get(enclosing) : topInfo;
      if (parent) {
        info.parent = parent;
        scope.parent = parent.scope;
        scope.captured =
          node.kind === 'arrowfunc'
            ? 'all'
            : new Set(((node.uses as PhpNode[]) ?? []).map((u) => nameOf(u) ?? ''));
      }
    }
    infoOf.set(node, info);
    out.push(info);
    return true;
  });
  return out;
}

/** The named function or method a closure is written in, with the closures' own parameters on the way. */
export function enclosingFunction(info: ScopeInfo): { info: ScopeInfo; shadowed: Set<string> } {
  const shadowed = new Set<string>();
  let current = info;
  while (current.method === null && current.parent) {
    for (const param of current.scope.params) shadowed.add(param);
    current = current.parent;
  }
  return { info: current, shadowed };
}

/** A public method of a Livewire component: the browser may call it with any arguments. */
function isBrowserCallable(method: PhpNode, cls: PhpClass, index: PhpIndex): boolean {
  const name = (nameOf(method.name) ?? '').toLowerCase();
  if (method.isStatic || name.startsWith('__') || name === 'render') return false;
  if (String(method.visibility || 'public') !== 'public') return false;
  return index.implementsInterface(cls.fqn, 'Livewire\\Component');
}

/** `int`, `?float`, `bool`: a declared type that PHP enforces, with no room for shell syntax. */
function numericType(type: unknown): boolean {
  const node = type as PhpNode | null | undefined;
  return node?.kind === 'typereference' && /^(int|float|bool)$/i.test(String(node.name));
}

/** `int $id`, `bool $force`, `Server $server` (model binding): nothing a shell can misread. */
function typedSafely(param: PhpNode): boolean {
  const type = param.type as PhpNode | null;
  if (!type) return false;
  if (type.kind === 'typereference') return /^(int|float|bool)$/i.test(String(type.name));
  return type.kind === 'name';
}

/** Walks a scope's own body: nested functions and classes are scopes of their own. */
export function walkOwn(body: PhpNode, visit: (node: PhpNode) => unknown): void {
  walk(body, (node) => {
    if (node !== body && (FUNCTION_KINDS.has(node.kind) || node.kind === 'class')) return false;
    return visit(node);
  });
}

const ownNodes = new WeakMap<Scope, Map<string, PhpNode[]>>();
const OWN_KINDS = new Set(['call', 'new', 'encapsed', 'assign', 'return', 'throw', 'foreach']);

/**
 * Nodes of the kinds rules and summaries look for (calls, assignments, returns, throws, loops)
 * directly in this scope's body, found in one walk and kept: the tree walk is the audit's cost.
 */
export function ownNodesOf(scope: Scope, kind: string): PhpNode[] {
  let byKind = ownNodes.get(scope);
  if (!byKind) {
    const found = new Map<string, PhpNode[]>();
    walk(scope.body, (node) => {
      if (node !== scope.body && FUNCTION_KINDS.has(node.kind)) return false;
      if (OWN_KINDS.has(node.kind)) {
        const list = found.get(node.kind) ?? [];
        list.push(node);
        found.set(node.kind, list);
      }
      return true;
    });
    byKind = found;
    ownNodes.set(scope, byKind);
  }
  return byKind.get(kind) ?? [];
}

/** Calls directly in this scope's body (not in nested functions). */
export function callsIn(scope: Scope): PhpNode[] {
  const calls = [
    ...ownNodesOf(scope, 'call'),
    ...ownNodesOf(scope, 'new'),
    ...ownNodesOf(scope, 'encapsed'),
  ];
  // Source order, as the single walk saw them.
  return calls.sort(
    (a, b) =>
      (a.loc?.start.line ?? 0) - (b.loc?.start.line ?? 0) ||
      (a.loc?.start.column ?? 0) - (b.loc?.start.column ?? 0),
  );
}

const LOCAL_SINKS = new Set([
  'exec',
  'shell_exec',
  'system',
  'passthru',
  'popen',
  'proc_open',
  'pcntl_exec',
]);
const PROCESS_METHODS = new Set([
  'run',
  'start',
  'pipe',
  'command',
  'concurrently',
  'fromshellcommandline',
]);

export interface SinkCall {
  call: PhpNode;
  sink: string;
  commands: FlatCommand[];
  info: ScopeInfo;
}

/** P-SINK-LOCAL and P-SINK-REMOTE calls of a scope, with their commands flattened. */
export function sinksIn(info: ScopeInfo): SinkCall[] {
  const { scope } = info;
  const remote = new Set(scope.options.remoteSinks.map((s) => s.toLowerCase()));
  const out: SinkCall[] = [];
  for (const call of callsIn(scope)) {
    let sink: string | null = null;
    let commandArgs: PhpNode[] = [];
    if (call.kind === 'encapsed') {
      if (call.type === 'shell') {
        sink = 'backtick';
        commandArgs = [call];
      }
    } else if (call.kind === 'call') {
      const fn = calledFunction(call);
      const stat = staticCall(call);
      const method = methodCall(call);
      const first = args(call)[0];
      if (fn && LOCAL_SINKS.has(fn) && first) {
        if (!(fn === 'proc_open' && first.kind === 'array')) {
          sink = fn;
          commandArgs = [first];
        }
      } else if (fn && remote.has(fn) && first) {
        sink = fn;
        commandArgs = [first];
      } else if (
        stat &&
        /(^|\\)Process$/.test(info.file.resolve(stat[0])) &&
        PROCESS_METHODS.has(stat[1]) &&
        first
      ) {
        // A string command becomes Process::fromShellCommandline; an argv array does not.
        if (first.kind !== 'array') {
          sink = `${stat[0].split('\\').at(-1)}::${stat[1]}`;
          commandArgs = [first];
        }
      } else if (
        method &&
        PROCESS_METHODS.has(method[1]) &&
        first &&
        processChain(method[0], info)
      ) {
        // `Process::timeout(30)->run($cmd)`, `Process::path($dir)->start($cmd)`: the facade's
        // builder methods return a pending process whose run/start take a shell string too.
        if (first.kind !== 'array') {
          sink = `Process::${processChain(method[0], info)}(…)->${method[1]}`;
          commandArgs = [first];
        }
      } else if (method && remote.has(method[1])) {
        sink = method[1];
        commandArgs = args(call).flatMap((arg) => remoteItems(arg));
      } else {
        // A project function whose body runs one of its parameters (found by its summary).
        const key = scope.facts?.resolve(call, scope);
        const summary = key ? scope.facts?.summaries.get(key) : undefined;
        if (summary && summary.executes.size > 0) {
          sink = labelOfCall(call);
          commandArgs = [...summary.executes.keys()]
            .map((at) => argumentFor(call, at, summary.paramNames[at]))
            .filter((arg): arg is PhpNode => arg !== undefined)
            .flatMap((arg) => remoteItems(arg));
        }
      }
    } else if (call.kind === 'new') {
      const cls = nameOf(call.what);
      const first = args(call)[0];
      if (
        cls &&
        /(^|\\)Process$/.test(info.file.resolve(cls)) &&
        first &&
        first.kind !== 'array' &&
        literal(first) === null
      ) {
        // Symfony's constructor wants an argv array; a string here is a mistake worth showing.
        sink = 'new Process';
        commandArgs = [first];
      }
    }
    if (!sink) continue;
    const commands = commandArgs
      .flatMap((arg) => commandsOf(arg, scope))
      .map((node) => flatten(node, scope));
    out.push({ call, sink, commands, info });
  }
  return out;
}

/**
 * The first builder method when `receiver` is a chain on the Process facade
 * (`Process::timeout(30)`, `Process::path($dir)->env([...])`), else null.
 */
function processChain(receiver: PhpNode, info: ScopeInfo): string | null {
  let node = receiver;
  for (let hops = 0; hops < 8 && node.kind === 'call'; hops++) {
    const stat = staticCall(node);
    if (stat) {
      return /(^|\\)Process$/.test(info.file.resolve(stat[0])) && !PROCESS_METHODS.has(stat[1])
        ? stat[1]
        : null;
    }
    const inner = methodCall(node);
    if (!inner) return null;
    node = inner[0];
  }
  return null;
}

function labelOfCall(call: PhpNode): string {
  const fn = calledFunction(call);
  if (fn) return fn;
  const stat = staticCall(call);
  if (stat) return `${stat[0].split('\\').at(-1)}::${stat[1]}`;
  return methodCall(call)?.[1] ?? 'a project function';
}

/** `execute_remote_command(['command' => ..., 'hidden' => true], [...])`: the command items. */
function remoteItems(arg: PhpNode): PhpNode[] {
  if (arg.kind !== 'array') return [arg];
  const items = (arg.items as PhpNode[]) ?? [];
  const keyed = items.find(
    (item) => item.kind === 'entry' && literal(item.key as PhpNode) === 'command',
  );
  if (keyed) return [keyed.value as PhpNode];
  return items.flatMap((item) => {
    const value = item.kind === 'entry' ? (item.value as PhpNode) : item;
    return value.kind === 'array' ? remoteItems(value) : [value];
  });
}

/**
 * Maximal string expressions of a scope (literals, interpolations, concatenations), flattened
 * with def-use, for the text-pattern rules (host keys, curl | sh, docker flags...).
 */
export function stringsIn(info: ScopeInfo): FlatCommand[] {
  const out: FlatCommand[] = [];
  const { scope } = info;
  walk(scope.body, (node) => {
    if (node !== scope.body && FUNCTION_KINDS.has(node.kind)) return false;
    const isString =
      node.kind === 'string' ||
      node.kind === 'nowdoc' ||
      node.kind === 'encapsed' ||
      (node.kind === 'bin' && node.type === '.');
    if (!isString) return true;
    out.push(flatten(node, scope));
    return false;
  });
  return out;
}
