import { isSecretName } from '../patterns.js';
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
} from '../php/ast.js';
import { flatten } from '../php/command.js';
import type { PhpClass, PhpFile } from '../php/index-project.js';
import { keyOf } from '../php/project-facts.js';
import { callsIn, type ScopeInfo, walkOwn } from '../php/scopes.js';
import type { ProjectContext, RawFinding } from '../types.js';
import { defineRule } from './define.js';
import { at, judgedByProvenance, laravelAnalysis, outcome } from './helpers.js';

function queued(context: ProjectContext): PhpClass[] {
  return [...context.php.classes.values()].filter((cls) => context.php.isQueued(cls.fqn));
}

function fileOf(context: ProjectContext, cls: PhpClass): PhpFile {
  return context.php.file(cls.file) as PhpFile;
}

function propNode(cls: PhpClass, name: string): PhpNode {
  let found: PhpNode = cls.node;
  walk(cls.node, (node) => {
    if ((node.kind === 'property' || node.kind === 'parameter') && nameOf(node.name) === name) {
      found = node;
      return false;
    }
    return true;
  });
  return found;
}

/** The job class a dispatch site dispatches, and the arguments its constructor gets. */
function dispatchSites(info: ScopeInfo): { call: PhpNode; job: string; jobArgs: PhpNode[] }[] {
  const out: { call: PhpNode; job: string; jobArgs: PhpNode[] }[] = [];
  for (const call of callsIn(info.scope)) {
    if (call.kind !== 'call') continue;
    const stat = staticCall(call);
    if (
      stat &&
      ['dispatch', 'dispatchsync', 'dispatchif', 'dispatchafterresponse'].includes(stat[1]) &&
      stat[0] !== 'Bus'
    ) {
      out.push({ call, job: info.file.resolve(stat[0]), jobArgs: args(call) });
      continue;
    }
    const fn = calledFunction(call);
    const isBus =
      stat?.[0].endsWith('Bus') && ['dispatch', 'dispatchsync', 'chain', 'batch'].includes(stat[1]);
    if (fn === 'dispatch' || fn === 'dispatch_sync' || isBus) {
      for (const arg of args(call)) {
        const news = arg.kind === 'new' ? [arg] : findAll(arg, 'new');
        for (const created of news) {
          const name = nameOf(created.what);
          if (name) out.push({ call, job: info.file.resolve(name), jobArgs: args(created) });
        }
      }
    }
  }
  return out;
}

function isRawRequest(node: PhpNode): boolean {
  const method = methodCall(node);
  if (method) {
    const [owner, name] = method;
    const isRequest =
      (owner.kind === 'variable' && /^(request|req|r)$/i.test(String(owner.name))) ||
      (owner.kind === 'call' && calledFunction(owner) === 'request') ||
      thisProperty(owner) === 'request';
    if (
      isRequest &&
      (name === 'all' ||
        name === 'toarray' ||
        (name === 'input' && args(node).length === 0) ||
        (name === 'post' && args(node).length === 0))
    )
      return true;
    if (name === 'all' && owner.kind === 'call' && methodCall(owner)?.[1] === 'json') return true;
  }
  if (calledFunction(node) === 'json_decode') {
    const inner = args(node)[0];
    return inner !== undefined && methodCall(inner)?.[1] === 'getcontent';
  }
  return false;
}

/** The value a variable argument was last assigned in the scope, else the argument itself. */
function assignedValue(arg: PhpNode, info: ScopeInfo): PhpNode {
  if (arg.kind !== 'variable') return arg;
  const defs = (info.scope.defs.get(String(arg.name)) ?? []).filter(
    (d) => d.operator === '=' && !d.push,
  );
  return defs.at(-1)?.node ?? arg;
}

export const job001 = defineRule({
  id: 'JOB-001',
  title: 'Raw request/webhook data dispatched into a job',
  severity: 'medium',
  target: 'laravel-src',
  covers: ['S1:JOB-001'],
  cwe: ['CWE-20'],
  description:
    'A dispatch site passes $request->all(), request()->all(), $request->input() without a key, ->json()->all() or json_decode(->getContent()) into a job.',
  fix: 'Pass IDs plus validated scalars or DTOs ($request->validated(), ->safe()->only()), cap sizes at the boundary and re-load models in handle().',
  check: (context) => {
    const findings: RawFinding[] = [];
    for (const info of laravelAnalysis(context).scopes) {
      for (const site of dispatchSites(info)) {
        const raw = site.jobArgs.find((arg) => isRawRequest(assignedValue(arg, info)));
        if (raw)
          findings.push(
            at(
              info.file,
              site.call,
              `the whole request body reaches ${site.job.split('\\').at(-1)} unvalidated and unbounded`,
            ),
          );
      }
    }
    return outcome(findings);
  },
});

