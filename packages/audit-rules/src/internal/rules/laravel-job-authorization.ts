import {
  calledFunction,
  literal,
  methodCall,
  nameOf,
  type PhpNode,
  staticCall,
  walk,
} from '../php/ast.js';
import { callsIn, enclosingFunction, type ScopeInfo, walkOwn } from '../php/scopes.js';
import type { RawFinding } from '../types.js';
import { defineRule } from './define.js';
import { at, laravelAnalysis, outcome } from './helpers.js';
import { fileOf, queued } from './laravel-job-sites.js';

// JOB-004, JOB-028: authorization around jobs. Checks inside a job that rely on the HTTP auth
// context a worker does not have, and endpoints that change scheduled tasks with no
// authorization (or policies that allow everyone).

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

const TASK_LIKE = /task|schedul|cron/i;

const AUTHORIZING = new Set(['authorize', 'can', 'cannot', 'authorizeresource']);

function authorizes(info: ScopeInfo): boolean {
  let found = false;
  walkOwn(info.scope.body, (node) => {
    if (node.kind !== 'call') return true;
    const stat = staticCall(node);
    const name = stat?.[1] ?? methodCall(node)?.[1] ?? calledFunction(node) ?? '';
    if (AUTHORIZING.has(name) || (stat && /Gate$/.test(stat[0]))) found = true;
    return !found;
  });
  return found;
}

/**
 * A private or protected helper (the browser cannot call it, nor a route) whose every caller
 * in its class checks authorization first: the check is the caller's.
 */
function authorizedByEveryCaller(scopes: readonly ScopeInfo[], helper: ScopeInfo): boolean {
  const node = helper.cls?.methods.get(helper.method ?? '');
  if (!node || String(node.visibility || 'public') === 'public') return false;
  const callers = scopes.filter(
    (other) =>
      other.cls === helper.cls &&
      other !== helper &&
      callsIn(other.scope).some((call) => {
        const method = call.kind === 'call' ? methodCall(call) : null;
        return method?.[1] === helper.method && nameOf(method[0]) === 'this';
      }),
  );
  // A call inside a closure (`DB::transaction(function () {…})`) is checked by its method.
  return (
    callers.length > 0 &&
    callers.every((caller) => authorizes(caller) || authorizes(enclosingFunction(caller).info))
  );
}

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
        // The same for an ability that takes the user alone (create, manage own tokens): there
        // is no resource to check; what it makes belongs to the user or their team.
        const userOnly = info.scope.params.size <= 1;
        const listing = info.method.toLowerCase() === 'viewany' || userOnly;
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
      const helperOfAuthorized =
        writes && !authorized && authorizedByEveryCaller(laravelAnalysis(context).scopes, info);
      if (writes && !authorized && !routeProtected && !helperOfAuthorized) {
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
