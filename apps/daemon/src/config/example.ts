/**
 * The commented configuration `qscale init` writes. It is valid as written (a test says so),
 * so a new user can run `qscale validate` on it straight away and edit from there.
 */
export function exampleConfig(): string {
  return `# qscale configuration. Reference: every key, its unit and its default are in the
# JSON Schema shipped as @qscale/daemon/schema.json.
#
# Durations take a unit: 500ms, 30s, 5m, 1h. Sizes take one too: 512MB, 256MiB, 2GiB.
# \${NAME} and \${NAME:-default} are replaced with environment variables (as text, never
# executed); unquoted, \${PORT} becomes a number when its value is one.

redis:
  url: "\${REDIS_URL:-redis://127.0.0.1:6379}"

# How often the control loop looks at the queues and decides. Between ticks, queues with no
# worker are checked for a first job every wakePoll (0s: off), so scale-from-zero is quick.
tick: 2s
wakePoll: 250ms

# Status API and Prometheus metrics. Loopback only unless you change host; set a token
# (16+ characters) before exposing it.
http:
  host: 127.0.0.1
  port: 9730

# What this host may give to workers, all queues together. Size maxWorkers to the host:
# qscale audit flags more than 8 per CPU.
limits:
  maxWorkers: 16
  cpu: { maxPercent: 85 }
  memory: { maxPercent: 85 }

# Never run workers as root: when the daemon itself runs as root, give each queue a user
# (and group) to run its workers as.
supervision:
  refuseRoot: true

# Settings every queue inherits; a queue overrides any of them.
defaults:
  strategy: predictive
  slo: { pickup: 30s, percentile: 95 }   # 95% of jobs start within 30 s
  workers: { min: 0, max: 10 }
  stop: { signal: SIGTERM, grace: 30s }  # then SIGKILL to the worker's process group
  recycle: { memory: 512MiB, lifetime: 6h }  # replace a worker that grows or ages past this

queues:
  emails:
    driver: bullmq            # laravel | bullmq | sidekiq | rq | celery
    prefix: bull
    slo: { pickup: 10s }
    workers: { min: 1, max: 12 }
    command: [node, workers/emails.js]   # an argv array: no shell, ever
    env:                                 # the worker's whole environment (plus PATH)
      NODE_ENV: production

  reports:
    driver: laravel
    prefix: laravel_database_
    slo: { pickup: 5m, percentile: 99 }
    workers: { min: 0, max: 4 }
    # --timeout below the connection's retry_after (Laravel's default 90 s: raise it to 660
    # in config/queue.php for these jobs), a finite --tries, and a --memory cap in MB.
    command: [php, artisan, queue:work, redis, --queue=reports, --timeout=600, --tries=3, --memory=256]
    stop: { grace: 11m }      # a running report may take --timeout (10 min), plus a margin

# Worker groups: one worker command serving several queues, each queue with its own SLO.
# Declare the member queues above without a command, then the group's pool here. The
# discipline is how the backend's worker takes its queues (laravel, rq: priority, in order;
# sidekiq: weighted, with weights as in -q high,3; celery: round-robin).
# groups:
#   web:
#     queues: [high, default]
#     command: [php, artisan, queue:work, redis, "--queue=high,default", --tries=3]
#     workers: { min: 1, max: 8 }
`;
}
