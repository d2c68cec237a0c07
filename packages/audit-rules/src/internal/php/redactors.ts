import {
  args,
  calledFunction,
  literal,
  methodCall,
  type PhpNode,
  staticCall,
  walk,
} from './ast.js';
import { ownNodesOf, type ScopeInfo } from './scopes.js';

// Redactors recognised from their bodies, not their names: a function or method that returns a
// value and replaces text with a mask (`str_replace($secret, '******', $text)`,
// `preg_replace('/token=\S+/', 'token=<redacted>', $text)`, `Str::mask($key, '*', 4)`). A plain
// quoting helper (`str_replace("'", "'\\''", $cmd)`) has no mask and is not a redactor.

const REPLACERS = new Set(['str_replace', 'str_ireplace', 'preg_replace', 'substr_replace']);
const STR_METHODS = new Set(['replace', 'mask', 'replacematches']);
/** A replacement that hides the text rather than rewriting it. */
const MASK =
  /\*{3,}|x{4,}|redacted|hidden|masked|removed|filtered|<[a-z][\w -]*>|\[[a-z][\w -]*\]/i;

function hasMask(node: PhpNode | undefined): boolean {
  if (!node) return false;
  let found = false;
  walk(node, (n) => {
    const text = literal(n);
    if (text !== null && (MASK.test(text) || (text.length > 0 && /^\*+$/.test(text)))) found = true;
    return !found;
  });
  return found;
}

/** True when the function's own body returns a value and masks text on the way. */
export function isRedactorBody(info: ScopeInfo): boolean {
  if (ownNodesOf(info.scope, 'return').length === 0) return false;
  return ownNodesOf(info.scope, 'call').some((call) => {
    const fn = calledFunction(call);
    const stat = staticCall(call);
    const method = stat?.[1] ?? methodCall(call)?.[1];
    if (fn && REPLACERS.has(fn)) return hasMask(args(call)[1]);
    if (fn === 'preg_replace_callback') return hasMask(args(call)[1]);
    if (method === 'mask') return true;
    return method !== undefined && STR_METHODS.has(method) && args(call).some(hasMask);
  });
}
