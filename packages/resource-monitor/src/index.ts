// @qscale/resource-monitor: Container-correct CPU and memory figures from cgroup v1/v2 and /proc, and host capacity for workers.
// The public API lands with its issue; see README.md.
export {};
