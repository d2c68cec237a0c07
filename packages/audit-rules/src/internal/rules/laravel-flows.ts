import { isSecretName, P_S3 } from '../patterns.js';
import {
  args,
  calledFunction,
  findAll,
  literal,
  methodCall,
  nameOf,
  type PhpNode,
  staticCall,
} from '../php/ast.js';
import { flatten, type Operand } from '../php/command.js';
import { variableKey } from '../php/command-scope.js';
import { keyOf } from '../php/project-facts.js';
import { callsIn, type ScopeInfo } from '../php/scopes.js';
import type { ProjectContext, RawFinding } from '../types.js';
import { defineRule } from './define.js';
import { at, laravelAnalysis, outcome } from './helpers.js';

// Rules over the project-wide taint: where a value goes (an outgoing request, a process's
// argv, a queued notification), not only whether it is escaped.

const HTTP_VERBS = new Set(['get', 'post', 'put', 'patch', 'delete', 'head', 'send']);
const URL_FUNCTIONS = new Set(['curl_init', 'file_get_contents', 'fopen', 'get_headers']);
const GUZZLE_METHOD = /^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)$/i;
/** Calls that compare a value with patterns or a list. */
const MATCHERS = new Set(['preg_match', 'in_array', 'str_starts_with', 'str_ends_with', 'fnmatch']);

/** The URL argument of an outgoing request in this call, or null. */
function requestedUrl(call: PhpNode, info: ScopeInfo): PhpNode | null {
  const fn = calledFunction(call);
  if (fn && URL_FUNCTIONS.has(fn)) return args(call)[0] ?? null;
  if (fn === 'curl_setopt' && /CURLOPT_URL$/.test(nameOf(args(call)[1]) ?? '')) {
    return args(call)[2] ?? null;
  }
  const stat = staticCall(call);
  const method = methodCall(call);
  // Guzzle's `$client->request('POST', $url, …)`: the literal HTTP method names the call.
  if (method?.[1] === 'request' && GUZZLE_METHOD.test(literal(args(call)[0]) ?? '')) {
    return args(call)[1] ?? null;
  }
  const verb = stat?.[1] ?? method?.[1];
  if (!verb || !HTTP_VERBS.has(verb)) return null;
  // Laravel's Http facade, directly or at the root of a chain (Http::withToken(...)->post()).
  let root: PhpNode = call;
  for (let hops = 0; hops < 8 && methodCall(root); hops++) root = methodCall(root)?.[0] as PhpNode;
  const facade = staticCall(root)?.[0];
  if (!facade || !/(^|\\)Http$/.test(info.file.resolve(facade))) return null;
  return args(call)[verb === 'send' ? 1 : 0] ?? null;
}

/** The scope compares a parsed host with a list: an allowlist, whatever it is called. */
function hasAllowlist(info: ScopeInfo): boolean {
  const names = new Set(findAll(info.scope.body, 'call').map((c) => calledFunction(c)));
  return (
    names.has('parse_url') &&
    (names.has('in_array') || names.has('str_ends_with') || names.has('preg_match'))
  );
}

/** PHP's own words for refusing private and reserved addresses. */
const PRIVATE_RANGE_FLAGS = /^FILTER_FLAG_NO_(PRIV|RES)_RANGE$/;
const guardCache = new WeakMap<object, Set<string>>();

/**
 * Project functions and methods that check where a URL points: their body, or their class
 * (a static entry point and its private helpers), refuses private or reserved addresses.
 */
function urlGuards(context: ProjectContext): Set<string> {
  const analysis = laravelAnalysis(context);
  let guards = guardCache.get(analysis);
  if (guards) return guards;
  guards = new Set();
  const refuses = (node: PhpNode) =>
    findAll(node, 'name').some((n) => PRIVATE_RANGE_FLAGS.test(String(n.name)));
  const classRefuses = new Map<string, boolean>();
  for (const info of analysis.scopes) {
    const key = keyOf(info);
    if (!key) continue;
    if (info.cls) {
      const fqn = info.cls.fqn;
      if (!classRefuses.has(fqn)) classRefuses.set(fqn, refuses(info.cls.node));
      if (classRefuses.get(fqn)) guards.add(key);
    } else if (refuses(info.scope.body)) guards.add(key);
  }
  guardCache.set(analysis, guards);
  return guards;
}

