import type { Rule, Target } from '../types.js';

/** Keeps a rule's literal target so its `check` gets the right context type. */
export function defineRule<T extends Target>(rule: Rule<T>): Rule<T> {
  return Object.freeze(rule);
}
