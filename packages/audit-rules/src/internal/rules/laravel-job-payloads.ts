import { isSecretName } from '../patterns.js';
import {
  args,
  calledFunction,
  methodCall,
  nameOf,
  type PhpNode,
  thisProperty,
  walk,
} from '../php/ast.js';
import { callsIn } from '../php/scopes.js';
import type { ProjectContext, RawFinding } from '../types.js';
import { defineRule } from './define.js';
import { at, laravelAnalysis, outcome } from './helpers.js';
import { assignedValue, dispatchSites, fileOf, propNode, queued } from './laravel-job-sites.js';

// JOB-001, JOB-002, JOB-002M, JOB-003: what a job carries in its payload. Raw request bodies,
// secrets and whole models serialized in plaintext, and blobs that make payloads unbounded.

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
      for (const prop of cls.properties) {
        if (prop.name === 'shouldBeEncrypted' || !isSecretName(prop.name)) continue;
        if (prop.type && /^\??(int|bool|float)$/.test(prop.type)) continue;
        // A model under SerializesModels is queued as its class and key, not its attributes.
        const type = prop.type?.replace(/^\?/, '');
        if (type && context.php.isModel(type) && serializesModels(context, cls.fqn)) continue;
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

const SERIALIZES_MODELS = [
  'Illuminate\\Queue\\SerializesModels',
  'Illuminate\\Foundation\\Queue\\Queueable',
];
/** Framework base classes that use SerializesModels themselves. */
const SERIALIZING_BASES = /^Illuminate\\(Notifications\\Notification|Mail\\Mailable)$/;

function serializesModels(context: ProjectContext, fqn: string): boolean {
  if (SERIALIZES_MODELS.some((trait) => context.php.usesTrait(fqn, trait))) return true;
  const seen = new Set<string>();
  for (let cls = context.php.classes.get(fqn); cls && !seen.has(cls.fqn); ) {
    seen.add(cls.fqn);
    if (cls.extends && SERIALIZING_BASES.test(cls.extends)) return true;
    cls = cls.extends ? context.php.classes.get(cls.extends) : undefined;
  }
  return false;
}

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