/**
 * The URL is passed to a guard in this body or, for a method, in any method of its class
 * (`$options = SafeUrl::clientOptions($this->url)` in `handle()`, the request in a helper).
 */
function guardedUrl(context: ProjectContext, info: ScopeInfo, url: Operand): boolean {
  const target = variableKey(url.node);
  if (!target) return false;
  const guards = urlGuards(context);
  const { facts, scopes } = laravelAnalysis(context);
  const bodies = info.cls ? scopes.filter((other) => other.cls === info.cls) : [info];
  return bodies.some((body) =>
    callsIn(body.scope).some((call) => {
      const key = call.kind === 'call' ? facts.resolve(call, body.scope) : null;
      return key !== null && guards.has(key) && args(call).some((a) => variableKey(a) === target);
    }),
  );
}

const isThis = (node: PhpNode) => node.kind === 'variable' && node.name === 'this';

/** `self::m(…)` / `static::m(…)`: `m`, else null (php-parser's own node kinds for both). */
function ownStatic(call: PhpNode): string | null {
  const what = call.what as PhpNode | undefined;
  if (what?.kind !== 'staticlookup') return null;
  const cls = (what.what as PhpNode | undefined)?.kind;
  if (cls !== 'selfreference' && cls !== 'staticreference') return null;
  return nameOf(what.offset)?.toLowerCase() ?? null;
}

/**
 * Functions and methods (`Class::method`, `::function`, lower case) that match a value against
 * patterns or a list, in their own body or through `$this->…()`/`self::…()` of their class: what a host
 * allowlist kept in its own class looks like (`$guard->ensureAllowed($url)`), whatever its name.
 */
function matchingCallables(scopes: readonly ScopeInfo[]): Set<string> {
  const own = new Map<string, string[]>();
  const out = new Set<string>();
  for (const info of scopes) {
    if (!info.method) continue;
    const key = `${info.cls?.fqn ?? ''}::${info.method}`.toLowerCase();
    const calls = findAll(info.scope.body, 'call');
    if (calls.some((c) => MATCHERS.has(calledFunction(c) ?? ''))) out.add(key);
    const cls = info.cls?.fqn ?? '';
    own.set(
      key,
      calls.flatMap((c) => {
        const m = methodCall(c);
        if (m && isThis(m[0])) return [`${cls}::${m[1]}`.toLowerCase()];
        return ownStatic(c) ? [`${cls}::${ownStatic(c)}`.toLowerCase()] : [];
      }),
    );
  }
  for (let changed = true; changed; ) {
    changed = false;
    for (const [key, callees] of own) {
      if (!out.has(key) && callees.some((c) => out.has(c))) {
        out.add(key);
        changed = true;
      }
    }
  }
  return out;
}

/** The key of the callable a call names, as far as the call says (class unknown: null class). */
function calleeKey(call: PhpNode, info: ScopeInfo): { cls: string | null; name: string } | null {
  const fn = calledFunction(call);
  if (fn) return { cls: '', name: fn };
  const stat = staticCall(call);
  if (stat) return { cls: info.file.resolve(stat[0]).toLowerCase(), name: stat[1] };
  const own = ownStatic(call);
  if (own) return { cls: (info.cls?.fqn ?? '').toLowerCase(), name: own };
  const method = methodCall(call);
  if (!method) return null;
  const [receiver, name] = method;
  if (isThis(receiver)) return { cls: (info.cls?.fqn ?? '').toLowerCase(), name };
  const made = receiver.kind === 'new' ? nameOf(receiver.what) : null;
  return { cls: made ? info.file.resolve(made).toLowerCase() : null, name };
}

/**
 * Before the request, the same value is handed to a project callable that matches it against
 * patterns or a list (and so can refuse it): the host is checked, by whatever name.
 */
