/** Every default of @qscale/resource-monitor in one place. */
export const DEFAULTS = {
  /** Where procfs is mounted. @defaultValue `/proc` */
  procRoot: '/proc',
  /** Where sysfs is mounted; cgroup hierarchies are found under `<sysRoot>/fs/cgroup`. @defaultValue `/sys` */
  sysRoot: '/sys',
  /** Limits (quota, memory limit, host size) are read again after this long; use every call. @defaultValue 60000 (60 s) */
  limitsRefreshMs: 60_000,
  /** CPU of one worker when none of its queue runs and nothing is configured. @defaultValue 0.2 */
  perWorkerCores: 0.2,
  /** Memory of one worker when none of its queue runs and nothing is configured. @defaultValue 134217728 (128 MiB) */
  perWorkerBytes: 128 * 1024 * 1024,
  /** Floor of a per-worker CPU cost: an idle worker measured at 0 cores still costs this. @defaultValue 0.01 */
  minPerWorkerCores: 0.01,
  /** Floor of a per-worker memory cost. @defaultValue 16777216 (16 MiB) */
  minPerWorkerBytes: 16 * 1024 * 1024,
  /**
   * Half-life of the smoothing of measured per-worker costs (`createWorkerCostTracker`): a
   * tick's mean moves the estimate halfway after this long. @defaultValue 20000 (20 s)
   */
  costHalfLifeMs: 20_000,
} as const;
