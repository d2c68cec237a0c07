import { DEFAULTS as READER_DEFAULTS } from '@qscale/metrics-reader';
import { ALERT_DEFAULTS } from './alerts.js';

/**
 * Every default of the configuration in one place. Durations are in milliseconds.
 */
export const DEFAULTS = {
  /** Redis used by every queue that does not name its own. @defaultValue `redis://127.0.0.1:6379` */
  redisUrl: 'redis://127.0.0.1:6379',
  /** Period of the control loop. @defaultValue 2000 (2s) */
  tickMs: 2_000,
  /**
   * How often the queues that have no worker (and had no job at the last tick) are checked
   * for a first job between ticks, with counting commands only; one found runs a tick at
   * once. 0 turns it off: a first job then waits for the next tick. @defaultValue 250
   */
  wakePollMs: 250,
  http: {
    /** Serve /healthz, /metrics and /api/state. @defaultValue true */
    enabled: true,
    /** Loopback by default: nothing is exposed to the network unless asked. @defaultValue `127.0.0.1` */
    host: '127.0.0.1',
    /** @defaultValue 9730 */
    port: 9_730,
  },
  limits: {
    /** Workers of all queues together on this host. @defaultValue 64 */
    maxWorkers: 64,
    /** Share of the CPU limit workers may fill. @defaultValue 85 */
    cpuMaxPercent: 85,
    /**
     * Whether CPU use limits the workers. Turn off for I/O-bound workers on a host shared
     * with other work; memory and maxWorkers still limit them. @defaultValue true
     */
    cpuEnforce: true,
    /** Share of the memory limit workers may fill. @defaultValue 85 */
    memoryMaxPercent: 85,
  },
  supervision: {
    /** Where worker PIDs are recorded, relative to the config file. @defaultValue `.qscale/state.json` */
    stateFile: '.qscale/state.json',
    /** What to do with workers of a previous run that are still alive. @defaultValue `adopt` */
    previousWorkers: 'adopt' as 'adopt' | 'stop',
    /** Refuse to start workers as root when no `user` is configured. @defaultValue false */
    refuseRoot: false,
  },
  log: {
    /** @defaultValue `info` */
    level: 'info' as 'debug' | 'info' | 'warn' | 'error',
    /** JSON lines, or human-readable on a TTY with `auto`. @defaultValue `auto` */
    format: 'auto' as 'auto' | 'json' | 'pretty',
  },
  /** The `alerts` section's defaults. */
  alerts: ALERT_DEFAULTS,
  queue: {
    /** @defaultValue `predictive` */
    strategy: 'predictive',
    slo: {
      /** Target pickup wait. @defaultValue 30000 (30s) */
      pickupMs: 30_000,
      /** Share of jobs that must meet it. @defaultValue 95 */
      percentile: 95,
    },
    workers: {
      /** @defaultValue 0 */
      min: 0,
      /** @defaultValue 10 */
      max: 10,
      /** Jobs one worker runs at once. @defaultValue 1 */
      concurrency: 1,
    },
    stop: {
      /** Sent to the worker's process group to stop it gracefully. @defaultValue `['SIGTERM']` */
      signals: ['SIGTERM'] as readonly string[],
      /** Time a stopping worker gets before SIGKILL. @defaultValue 30000 (30s) */
      graceMs: 30_000,
    },
    spawn: {
      /** Spawn-to-first-pickup estimate until one is measured. @defaultValue 2000 (2s) */
      latencyMs: 2_000,
      /** Uptime after which a worker counts as running, not crashed. @defaultValue 1000 (1s) */
      minUptimeMs: 1_000,
    },
    laravel: {
      /** The reader's look at a Laravel queue's timing keys between ticks. @defaultValue 100 */
      probeIntervalMs: READER_DEFAULTS.laravelProbeIntervalMs,
    },
    restart: {
      /** First delay before restarting a crashed worker; doubles on each crash in a row. @defaultValue 500 */
      backoffInitialMs: 500,
      /** Cap of that delay. @defaultValue 30000 (30s) */
      backoffMaxMs: 30_000,
      /** A crash after this much uptime starts the delays from the first again. @defaultValue 30000 (30s) */
      backoffResetMs: 30_000,
      /** Failed starts in a row after which the queue is degraded (no spawns, one probe per cool-off). @defaultValue 5 */
      maxFailedStarts: 5,
      /** Wait between probes of a degraded queue. @defaultValue 60000 (60s) */
      coolOffMs: 60_000,
    },
    scaling: {
      /** A reversal (up then down, or down then up) waits this long. @defaultValue 30000 (30s) */
      cooldownMs: 30_000,
      /**
       * Scale-down uses the highest recommendation of this window; the value bench/strategies
       * measured `predictive` with. @defaultValue 30000 (30s)
       */
      downStabilizationMs: 30_000,
      /** Weight in the fair share of host capacity. @defaultValue 1 */
      priority: 1,
      /**
       * Ticks a queue must stay drained with no arrivals (and longer than its recent quiet
       * gaps) before a scale-down skips the stabilisation window; the policies' and the
       * predictive strategy's default. @defaultValue 2
       */
      quietAfterTicks: 2,
      /** How far back those quiet gaps are remembered. @defaultValue 300000 (5 min) */
      quietMemoryMs: 300_000,
    },
  },
} as const;
