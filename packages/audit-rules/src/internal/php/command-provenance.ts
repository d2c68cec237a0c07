import { calledFunction, nameOf, type PhpNode, staticCall, thisProperty } from './ast.js';
import { type Scope, variableKey } from './command-scope.js';
import { TRUSTED_NAME, TRUSTED_STATIC, UNTRUSTED_ROOTS } from './command-trust-lists.js';

// P-PROV: where a value comes from (untrusted request or model input, unknown, or trusted),
// judged from its name, its receiver and the project facts (validated attributes, job
// arguments, sanitising accessors). Whether it is escaped (P-SAFE) is command-opaque.ts's part.

export type Provenance = 'untrusted' | 'unknown' | 'trusted';

export function worst(a: Provenance, b: Provenance): Provenance {
  if (a === 'untrusted' || b === 'untrusted') return 'untrusted';
  if (a === 'unknown' || b === 'unknown') return 'unknown';
  return 'trusted';
}

export function isRequestObject(node: PhpNode): boolean {
  const name = nameOf(node);
  if (name && UNTRUSTED_ROOTS.has(name.toLowerCase())) return true;
  if (node.kind === 'call' && calledFunction(node) === 'request') return true;
  return thisProperty(node) === 'request';
}

export function classValidated(scope: Scope, key: string): boolean {
  const cls = scope.owner?.cls;
  return cls ? scope.facts?.classValidated.get(cls.fqn)?.has(key) === true : false;
}

/** P-PROV for a value: where it comes from. */
export function provenanceOf(node: PhpNode, scope: Scope): Provenance {
  const key = variableKey(node);
  if (key && (scope.validated.has(key) || classValidated(scope, key))) return 'trusted';
  const lastName = key?.split('.').at(-1) ?? nameOf(node) ?? '';
  if (lastName && TRUSTED_NAME.test(lastName)) return 'trusted';
  if (node.kind === 'variable') {
    const name = String(node.name);
    if (UNTRUSTED_ROOTS.has(name.toLowerCase())) return 'untrusted';
    return 'unknown';
  }
  if (node.kind === 'offsetlookup') {
    const base = node.what as PhpNode;
    return isRequestObject(base) ? 'untrusted' : provenanceOf(base, scope);
  }
  if (node.kind === 'propertylookup' || node.kind === 'nullsafepropertylookup') {
    const prop = nameOf(node.offset) ?? '';
    if (scope.options.validatedAttributes.includes(prop)) return 'trusted';
    if (scope.facts?.numericAttributes.has(prop)) return 'trusted';
    const owner = node.what as PhpNode;
    if (isRequestObject(owner)) return 'untrusted';
    const own = thisProperty(node);
    if (own !== null) {
      if (scope.jobParams.has(own)) {
        // Every dispatch site passes a value the code made itself: the job's data is trusted.
        const passed = scope.owner?.cls
          ? scope.facts?.jobArguments.get(`${scope.owner.cls.fqn}.${own}`)
          : undefined;
        return passed?.every((p) => p === 'trusted') ? 'trusted' : 'untrusted';
      }
      // Inside a model, `$this->git_commit_sha` is a column users edit, like `$app->git_commit_sha`.
      const cls = scope.owner?.cls;
      const model = cls && scope.facts?.index.isModel(cls.fqn);
      if (model && !cls.properties.some((p) => p.name === own)) {
        return sanitisedBy(node.what as PhpNode, own, scope, cls.shortName)
          ? 'trusted'
          : 'untrusted';
      }
      return 'unknown';
    }
    if (sanitisedBy(owner, prop, scope)) return 'trusted';
    // `Carbon::now()->timestamp`, `$this->getName()->value`: what a call returns, not a model.
    if (owner.kind === 'call') {
      const stat = staticCall(owner);
      return stat && TRUSTED_STATIC.test(`${stat[0].split('\\').at(-1)}::${stat[1]}`)
        ? 'trusted'
        : 'unknown';
    }
    // A model attribute ($server->ip, $storage->name): user-editable unless declared validated.
    return 'untrusted';
  }
  return 'unknown';
}

/** `$server->ip` where a model's accessor for `ip` strips unsafe characters. */
function sanitisedBy(owner: PhpNode, attribute: string, scope: Scope, model?: string): boolean {
  const models = scope.facts?.sanitisedAttributes.get(attribute);
  if (!models) return false;
  const name = (model ?? thisProperty(owner) ?? nameOf(owner) ?? '').toLowerCase();
  // The receiver is named after the model (`$server`, `$this->server`), or one model has it.
  return models.has(name) || models.size === 1;
}