function guardedBefore(
  request: PhpNode,
  value: Operand,
  info: ScopeInfo,
  checkers: Set<string>,
): boolean {
  const at = (node: PhpNode) => [node.loc?.start.line ?? 0, node.loc?.start.column ?? 0];
  const [line, column] = at(request) as [number, number];
  return findAll(info.scope.body, 'call').some((call) => {
    const [l, c] = at(call) as [number, number];
    if (l > line || (l === line && c >= column)) return false;
    const key = calleeKey(call, info);
    if (!key) return false;
    const known =
      key.cls === null
        ? [...checkers].some((c) => c.endsWith(`::${key.name}`))
        : checkers.has(`${key.cls}::${key.name}`);
    return (
      known && args(call).some((a) => flatten(a, info.scope).operands[0]?.label === value.label)
    );
  });
}

/**
 * The request sits in a method its class calls (`$this->sendToSlack()`), and every such call
 * comes after the same value (a property) was handed to a check: the guard is in the caller.
 */
function guardedByEveryCaller(
  value: Operand,
  info: ScopeInfo,
  scopes: readonly ScopeInfo[],
  checkers: Set<string>,
): boolean {
  if (!info.cls || !info.method || !value.label.startsWith('$this->')) return false;
  const sites = scopes
    .filter((other) => other.cls === info.cls && other !== info)
    .flatMap((other) =>
      findAll(other.scope.body, 'call')
        .filter((c) => {
          const m = methodCall(c);
          return m !== null && isThis(m[0]) && m[1] === info.method;
        })
        .map((site) => ({ site, other })),
    );
  return (
    sites.length > 0 &&
    sites.every(({ site, other }) => guardedBefore(site, value, other, checkers))
  );
}

export const job029 = defineRule({
  id: 'JOB-029',
  title: 'Server-side request to a URL from user input or job data (SSRF)',
  severity: 'high',
  target: 'laravel-src',
  covers: ['S1:JOB-001', 'S2:validated-inputs'],
  cwe: ['CWE-918'],
  description:
    'An HTTP client call (Http facade, Guzzle request(), curl, file_get_contents, fopen, get_headers) requests a URL whose host comes from request data, a Livewire property, a model attribute or the data of a queued job, with no allowlist of hosts (in the same function, or a project function or method handed the URL first that matches it against patterns or a list): a worker inside the network fetches what the user names (cloud metadata, internal services).',
  fix: 'Parse the URL and compare its scheme and host with an allowlist; refuse private, loopback and link-local addresses after DNS resolution; disable redirects or re-check each hop.',
  check: (context) => {
    const findings: RawFinding[] = [];
    const scopes = laravelAnalysis(context).scopes;
    const checkers = matchingCallables(scopes);
    for (const info of scopes) {
      for (const call of callsIn(info.scope)) {
        if (call.kind !== 'call') continue;
        const url = requestedUrl(call, info);
        if (!url) continue;
        const flat = flatten(url, info.scope);
        const first = flat.operands[0];
        if (!first) continue;
        const prefix = flat.text.slice(0, first.offset);
        // A literal scheme and host before the first value: only the path is chosen.
        if (/^[a-z][\w+.-]*:\/\/[^/$]+\//i.test(prefix)) continue;
        // A local path (storage_path(...) . $name) is a traversal question, not SSRF.
        if (prefix.length > 0 && !/^[a-z][\w+.-]*:\/\/?$/i.test(prefix)) continue;
        if (first.provenance !== 'untrusted' || hasAllowlist(info)) continue;
        if (guardedUrl(context, info, first)) continue;
        if (guardedBefore(call, first, info, checkers)) continue;
        if (guardedByEveryCaller(first, info, scopes, checkers)) continue;
        findings.push(
          at(
            info.file,
            call,
            `${first.label} (${origin(first)}) chooses the host of a server-side request, with no host allowlist`,
          ),
        );
      }
    }
    return outcome(findings);
  },
});

function origin(op: Operand): string {
  return op.via ?? 'user-controlled';
}

/** The last identifier of a label, inside calls: `escapeshellarg($db->password)` -> `password`. */
function lastName(op: Operand): string {
  let label = op.label;
  for (let inner = /^[\w:]+\((.+)\)$/.exec(label); inner; inner = /^[\w:]+\((.+)\)$/.exec(label)) {
    label = inner[1] ?? '';
  }
  return /([A-Za-z_][A-Za-z0-9_]*)(\[[^\]]*\])?$/.exec(label)?.[1] ?? '';
}