const SERIALIZES_MODELS = [
  'Illuminate\\Queue\\SerializesModels',
  'Illuminate\\Foundation\\Queue\\Queueable',
];

export const job002 = defineRule({
  id: 'JOB-002',
  title: 'Secret-bearing job state serialized in plaintext',
  severity: 'high',
  target: 'laravel-src',
  covers: ['S1:JOB-002', 'S1:JOB-005'],
  cwe: ['CWE-312'],
  description:
    'A queued class (job, listener, notification, mailable) has a property or promoted constructor parameter of any visibility named like a secret, and does not implement ShouldBeEncrypted; serialize() includes private and protected members.',
  fix: 'Implement ShouldBeEncrypted, or better pass IDs and resolve the secret inside handle().',
  check: (context) => {
    const findings: RawFinding[] = [];
    for (const cls of queued(context)) {
      if (context.php.isEncrypted(cls.fqn)) continue;
      const modelsAsIds = SERIALIZES_MODELS.some((trait) => context.php.usesTrait(cls.fqn, trait));
      for (const prop of cls.properties) {
        if (prop.name === 'shouldBeEncrypted' || !isSecretName(prop.name)) continue;
        if (prop.type && /^\??(int|bool|float)$/.test(prop.type)) continue;
        // With SerializesModels a model is stored as its class and key, not its attributes
        // (`Webhook $webhook`, `PersonalAccessToken $token`): no secret is in the payload.
        const type = prop.type?.replace(/^\?/, '');
        if (modelsAsIds && type && /\\/.test(type) && context.php.isModel(type)) continue;
        findings.push(
          at(
            fileOf(context, cls),
            propNode(cls, prop.name),
            `${cls.shortName}::$${prop.name} (${prop.visibility}) is serialized into the queue payload in plaintext`,
          ),
        );
      }
    }
    for (const info of laravelAnalysis(context).scopes) {
      for (const call of callsIn(info.scope)) {
        if (call.kind !== 'call' || calledFunction(call) !== 'dispatch') continue;
        const closure = args(call)[0];
        if (closure?.kind !== 'closure') continue;
        const secrets = ((closure.uses as PhpNode[]) ?? [])
          .map((u) => nameOf(u) ?? '')
          .filter(isSecretName);
        if (secrets.length > 0)
          findings.push(
            at(
              info.file,
              call,
              `queued closure captures ${secrets.map((s) => `$${s}`).join(', ')}: closures are signed, not encrypted`,
            ),
          );
      }
    }
    return outcome(findings);
  },
});

export const job002m = defineRule({
  id: 'JOB-002M',
  title: 'Eloquent model held by a job without SerializesModels',
  severity: 'medium',
  target: 'laravel-src',
  covers: ['S1:JOB-002', 'S1:JOB-003'],
  cwe: ['CWE-312'],
  description:
    'A queued class has a property typed as an Eloquent model but uses neither SerializesModels nor Foundation\\Queue\\Queueable, so the whole model (hidden attributes included) is serialized.',
  fix: 'use Queueable / SerializesModels, and #[WithoutRelations] where relations are not needed.',
  check: (context) => {
    const findings: RawFinding[] = [];
    for (const cls of queued(context)) {
      if (SERIALIZES_MODELS.some((trait) => context.php.usesTrait(cls.fqn, trait))) continue;
      if (cls.methods.has('__serialize') || cls.methods.has('__sleep')) continue;
      for (const prop of cls.properties) {
        const type = prop.type?.replace(/^\?/, '');
        if (!type || !/\\/.test(type) || !context.php.isModel(type)) continue;
        findings.push(
          at(
            fileOf(context, cls),
            propNode(cls, prop.name),
            `${cls.shortName}::$${prop.name} (${type.split('\\').at(-1)}) is serialized whole, hidden attributes included`,
          ),
        );
      }
    }
    return outcome(findings);
  },
});

const BLOB_PARAM = /^(content|contents|body|file|log|logs|output|dump)$/i;

