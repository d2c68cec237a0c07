import type { QscaleConfig } from './schema.js';

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/**
 * Settings that are valid but probably not what the user wants. `qscale validate` prints
 * them; the daemon logs them at start-up.
 */
export function configWarnings(config: QscaleConfig): string[] {
  const warnings: string[] = [];
  if (config.http.enabled && !LOOPBACK.test(config.http.host) && config.http.token === null) {
    warnings.push(
      `http.host is ${config.http.host} and http.token is not set: the status API and metrics are open to the network`,
    );
  }
  for (const queue of config.queues) {
    if (queue.recycle.maxLifetimeMs !== null && queue.recycle.maxLifetimeMs < queue.stop.graceMs) {
      warnings.push(
        `queues.${queue.name}: recycle.lifetime is shorter than stop.grace, so workers may spend most of their life stopping`,
      );
    }
  }
  const minimums = config.queues.reduce((sum, queue) => sum + queue.workers.min, 0);
  if (minimums > config.limits.maxWorkers) {
    warnings.push(
      `the queues' workers.min add up to ${minimums}, above limits.maxWorkers (${config.limits.maxWorkers}): minimums win, the host limit will be exceeded`,
    );
  }
  return warnings;
}