/** Literal key of `$x['password']`, for offsets that name the secret. */
function offsetName(op: Operand): string {
  return op.node.kind === 'offsetlookup' ? (literal(op.node.offset as PhpNode) ?? '') : '';
}

function secretOperand(op: Operand): boolean {
  return isSecretName(lastName(op)) || isSecretName(offsetName(op));
}

export const job030 = defineRule({
  id: 'JOB-030',
  title: 'Secret interpolated into an executed command (visible in ps and /proc)',
  severity: 'medium',
  target: 'laravel-src',
  covers: ['S1:JOB-009', 'S1:JOB-016', 'S1:JOB-005'],
  cwe: ['CWE-214'],
  description:
    "A password, token or key is interpolated into a command run by a shell sink: every process's argv is readable by any local user (ps, /proc/*/cmdline) and commands end up in logs and failed-job traces. Escaping does not hide it; environment assignments and shell builtins (echo … | cmd --password-stdin) do not appear in argv and are not reported.",
  fix: 'Pass the secret through the environment of the process, a 0600 file, or stdin (--password-stdin, --env-file); keep it out of the command string.',
  check: (context) => {
    const findings: RawFinding[] = [];
    for (const sink of laravelAnalysis(context).sinks) {
      for (const command of sink.commands) {
        // JOB-016 already reports object-storage credentials on the command line.
        if (P_S3.test(command.text)) continue;
        const secrets = command.operands.filter((op) => {
          if (!secretOperand(op)) return false;
          const before = command.text.slice(0, op.offset);
          const segment = before.split(/\|\||&&|[;|\n]/).at(-1) ?? '';
          // `PGPASSWORD=… pg_dump`: an environment assignment, not an argument.
          if (
            /(^|\s)[A-Za-z_][A-Za-z0-9_]*=['"]?$/.test(segment) &&
            !/(-e|--env)\s+\S*$/.test(segment)
          )
            return false;
          // echo and printf are shell builtins: no process gets the secret in its argv.
          return !/^\s*(echo|printf)\b/.test(segment);
        });
        if (secrets.length === 0) continue;
        findings.push(
          at(
            sink.info.file,
            command.node,
            `${secrets.map((op) => op.label).join(', ')} is put on the command line run by ${sink.sink}: readable in the process list while it runs`,
          ),
        );
      }
    }
    return outcome(findings);
  },
});

/** `$user->notify(new X(...))`, `Notification::send($u, new X(...))`, `Mail::…->queue(new X(...))`. */
function queuedMessages(info: ScopeInfo): { call: PhpNode; created: PhpNode }[] {
  const out: { call: PhpNode; created: PhpNode }[] = [];
  for (const call of callsIn(info.scope)) {
    if (call.kind !== 'call') continue;
    const method = methodCall(call)?.[1] ?? staticCall(call)?.[1];
    if (!method || !['notify', 'send', 'queue', 'later', 'sendnow'].includes(method)) continue;
    for (const arg of args(call)) if (arg.kind === 'new') out.push({ call, created: arg });
  }
  return out;
}

export const job031 = defineRule({
  id: 'JOB-031',
  title: 'Secret handed to a queued notification or mail that is not encrypted',
  severity: 'high',
  target: 'laravel-src',
  covers: ['S1:JOB-002', 'S1:JOB-005'],
  cwe: ['CWE-312'],
  description:
    'A password, token or key is passed to a notification or mailable that implements ShouldQueue but not ShouldBeEncrypted: Laravel serializes it in plaintext into the queue payload (and failed_jobs). Models passed instead are serialized as their ids and are not reported.',
  fix: 'Implement ShouldBeEncrypted on the notification or mailable, or pass an id and look the secret up when the message is built.',
  check: (context: ProjectContext) => {
    const findings: RawFinding[] = [];
    for (const info of laravelAnalysis(context).scopes) {
      for (const { created } of queuedMessages(info)) {
        const name = nameOf(created.what);
        if (!name) continue;
        const fqn = info.file.resolve(name);
        const cls = context.php.classes.get(fqn);
        if (!cls || !context.php.isQueued(fqn) || context.php.isEncrypted(fqn)) continue;
        const secrets = args(created).filter((arg, position) => {
          const value = arg.kind === 'namedargument' ? (arg.value as PhpNode) : arg;
          const op = flatten(value, info.scope).operands[0];
          const named = value.kind === 'variable' && isSecretName(String(value.name));
          if (!op || !(named || secretOperand(op))) return false;
          // A parameter already named like a secret is JOB-002's finding on the class.
          const param = cls.constructorParams[position]?.name ?? '';
          return !isSecretName(param);
        });
        if (secrets.length === 0) continue;
        findings.push(
          at(
            info.file,
            created,
            `${secrets.map((s) => (s.kind === 'variable' ? `$${String(s.name)}` : (flatten(s, info.scope).operands[0]?.label ?? 'a secret'))).join(', ')} is stored in plaintext in the queue payload of ${cls.shortName} (ShouldQueue without ShouldBeEncrypted)`,
          ),
        );
      }
    }
    return outcome(findings);
  },
});

const PATH_LIKE = /(path|dir|directory|location|file|folder|destination|source)/i;
const SHELL_BREAKERS = new Set([
  'spaces',
  'single quotes',
  'double quotes',
  '#',
  ';',
  '|',
  '&',
  '$(',
  'backticks',
  'newlines',
]);

export const job032 = defineRule({
  id: 'JOB-032',
  title: 'A "shell-safe" check that still lets spaces, quotes, # or .. through gates a command',
  severity: 'high',
  target: 'laravel-src',
  covers: ['S1:JOB-006', 'S1:JOB-019', 'S2:validated-inputs'],
  cwe: ['CWE-88', 'CWE-22', 'CWE-78'],
  description:
    'A value passes a regex, a validation rule or a project validator (judged from its body, whatever its name) and then reaches a shell command, but the check admits characters that split or comment out shell words (unescaped use) or `..` and a leading `-` (path traversal and option injection, even when escaped).',
  fix: 'Validate with an anchored allowlist of exactly what the value may contain (^[A-Za-z0-9._-]+$, no leading -, no ..), escapeshellarg the value, and put -- before positional arguments.',
  check: (context) => {
    const findings: RawFinding[] = [];
    const seen = new Set<PhpNode>();
    for (const sink of laravelAnalysis(context).sinks) {
      for (const command of sink.commands) {
        for (const op of command.operands) {
          if (!op.weak || (op.provenance === 'trusted' && !op.safe) || seen.has(command.node))
            continue;
          const lets = op.weak.strength.lets;
          // Escaped, only `..` in a path still matters (a leading - depends on the command's
          // argument position, which is too often harmless to report).
          const relevant = op.safe
            ? lets.filter((l) => l === '..' && PATH_LIKE.test(op.label))
            : lets.filter((l) => SHELL_BREAKERS.has(l) || (l === '..' && PATH_LIKE.test(op.label)));
          if (relevant.length === 0) continue;
          seen.add(command.node);
          findings.push(
            at(
              sink.info.file,
              command.node,
              `${op.label} passed a check that still lets ${relevant.join(', ')} through, then reaches the command run by ${sink.sink}${op.safe ? ' (escaped: a path can still climb out with ..)' : ''}`,
              op.safe ? 'medium' : 'high',
            ),
          );
        }
      }
    }
    return outcome(findings);
  },
});