export const job003 = defineRule({
  id: 'JOB-003',
  title: 'Unbounded job payloads',
  severity: 'low',
  target: 'laravel-src',
  covers: ['S1:JOB-003'],
  cwe: ['CWE-770'],
  description:
    'Dispatch arguments built from file_get_contents, uploaded files or request bodies, and queued-job string parameters named content/body/file/log/output/dump (RDQ-003 confirms sizes at run time).',
  fix: 'Put blobs in object storage or the database and pass references; add a size guard at dispatch.',
  check: (context) => {
    const findings: RawFinding[] = [];
    const blob = (node: PhpNode) => {
      let hit = false;
      walk(node, (n) => {
        const fn = calledFunction(n);
        const method = methodCall(n)?.[1];
        if (
          fn === 'file_get_contents' ||
          method === 'getcontent' ||
          (method === 'get' && methodCall((methodCall(n) as [PhpNode, string])[0])?.[1] === 'file')
        )
          hit = true;
        return !hit;
      });
      return hit;
    };
    for (const info of laravelAnalysis(context).scopes) {
      for (const site of dispatchSites(info)) {
        if (site.jobArgs.some((arg) => blob(assignedValue(arg, info)))) {
          findings.push(
            at(
              info.file,
              site.call,
              `a file or request body is put into the ${site.job.split('\\').at(-1)} payload`,
            ),
          );
        }
      }
    }
    for (const cls of queued(context)) {
      for (const param of cls.constructorParams) {
        if (param.type === 'string' && BLOB_PARAM.test(param.name)) {
          findings.push(
            at(
              fileOf(context, cls),
              propNode(cls, param.name),
              `${cls.shortName} takes $${param.name} as a string: blobs in payloads are unbounded`,
            ),
          );
        }
      }
    }
    return outcome(findings);
  },
});

export const job004 = defineRule({
  id: 'JOB-004',
  title: 'Authorization that depends on HTTP auth context inside a job',
  severity: 'medium',
  target: 'laravel-src',
  covers: ['S1:JOB-004'],
  cwe: ['CWE-285'],
  description:
    'handle() of a queued class calls auth(), Auth::user/check/id, request(), session() or Gate::allows/denies/authorize without forUser(): workers have no authenticated user, so such checks fail open or are skipped.',
  fix: 'Carry actorId/teamId in the job and re-authorize in handle() with Gate::forUser($actor) or policies.',
  check: (context) => {
    const findings: RawFinding[] = [];
    for (const cls of queued(context)) {
      const handle = cls.methods.get('handle');
      if (!handle) continue;
      walk(handle, (node) => {
        if (node.kind !== 'call') return true;
        const fn = calledFunction(node);
        const stat = staticCall(node);
        const facade = stat?.[0].split('\\').at(-1);
        const hit =
          fn === 'auth' ||
          fn === 'request' ||
          fn === 'session' ||
          (facade === 'Auth' && ['user', 'check', 'id', 'guest'].includes(stat?.[1] ?? '')) ||
          (facade === 'Gate' &&
            ['allows', 'denies', 'authorize', 'check', 'any'].includes(stat?.[1] ?? ''));
        if (hit)
          findings.push(
            at(
              fileOf(context, cls),
              node,
              `${cls.shortName}::handle() relies on the HTTP auth context (${fn ?? `${facade}::${stat?.[1]}`}), which a worker does not have`,
            ),
          );
        return true;
      });
    }
    return outcome(findings);
  },
});

const LEAKY_OPERAND = /(command|cmd|url|uri|dsn|query|output|error|stderr)/i;

/** A configured redactor by name, or a project function whose body masks text (redactors.ts). */
function usesRedactor(node: PhpNode, info: ScopeInfo, redactors: readonly string[]): boolean {
  let found = false;
  const wanted = redactors.map((r) => r.toLowerCase());
  const facts = info.scope.facts;
  walk(node, (n) => {
    const name = calledFunction(n) ?? staticCall(n)?.[1] ?? methodCall(n)?.[1];
    if (name && wanted.includes(name)) found = true;
    if (!found && n.kind === 'call' && facts) {
      const key = facts.resolve(n, info.scope);
      found = key !== null && facts.redactors.has(key);
    }
    return !found;
  });
  return found;
}

function mentionsTrace(node: PhpNode): boolean {
  let found = false;
  walk(node, (n) => {
    const method = methodCall(n)?.[1];
    if (
      method === 'gettraceasstring' ||
      method === 'gettrace' ||
      (n.kind === 'cast' && n.type === 'string')
    )
      found = true;
    return !found;
  });
  return found;
}

