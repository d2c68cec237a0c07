import { QscaleError } from '@qscale/contracts';

export type PolicyErrorCode =
  /** `createPolicyPipeline` or `shareHostCapacity` was given settings out of range. */
  | 'POLICY_CONFIG_INVALID'
  /** A policy plugin returned something that is not a Decision. */
  | 'POLICY_BAD_DECISION';

/** Every error @qscale/policies throws. */
export class PolicyError extends QscaleError<PolicyErrorCode> {}
Object.defineProperty(PolicyError.prototype, 'name', {
  value: 'PolicyError',
  writable: true,
  configurable: true,
});
