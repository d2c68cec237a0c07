// @qscale/process-supervisor: Worker pools that spawn, stop, restart and reap queue workers without a shell and without orphans.
// The public API lands with its issue; see README.md.
export {};
