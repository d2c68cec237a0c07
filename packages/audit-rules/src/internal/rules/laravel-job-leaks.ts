import { isSecretName } from '../patterns.js';
import {
  args,
  calledFunction,
  literal,
  methodCall,
  nameOf,
  type PhpNode,
  staticCall,
  walk,
} from '../php/ast.js';
import { callsIn, type ScopeInfo } from '../php/scopes.js';
import type { RawFinding } from '../types.js';
import { defineRule } from './define.js';
import { at, laravelAnalysis, outcome } from './helpers.js';
import { queued } from './laravel-job-sites.js';

// JOB-005, JOB-009: what a job leaks into places that keep it. Exception messages, stack traces
// and secret-bearing URLs that end up in failed_jobs, Horizon and logs, and command text or
// output persisted without a redactor.

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

/** The name a value goes by in a message or a log call: `$output`, `$this->output`. */
function operandName(node: PhpNode): string | null {
  if (node.kind === 'variable') return String(node.name);
  return node.kind === 'propertylookup' ? nameOf(node.offset) : null;
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
              const name = operandName(n);
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
            const name = operandName(n);
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
