// @qscale/strategies: Pure scaling strategies: from a ScalingContext to a Recommendation.
// The public API lands with its issue; see README.md.
export {};