export const job005 = defineRule({
  id: 'JOB-005',
  title: 'Exceptions and log lines that embed commands, URLs or traces (failed-job leakage)',
  severity: 'medium',
  target: 'laravel-src',
  covers: ['S1:JOB-005', 'S1:JOB-025'],
  cwe: ['CWE-209', 'CWE-532'],
  description:
    'In queued classes: exception messages interpolating $command/$url/$dsn/$output/$error; failed()/catch blocks logging getTraceAsString() or (string)$e; secrets placed in request URLs (Guzzle errors repeat the URI). failed_jobs and Horizon keep payload plus exception.',
  fix: 'Throw domain exceptions with redacted messages, redact before logging, move secrets from URLs to headers, set zend.exception_ignore_args=On and prune failed jobs.',
  check: (context) => {
    const findings: RawFinding[] = [];
    const queuedFiles = new Set(queued(context).map((cls) => cls.file));
    for (const info of laravelAnalysis(context).scopes) {
      if (!info.cls || !queuedFiles.has(info.file.path) || !context.php.isQueued(info.cls.fqn))
        continue;
      walk(info.scope.body, (node) => {
        if (node.kind === 'throw' && (node.what as PhpNode)?.kind === 'new') {
          const message = args(node.what as PhpNode)[0];
          if (message && !usesRedactor(message, info, context.options.redactors)) {
            const leaky = new Set<string>();
            walk(message, (n) => {
              const name =
                n.kind === 'variable'
                  ? String(n.name)
                  : n.kind === 'propertylookup'
                    ? nameOf(n.offset)
                    : null;
              if (name && LEAKY_OPERAND.test(name)) leaky.add(`$${name}`);
              return true;
            });
            if (leaky.size > 0)
              findings.push(
                at(
                  info.file,
                  node,
                  `exception message embeds ${[...leaky].join(', ')}; it is stored in failed_jobs and Horizon`,
                ),
              );
          }
        }
        if (
          node.kind === 'catch' ||
          (node.kind === 'method' && nameOf(node.name) === 'failed') ||
          (info.method === 'failed' && node === info.scope.body)
        ) {
          walk(node, (inner) => {
            if (inner.kind !== 'call') return true;
            const stat = staticCall(inner);
            const method = methodCall(inner)?.[1];
            const writer =
              (stat && /Log$/.test(stat[0])) ||
              calledFunction(inner) === 'logger' ||
              method === 'notify' ||
              method === 'update' ||
              method === 'error';
            if (
              writer &&
              args(inner).some(mentionsTrace) &&
              !usesRedactor(inner, info, context.options.redactors)
            ) {
              findings.push(
                at(
                  info.file,
                  inner,
                  'a stack trace or (string) exception is written to logs or notifications (it carries arguments and secrets)',
                ),
              );
            }
            return true;
          });
          return false;
        }
        return true;
      });
      for (const { command } of laravelAnalysis(context).strings.filter((s) => s.info === info)) {
        const url = /https?:\/\/[^\s'"]*(bot|token=|key=|secret=|\/hooks\/)?/i.exec(command.text);
        const secretOperand = command.operands.find((op) =>
          isSecretName(op.label.replace(/^\$(this->)?/, '')),
        );
        if (
          url &&
          secretOperand &&
          command.text.indexOf(url[0]) < command.text.indexOf(`\${${secretOperand.label}}`)
        ) {
          findings.push(
            at(
              info.file,
              command.node,
              `${secretOperand.label} is placed in a URL: HTTP client errors (and failed_jobs) repeat the full URI`,
            ),
          );
        }
      }
    }
    return outcome(findings);
  },
});

const LOG_VALUE = /^(command|cmd|commands|output|logs?|stdout|stderr)$/i;

export const job009 = defineRule({
  id: 'JOB-009',
  title: 'Deployment/command logs persisted without redaction',
  severity: 'medium',
  target: 'laravel-src',
  covers: ['S1:JOB-009'],
  cwe: ['CWE-532'],
  description:
    'Persistent log writers (->addLogEntry, activity()->withProperties([command]), Log::* with $command/$output, ->update([logs])) given command text or output that did not pass a configured redactor.',
  fix: 'Apply one central redactor at write time (credential URLs, tokens, keys, every secret env value) and hide secret-carrying commands.',
  check: (context) => {
    const findings: RawFinding[] = [];
    for (const info of laravelAnalysis(context).scopes) {
      for (const call of callsIn(info.scope)) {
        if (call.kind !== 'call') continue;
        const method = methodCall(call)?.[1];
        const stat = staticCall(call);
        const writer =
          method === 'addlogentry' ||
          method === 'withproperties' ||
          (stat && /Log$/.test(stat[0])) ||
          (method === 'update' && hasKey(call, 'logs'));
        if (!writer || usesRedactor(call, info, context.options.redactors)) continue;
        let leaked: string | null = null;
        for (const arg of args(call)) {
          walk(arg, (n) => {
            const name =
              n.kind === 'variable'
                ? String(n.name)
                : n.kind === 'propertylookup'
                  ? nameOf(n.offset)
                  : null;
            if (name && LOG_VALUE.test(name)) leaked = name;
            return leaked === null;
          });
        }
        if (leaked)
          findings.push(at(info.file, call, `$${leaked} is persisted to a log without a redactor`));
      }
    }
    return outcome(findings);
  },
});

function hasKey(call: PhpNode, key: string): boolean {
  return args(call).some(
    (arg) =>
      arg.kind === 'array' &&
      ((arg.items as PhpNode[]) ?? []).some(
        (item) => item.kind === 'entry' && literal(item.key as PhpNode) === key,
      ),
  );
}

export const job017 = defineRule({
  id: 'JOB-017',
  title: 'Destructive restore without guard',
  severity: 'medium',
  target: 'laravel-src',
  covers: ['S1:JOB-017'],
  cwe: ['CWE-749'],
  description:
    'In Restore/Import classes or methods: DROP DATABASE, dropdb, --clean, mongorestore --drop, FLUSHALL or rm -rf with no confirmation parameter in the flow.',
  fix: 'Require explicit confirmation and a dry run, restore into a new database then swap, validate paths against an allowed root, audit-log every restore.',
  check: (context) => {
    const findings: RawFinding[] = [];
    const destructive =
      /DROP\s+DATABASE|\bdropdb\b|--clean\b|mongorestore\b[^\n]*--drop|\bFLUSHALL\b|\brm\s+-rf\b/i;
    for (const { info, command } of laravelAnalysis(context).strings) {
      const where = `${info.cls?.shortName ?? ''} ${info.method ?? ''}`;
      if (!/restore|import/i.test(where) || !destructive.test(command.text)) continue;
      const guarded =
        /confirm|dry_?run/i.test(sourceOf(info)) ||
        [...info.scope.params].some((name) => /confirm|force/i.test(name));
      [...info.scope.params, ...info.scope.defs.keys()].some((name) =>
        /confirm|force|dry_?run/i.test(name),
      ) || /confirm/i.test(info.file.text.slice(0, 0));
      if (!guarded)
        findings.push(
          at(
            info.file,
            command.node,
            `destructive restore step (${destructive.exec(command.text)?.[0]}) runs without a confirmation guard`,
          ),
        );
    }
    return outcome(findings);
  },
});

export const job018 = defineRule({
  id: 'JOB-018',
  title: 'Temp files and key material not cleaned up',
  severity: 'low',
  target: 'laravel-src',
  covers: ['S1:JOB-018'],
  cwe: ['CWE-459'],
  description:
    'tempnam(), writes to /tmp, mktemp or Storage::put("tmp/…") in a function with no unlink/rm/Storage::delete/trap cleanup; key files (id_rsa, *.pem, credentials) written and never removed (medium).',
  fix: 'try/finally cleanup, trap \'rm -f "$f"\' EXIT in scripts, tmpfs, 0600 permissions.',
  check: (context) => {
    const findings: RawFinding[] = [];
    for (const info of laravelAnalysis(context).scopes) {
      if (info.method === null && info.cls === null) continue;
      const text = sourceOf(info);
      const writes = /file_put_contents\s*\(|->put\s*\(/.test(text);
      const creates =
        /\btempnam\s*\(|\bmktemp\b/.test(text) || (writes && /['"]\/?tmp\//.test(text));
      const key = writes && /id_rsa|id_ed25519|\.pem\b|credentials|private_key/.test(text);
      const cleanup =
        /\bunlink\s*\(|\brm\s+-(r?f|fr?)\b|Storage::\w*\s*\(?[^;]*delete\s*\(|->delete\s*\(|\btrap\b/.test(
          text,
        );
      if (cleanup) continue;
      if (key)
        findings.push(
          at(
            info.file,
            info.scope.body,
            'key material is written to disk and never removed',
            'medium',
          ),
        );
      else if (creates)
        findings.push(
          at(
            info.file,
            info.scope.body,
            'a temporary file is created and never removed (no unlink/rm/trap in the same function)',
          ),
        );
    }
    return outcome(findings);
  },
});

function sourceOf(info: ScopeInfo): string {
  const loc = info.scope.body.loc;
  if (!loc) return '';
  return info.file.text
    .split('\n')
    .slice(loc.start.line - 1, loc.end.line)
    .join('\n');
}

function intOf(node: PhpNode | null | undefined): number | null {
  const text = node ? literal(node) : null;
  return text !== null && /^-?\d+$/.test(text) ? Number(text) : null;
}

interface RetryPolicy {
  tries: number | null;
  maxExceptions: boolean;
  backoff: boolean;
  retryUntil: boolean;
  unique: boolean;
  overlapping: PhpNode | null;
  dontRelease: boolean;
}

function retryPolicy(context: ProjectContext, cls: PhpClass): RetryPolicy {
  const prop = (name: string) => cls.properties.find((p) => p.name === name);
  const attr = (name: string) =>
    [...cls.attributes.entries()].find(([key]) => key.split('\\').at(-1) === name)?.[1];
  let tries = intOf(prop('tries')?.value) ?? intOf(attr('Tries')?.[0]);
  const triesMethod = cls.methods.get('tries');
  if (tries === null && triesMethod)
    tries = intOf(findAll(triesMethod, 'return')[0]?.expr as PhpNode);
  const middleware = cls.methods.get('middleware');
  let overlapping: PhpNode | null = null;
  let dontRelease = false;
  if (middleware) {
    walk(middleware, (node) => {
      if (node.kind === 'new' && /WithoutOverlapping|RateLimited/.test(nameOf(node.what) ?? ''))
        overlapping = node;
      if (methodCall(node)?.[1] === 'dontrelease') dontRelease = true;
      return true;
    });
  }
  return {
    tries,
    maxExceptions: prop('maxExceptions') !== undefined || attr('MaxExceptions') !== undefined,
    backoff:
      prop('backoff') !== undefined || attr('Backoff') !== undefined || cls.methods.has('backoff'),
    retryUntil: cls.methods.has('retryuntil'),
    unique: context.php.implementsInterface(
      cls.fqn,
      'Illuminate\\Contracts\\Queue\\ShouldBeUnique',
    ),
    overlapping,
    dontRelease,
  };
}

const NON_IDEMPOTENT = /Deploy|Restore|Backup|Migrat|Delete|Install/;

export const job024 = defineRule({
  id: 'JOB-024',
  title: 'Retry policy unsafe (unbounded, or unsuitable for side effects)',
  severity: 'medium',
  target: 'laravel-src',
  covers: ['S1:JOB-024'],
  cwe: ['CWE-400'],
  description:
    'Per queued class ($tries/#[Tries]/tries(), maxExceptions, backoff, retryUntil): tries 0 without maxExceptions/retryUntil; tries > 1 without backoff on jobs doing HTTP or remote exec; tries > 1 on non-idempotent jobs without ShouldBeUnique/WithoutOverlapping; WithoutOverlapping/RateLimited with tries 1 and no dontRelease().',
  fix: 'Finite tries plus maxExceptions plus exponential backoff; ShouldBeUnique or WithoutOverlapping(...)->dontRelease(); failOnTimeout for non-idempotent work.',
  check: (context) => {
    const findings: RawFinding[] = [];
    const sinkClasses = new Set(laravelAnalysis(context).sinks.map((s) => s.info.cls?.fqn));
    for (const cls of queued(context)) {
      const policy = retryPolicy(context, cls);
      const file = fileOf(context, cls);
      const where = cls.properties.find((p) => p.name === 'tries')
        ? propNode(cls, 'tries')
        : cls.node;
      const external = sinkClasses.has(cls.fqn) || /Http::|->(post|get|put)\s*\(/.test(file.text);
      if (policy.tries === 0 && !policy.maxExceptions && !policy.retryUntil) {
        findings.push(
          at(
            file,
            where,
            `${cls.shortName} retries forever (tries = 0) with no maxExceptions or retryUntil`,
          ),
        );
      } else if (policy.tries !== null && policy.tries > 1 && !policy.backoff && external) {
        findings.push(
          at(
            file,
            where,
            `${cls.shortName} retries ${policy.tries} times with no backoff against an external system`,
          ),
        );
      } else if (
        policy.tries !== null &&
        policy.tries > 1 &&
        NON_IDEMPOTENT.test(cls.shortName) &&
        !policy.unique &&
        !policy.overlapping
      ) {
        findings.push(
          at(
            file,
            where,
            `${cls.shortName} is not idempotent but retries ${policy.tries} times without ShouldBeUnique or WithoutOverlapping`,
          ),
        );
      }
      if (policy.overlapping && (policy.tries ?? 1) === 1 && !policy.dontRelease) {
        findings.push(
          at(
            file,
            policy.overlapping,
            `${cls.shortName}: a released lock consumes its only attempt (add ->dontRelease() or more tries)`,
          ),
        );
      }
    }
    return outcome(findings);
  },
});

const STATEFUL = /Deploy|Backup|Restore|Install|Migrat/;

export const job025 = defineRule({
  id: 'JOB-025',
  title: 'Failure-handling gaps',
  severity: 'medium',
  target: 'laravel-src',
  covers: ['S1:JOB-025'],
  cwe: ['CWE-755'],
  description:
    'Stateful jobs (deploy/backup/restore/install/migrate) with no failed(Throwable) to reset status and release resources, and failed() methods that re-throw.',
  fix: 'Implement failed(): mark the run failed, release locks and notify.',
  check: (context) => {
    const findings: RawFinding[] = [];
    for (const cls of queued(context)) {
      const failed = cls.methods.get('failed');
      const file = fileOf(context, cls);
      if (!failed && STATEFUL.test(cls.shortName)) {
        findings.push(
          at(
            file,
            cls.node,
            `${cls.shortName} changes state but has no failed() to reset it when the job dies`,
          ),
        );
      } else if (failed && findAll(failed, 'throw').length > 0) {
        findings.push(
          at(
            file,
            failed,
            `${cls.shortName}::failed() re-throws: the failure handler itself fails`,
          ),
        );
      }
    }
    return outcome(findings);
  },
});

const CRON_VALIDATORS = /isValidExpression|validateCron|new\s+CronExpression|'cron'|"cron"/;

/** The source lines of a function or method's body, to look for a cron check inside a helper. */
function bodyText(info: ScopeInfo): string {
  const loc = info.scope.body.loc;
  if (!loc) return '';
  return info.file.text
    .split('\n')
    .slice(loc.start.line - 1, loc.end.line)
    .join('\n');
}

/** A scope that calls a project helper whose own body validates a cron expression. */
function callsCronHelper(info: ScopeInfo, helpers: ReadonlyMap<string, ScopeInfo>): boolean {
  const facts = info.scope.facts;
  if (!facts) return false;
  return callsIn(info.scope).some((call) => {
    const key = call.kind === 'call' ? facts.resolve(call, info.scope) : null;
    const helper = key ? helpers.get(key) : undefined;
    return helper !== undefined && helper !== info && CRON_VALIDATORS.test(bodyText(helper));
  });
}

export const job026 = defineRule({
  id: 'JOB-026',
  title: 'User-defined cron expressions not validated on write',
  severity: 'medium',
  target: 'laravel-src',
  covers: ['S1:JOB-026'],
  cwe: ['CWE-20'],
  description:
    'A ->cron($model->attr) / CronExpression sink reads a model attribute that is written (->attr = …, [attr => …]) in a file that never calls a cron validator (CronExpression::isValidExpression, a project helper whose body calls it, or a configured validator).',
  fix: 'Validate on write, enforce a minimum interval per plan, isolate per-task failures in the scheduler loop.',
  check: (context) => {
    const findings: RawFinding[] = [];
    const attributes = new Set<string>();
    for (const info of laravelAnalysis(context).scopes) {
      for (const call of callsIn(info.scope)) {
        if (call.kind !== 'call') continue;
        const method = methodCall(call)?.[1];
        const stat = staticCall(call);
        const isSink =
          method === 'cron' ||
          (stat && /CronExpression$/.test(stat[0]) && stat[1] === 'factory') ||
          (method && /^shouldruncronnow$/.test(method));
        const arg = args(call)[0];
        if (!isSink || !arg || literal(arg) !== null) continue;
        const attr = arg.kind === 'propertylookup' ? nameOf(arg.offset) : null;
        if (attr) attributes.add(attr);
      }
    }
    if (attributes.size === 0) return outcome([]);
    const validators = new RegExp(
      `${CRON_VALIDATORS.source}|${context.options.validators.join('|') || '$^'}`,
    );
    const helpers = new Map<string, ScopeInfo>();
    for (const info of laravelAnalysis(context).scopes) {
      const key = keyOf(info);
      if (key && !helpers.has(key)) helpers.set(key, info);
    }
    for (const info of laravelAnalysis(context).scopes) {
      if (validators.test(info.file.text) || callsCronHelper(info, helpers)) continue;
      walkOwn(info.scope.body, (node) => {
        if (node.kind === 'assign' && (node.left as PhpNode).kind === 'propertylookup') {
          const attr = nameOf((node.left as PhpNode).offset);
          if (attr && attributes.has(attr) && literal(node.right as PhpNode) === null) {
            findings.push(
              at(
                info.file,
                node,
                `the cron expression "${attr}" is stored from input without a cron validator`,
              ),
            );
          }
        }
        return true;
      });
    }
    return outcome(findings);
  },
});

export const job027 = defineRule({
  id: 'JOB-027',
  title: 'Scheduled commands built from non-literal input',
  severity: 'high',
  target: 'laravel-src',
  covers: ['S1:JOB-027'],
  cwe: ['CWE-78'],
  description:
    'Schedule::exec($x) / $schedule->exec($x) with a non-literal command runs a shell command on the scheduler host.',
  fix: 'Run stored user commands only inside the tenant container with single-quote escaping, a timeout and an output cap; keep host-level scheduled commands literal.',
  check: (context) => {
    const findings: RawFinding[] = [];
    for (const info of laravelAnalysis(context).scopes) {
      for (const call of callsIn(info.scope)) {
        if (call.kind !== 'call') continue;
        const stat = staticCall(call);
        const method = methodCall(call);
        const isExec =
          (stat && /Schedule$/.test(stat[0]) && stat[1] === 'exec') ||
          (method && method[1] === 'exec' && /schedule/i.test(nameOf(method[0]) ?? ''));
        const arg = args(call)[0];
        if (!isExec || !arg) continue;
        const flat = flatten(arg, info.scope);
        const unsafe = flat.operands.filter((op) => !op.safe && op.provenance !== 'trusted');
        if (unsafe.length > 0)
          findings.push(
            judgedByProvenance(
              at(
                info.file,
                call,
                `the scheduler runs a shell command built from ${unsafe.map((op) => op.label).join(', ')} on the host`,
              ),
              unsafe,
              'Schedule::exec',
            ),
          );
      }
    }
    return outcome(findings);
  },
});

const TASK_LIKE = /task|schedul|cron/i;

export const job028 = defineRule({
  id: 'JOB-028',
  title: 'Scheduled-task endpoints without authorization, or disabled policies',
  severity: 'high',
  target: 'laravel-src',
  covers: ['S1:JOB-028', 'S1:JOB-004'],
  cwe: ['CWE-862'],
  description:
    'Controller/Livewire methods that create, update or delete task-like models with no $this->authorize/Gate/can check (and no can: route middleware), and policy methods that return true unconditionally.',
  fix: 'A policy per resource plus team-scoped queries; call authorize() before saving.',
  check: (context) => {
    const findings: RawFinding[] = [];
    const routes = context.php.files
      .filter((f) => f.path.startsWith('routes/'))
      .map((f) => f.text)
      .join('\n');
    for (const info of laravelAnalysis(context).scopes) {
      const path = info.file.path;
      if (
        info.cls &&
        path.startsWith('app/Policies/') &&
        info.method &&
        info.scope.body.kind === 'block'
      ) {
        const statements = (info.scope.body.children as PhpNode[]) ?? [];
        const only = statements.length === 1 ? statements[0] : undefined;
        // viewAny() lets a user open the list; what the list holds is the query's scope (teams),
        // so `return true` there is Laravel's usual form, not a missing check.
        const listing = info.method.toLowerCase() === 'viewany';
        if (!listing && only?.kind === 'return' && literal(only.expr as PhpNode) === 'true') {
          findings.push(
            at(
              info.file,
              only,
              `${info.cls.shortName}::${info.method}() allows everyone (return true)`,
            ),
          );
        }
        continue;
      }
      if (!info.cls || !/^app\/(Http\/Controllers|Livewire)\//.test(path) || !info.method) continue;
      let writes: PhpNode | null = null;
      let authorized = false;
      walkOwn(info.scope.body, (node) => {
        if (node.kind !== 'call') return true;
        const stat = staticCall(node);
        const method = methodCall(node);
        const name = stat?.[1] ?? method?.[1] ?? calledFunction(node);
        if (
          name === 'authorize' ||
          name === 'can' ||
          name === 'cannot' ||
          name === 'authorizeresource' ||
          (stat && /Gate$/.test(stat[0]))
        )
          authorized = true;
        const target = stat
          ? stat[0]
          : method
            ? (nameOf(method[0]) ?? methodCall(method[0])?.[1] ?? '')
            : '';
        if (
          ['create', 'save', 'update', 'delete', 'updateorcreate', 'forcedelete'].includes(
            name ?? '',
          ) &&
          TASK_LIKE.test(target)
        )
          writes = node;
        return true;
      });
      const routeProtected = new RegExp(
        `${info.cls.shortName}[^;]*can:|can:[^;]*${info.cls.shortName}`,
      ).test(routes);
      if (writes && !authorized && !routeProtected) {
        findings.push(
          at(
            info.file,
            writes,
            `${info.cls.shortName}::${info.method}() changes a scheduled task with no authorization check`,
          ),
        );
      }
    }
    return outcome(findings);
  },
});
