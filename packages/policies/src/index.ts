// @qscale/policies: Pure scaling policies: bounds, stabilisation, cooldown, steps, capacity and fair share, with a trace of every edit.
// The public API lands with its issue; see README.md.
export {};
