// @qscale/audit-rules: Security checks over the jobs-and-queues setup: config, Redis, queue data, host and project source.
// The public API lands with its issue; see README.md.
export {};
