import { args, literal, methodCall, nameOf, type PhpNode, staticCall } from '../php/ast.js';
import { flatten } from '../php/command.js';
import { keyOf } from '../php/project-facts.js';
import { callsIn, type ScopeInfo, walkOwn } from '../php/scopes.js';
import type { RawFinding } from '../types.js';
import { defineRule } from './define.js';
import { at, judgedByProvenance, laravelAnalysis, outcome } from './helpers.js';
import { sourceOf } from './laravel-job-sites.js';

// JOB-026, JOB-027: the scheduler. Cron expressions users store without a cron validator, and
// scheduled shell commands built from non-literal input.

const CRON_VALIDATORS = /isValidExpression|validateCron|new\s+CronExpression|'cron'|"cron"/;

/** A scope that calls a project helper whose own body validates a cron expression. */
function callsCronHelper(info: ScopeInfo, helpers: ReadonlyMap<string, ScopeInfo>): boolean {
  const facts = info.scope.facts;
  if (!facts) return false;
  return callsIn(info.scope).some((call) => {
    const key = call.kind === 'call' ? facts.resolve(call, info.scope) : null;
    const helper = key ? helpers.get(key) : undefined;
    return helper !== undefined && helper !== info && CRON_VALIDATORS.test(sourceOf(helper));
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
