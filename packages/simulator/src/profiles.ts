import type { PolicySettings } from '@qscale/policies';

/**
 * The policy settings each strategy runs with unless told otherwise. qscale's own strategies
 * use the pipeline's defaults (30 s reversal cooldown, 30 s scale-down stabilisation, released for a drained, quiet queue). The
 * baselines bring the damping of the system they reproduce, and nothing more, so that each is
 * benchmarked as its users run it:
 * - `laravel-hybrid`: the anchor's 60 s reversal cooldown and its ConservativeScaleDownPolicy
 *   (at most 25 % of the workers, at least 1, removed per decision); no stabilisation window;
 * - `horizon`: its balance cooldown and max shift are inside the strategy; no extra policy;
 * - `hpa`: its stabilisation window and rate limits are inside the strategy; no extra policy.
 */
export function policyProfile(strategy: string): PolicySettings {
  switch (strategy) {
    case 'laravel-hybrid':
      return { cooldownMs: 60_000, downStabilizationMs: 0, maxStepDownRatio: 0.25 };
    case 'horizon':
    case 'hpa':
      return { cooldownMs: 0, downStabilizationMs: 0 };
    default:
      return {};
  }
}
