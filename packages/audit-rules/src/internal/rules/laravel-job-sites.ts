import {
  args,
  calledFunction,
  findAll,
  nameOf,
  type PhpNode,
  staticCall,
  walk,
} from '../php/ast.js';
import type { PhpClass, PhpFile } from '../php/index-project.js';
import { callsIn, type ScopeInfo } from '../php/scopes.js';
import type { ProjectContext } from '../types.js';

// Where the JOB-* rules look: the queued classes of a Laravel project and their properties, the
// dispatch sites that create jobs with the arguments they pass, and the source of a body. Shared
// by the rule modules laravel-job-*.ts, one module per rule family.

export function queued(context: ProjectContext): PhpClass[] {
  return [...context.php.classes.values()].filter((cls) => context.php.isQueued(cls.fqn));
}

export function fileOf(context: ProjectContext, cls: PhpClass): PhpFile {
  return context.php.file(cls.file) as PhpFile;
}

export function propNode(cls: PhpClass, name: string): PhpNode {
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
export function dispatchSites(
  info: ScopeInfo,
): { call: PhpNode; job: string; jobArgs: PhpNode[] }[] {
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

/** The value a variable argument was last assigned in the scope, else the argument itself. */
export function assignedValue(arg: PhpNode, info: ScopeInfo): PhpNode {
  if (arg.kind !== 'variable') return arg;
  const defs = (info.scope.defs.get(String(arg.name)) ?? []).filter(
    (d) => d.operator === '=' && !d.push,
  );
  return defs.at(-1)?.node ?? arg;
}

/**
 * The source lines of a function or method's body: JOB-017 and JOB-018 look in it for a guard or
 * a cleanup, JOB-026 for a cron check inside a helper.
 */
export function sourceOf(info: ScopeInfo): string {
  const loc = info.scope.body.loc;
  if (!loc) return '';
  return info.file.text
    .split('\n')
    .slice(loc.start.line - 1, loc.end.line)
    .join('\n');
}
