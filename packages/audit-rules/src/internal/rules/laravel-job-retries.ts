import { findAll, literal, methodCall, nameOf, type PhpNode, walk } from '../php/ast.js';
import type { PhpClass } from '../php/index-project.js';
import type { ProjectContext, RawFinding } from '../types.js';
import { defineRule } from './define.js';
import { at, laravelAnalysis, outcome } from './helpers.js';
import { fileOf, propNode, queued } from './laravel-job-sites.js';

// JOB-024, JOB-025: how a job retries and fails. The retry policy read from a queued class
// (tries, maxExceptions, backoff, retryUntil, uniqueness, overlap middleware) judged against the
// job's side effects, and stateful jobs with no failed() handler or one that re-throws.

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
