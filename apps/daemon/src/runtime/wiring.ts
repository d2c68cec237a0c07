import { isSecretName, isSecretValue, urlPasswords } from '@qscale/contracts';
import type { QueueSource } from '@qscale/metrics-reader';
import type { PolicySettings, QueueAllocationSettings } from '@qscale/policies';
import type { MeasuredCost, QueueWorkers } from '@qscale/resource-monitor';
import { alertSecrets } from '../config/alerts.js';
import type { QscaleConfig, QueueConfig, RedisConnection } from '../config/schema.js';

// Pure mappings from the resolved configuration to each package's options. Keeping them in
// one place means a config field reaches its package through exactly one line.

export function readerSource(queue: QueueConfig): QueueSource {
  // Behind a Sentinel the url only names the deployment in messages: the reader asks the
  // Sentinels where the master is.
  const { url, ...rest } = queue.redis;
  return {
    queue: queue.name,
    driver: queue.driver,
    backendName: queue.backendName,
    prefix: queue.prefix,
    redis: queue.redis.sentinel ? rest : { url, ...rest },
    ...(queue.laravel
      ? {
          laravel: {
            retryAfter: queue.laravel.retryAfterS,
            probeIntervalMs: queue.laravel.probeIntervalMs,
          },
        }
      : {}),
    ...(queue.celery
      ? {
          celery: {
            acksLate: queue.celery.acksLate,
            ...(queue.celery.probeIntervalMs === null
              ? {}
              : { probeIntervalMs: queue.celery.probeIntervalMs }),
          },
        }
      : {}),
  };
}

/** What the reader reads for a pool entry: the queue itself, or each member of a group. */
export function readerSources(queue: QueueConfig): QueueSource[] {
  return (queue.workerGroup?.members ?? [queue]).map(readerSource);
}

/** The policy pipeline's settings for a queue (its `scaling` block; null keeps the default). */
export function pipelineSettings(queue: QueueConfig): PolicySettings {
  const {
    cooldownMs,
    downStabilizationMs,
    maxStepUp,
    maxStepDown,
    maxStepDownRatio,
    quietAfterTicks,
    quietMemoryMs,
  } = queue.scaling;
  return {
    cooldownMs,
    downStabilizationMs,
    maxStepUp,
    maxStepDown,
    maxStepDownRatio,
    quietAfterTicks,
    quietMemoryMs,
  };
}

/**
 * The strategy's options: `predictive` applies the same quiet rule as the policies, so it
 * takes `scaling.quietAfterTicks`/`quietMemory` unless its own options set them.
 */
export function strategyOptions(queue: QueueConfig): Record<string, unknown> {
  const { name, options } = queue.strategy;
  if (name !== 'predictive') return options;
  return {
    quietAfterTicks: queue.scaling.quietAfterTicks,
    quietMemoryMs: queue.scaling.quietMemoryMs,
    ...options,
  };
}

/** What the allocation of the host's slots across queues needs of each queue. */
export function shareSettings(config: QscaleConfig): Record<string, QueueAllocationSettings> {
  return Object.fromEntries(
    config.queues.map((queue) => [
      queue.name,
      {
        min: queue.workers.min,
        max: queue.workers.max,
        priority: queue.scaling.priority,
        // A granted slot is held as long as the queue's own reversal cooldown.
        cooldownMs: queue.scaling.cooldownMs,
      },
    ]),
  );
}

/** One entry per queue for the resource monitor's capacity: whose workers are whose. */
export function capacityWorkers(
  queue: QueueConfig,
  runningPids: readonly number[],
  liveWorkers: number,
  measured?: MeasuredCost,
): QueueWorkers {
  return {
    queue: queue.name,
    runningPids,
    liveWorkers,
    resources: queue.resources,
    ...(measured ? { measured } : {}),
  };
}

/**
 * Every value of the configuration that must never appear in a log line: Redis passwords (also
 * inside URLs), the HTTP token, and worker variables whose name says secret (`DB_PASSWORD`,
 * `STRIPE_SECRET_KEY`, `SENTRY_DSN`) or that carry credentials in a URL. Ordinary values (queue
 * names, hosts, `production`) are never secrets: redacting them garbles every line.
 */
export function secretsOf(config: QscaleConfig): string[] {
  const secrets = new Set<string>();
  const addRedis = (redis: RedisConnection) => {
    if (redis.password) secrets.add(redis.password);
    if (redis.sentinel?.password) secrets.add(redis.sentinel.password);
    for (const password of urlPasswords(redis.url)) secrets.add(password);
  };
  addRedis(config.redis);
  if (config.http.token) secrets.add(config.http.token);
  if (config.externalScaler?.token) secrets.add(config.externalScaler.token);
  for (const secret of alertSecrets(config.alerts)) secrets.add(secret);
  for (const queue of config.queues) {
    for (const member of queue.workerGroup?.members ?? []) addRedis(member.redis);
    addRedis(queue.redis);
    for (const [name, value] of Object.entries(queue.env)) {
      if (isSecretName(name) && isSecretValue(value)) secrets.add(value);
      for (const password of urlPasswords(value)) secrets.add(password);
    }
  }
  return [...secrets];
}

/** Whether two queue configurations read the same backend queue the same way. */
export function sameSource(a: QueueConfig, b: QueueConfig): boolean {
  return JSON.stringify(readerSources(a)) === JSON.stringify(readerSources(b));
}

/** Whether a pool must be updated (rolling replacement) for the new settings. */
export function samePool(a: QueueConfig, b: QueueConfig): boolean {
  const poolFields = (queue: QueueConfig) =>
    JSON.stringify([
      queue.command,
      queue.env,
      queue.cwd,
      queue.user,
      queue.group,
      queue.stop,
      queue.spawn.minUptimeMs,
      queue.recycle,
      queue.restart,
      queue.workers.concurrency,
    ]);
  return poolFields(a) === poolFields(b);
}

/** Whether the strategy and policies must be created again (their state is dropped). */
export function sameDecider(a: QueueConfig, b: QueueConfig): boolean {
  const fields = (queue: QueueConfig) =>
    JSON.stringify([
      queue.strategy,
      queue.scaling,
      queue.slo,
      queue.workers,
      // A group's sizer knows its members, their order, SLOs and the discipline.
      queue.workerGroup && [
        queue.workerGroup.discipline,
        queue.workerGroup.weights,
        queue.workerGroup.members.map((member) => [member.name, member.slo]),
      ],
    ]);
  return fields(a) === fields(b);
}
