// @qscale/simulator: Discrete-event simulation of queues and workers, to test strategies and policies.
// The public API lands with its issue; see README.md.
export {};
