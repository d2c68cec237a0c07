import { access, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type { QueueSnapshot } from '@qscale/contracts';
import { COMMAND_PLACEHOLDER, DEFAULTS as DAEMON_DEFAULTS } from '@qscale/daemon/config';
import { createResourceMonitor } from '@qscale/resource-monitor';
import { Redis } from 'ioredis';
import { UsageError } from '../args.js';
import { type CliIo, EXIT, type ExitCode, line } from '../io.js';
import { type DiscoveryResult, discoverQueues, type FoundQueue } from './discover.js';
import { measure } from './measure.js';
import { planQueues } from './plan.js';
import { PASSWORD_VARIABLE, parseRedisTarget, type RedisTarget } from './redis-url.js';
import { renderConfig } from './render.js';
import { formatMs } from './suggest.js';

export type { DiscoverOptions, DiscoveryResult, FoundQueue } from './discover.js';
export { DISCOVER_DEFAULTS, discoverQueues } from './discover.js';
export { measure } from './measure.js';
export { configNames, planQueues } from './plan.js';
export { parseRedisTarget } from './redis-url.js';
export type { Discovered, PlannedQueue } from './render.js';
export { renderConfig } from './render.js';

export interface InitDiscoverOptions {
  /** `--redis URL`, password allowed (never written or printed). */
  redis: string;
  /** `--measure` in ms (0: one read, no rates); at most 10 minutes. */
  measureMs: number;
  /** `--prefix`: only keys starting with it are looked at. */
  scope: string;
  file: string;
  force: boolean;
}

/** The longest watch: a user who wants longer runs the daemon. */
const MAX_MEASURE_MS = 10 * 60_000;

/** Seconds a connection attempt may take before Redis counts as unreachable. */
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * `qscale init --discover`: find the queues, watch them, write the commented configuration.
 * Exit 1 (and no file) when Redis cannot be reached or holds no queue.
 */
export async function initDiscover(options: InitDiscoverOptions, io: CliIo): Promise<ExitCode> {
  const target = parseRedisTarget(options.redis);
  const { measureMs } = options;
  if (measureMs > MAX_MEASURE_MS) {
    throw new UsageError(`--measure is at most 10m, got ${formatMs(measureMs)}`);
  }
  // Fail before a long watch, not after it.
  if (!options.force && (await exists(options.file))) {
    line(io.stderr, `qscale init: ${options.file} already exists; pass --force to overwrite it`);
    return EXIT.failure;
  }
  const redis = await connect(target, io);
  if (redis === null) return EXIT.failure;
  let found: FoundQueue[];
  let partial: DiscoveryResult['stoppedBy'] = null;
  try {
    const result = await discoverQueues(redis, { scope: options.scope });
    found = result.queues;
    partial = result.stoppedBy;
    const where = `${target.address}${options.scope ? ` under ${JSON.stringify(options.scope)}` : ''}`;
    if (result.stoppedBy) {
      line(
        io.stderr,
        `qscale init: the scan stopped at its ${result.stoppedBy === 'maxKeys' ? 'key' : 'time'} limit after ${result.keysSeen} keys; narrow it with --prefix`,
      );
    }
    if (found.length === 0) {
      line(
        io.stderr,
        `qscale init: no queues found on Redis at ${where} (${result.keysSeen} keys looked at, for Laravel, Horizon, BullMQ, Sidekiq, RQ and Celery layouts); nothing written`,
      );
      return EXIT.failure;
    }
    line(io.stdout, `found ${found.length} queue${found.length === 1 ? '' : 's'} on ${where}:`);
    for (const queue of found) {
      line(io.stdout, `  ${queue.driver.padEnd(7)} ${JSON.stringify(queue.prefix)} ${queue.name}`);
    }
  } finally {
    redis.disconnect();
  }

  line(io.stdout, `watching them for ${formatMs(measureMs)}...`);
  const snapshots: QueueSnapshot[] = await measure(found, {
    redisUrl: target.connectUrl,
    durationMs: measureMs,
  });
  const tickMs = DAEMON_DEFAULTS.tickMs;
  const floorMs = tickMs + DAEMON_DEFAULTS.queue.spawn.latencyMs;
  const fallbackPickupMs = DAEMON_DEFAULTS.queue.slo.pickupMs;
  const cpuCores = await hostCores();
  const queues = planQueues(found, snapshots, { cpuCores, floorMs, fallbackPickupMs });
  const text = renderConfig({
    redis: target,
    scope: options.scope,
    measuredMs: measureMs,
    at: new Date(),
    cpuCores,
    tickMs,
    floorMs,
    fallbackPickupMs,
    partial,
    queues,
    placeholder: COMMAND_PLACEHOLDER,
  });
  try {
    await writeFile(options.file, text, { flag: options.force ? 'w' : 'wx', mode: 0o640 });
  } catch (error) {
    line(io.stderr, `qscale init: ${options.file} cannot be written: ${(error as Error).message}`);
    return EXIT.failure;
  }
  for (const queue of queues) {
    const run = queue.snapshot?.serviceTimeMs?.mean;
    line(
      io.stdout,
      `  ${queue.configName}: run time ${run === undefined ? 'unknown' : formatMs(run)}, arrivals ${queue.snapshot?.arrivalRate?.toFixed(2) ?? '?'}/s -> slo ${formatMs(queue.slo.pickupMs)}, workers ${queue.bounds.min}-${queue.bounds.max}`,
    );
  }
  line(io.stdout, `wrote ${options.file}`);
  line(
    io.stdout,
    `next: fill in each queue's command (${COMMAND_PLACEHOLDER}), then: qscale validate --config ${options.file}`,
  );
  if (target.hasPassword) {
    line(
      io.stdout,
      `the Redis password is not in ${options.file}: it reads \${${PASSWORD_VARIABLE}}, so set ${PASSWORD_VARIABLE} where qscaled runs`,
    );
  }
  return EXIT.ok;
}

/** A connected client, or null after printing why Redis cannot be used (address, no password). */
async function connect(target: RedisTarget, io: CliIo): Promise<Redis | null> {
  const redis = new Redis(target.connectUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: CONNECT_TIMEOUT_MS,
    enableOfflineQueue: false,
  });
  // connect() rejects with a bare "Connection is closed."; the cause (ECONNREFUSED, WRONGPASS,
  // a timeout) comes through this event. Listening also keeps ioredis from printing it.
  let cause: Error | null = null;
  redis.on('error', (error: Error) => {
    cause ??= error;
  });
  try {
    await redis.connect();
    return redis;
  } catch (error) {
    redis.disconnect();
    const reason = ((cause ?? error) as Error).message.replaceAll(
      target.connectUrl,
      target.safeUrl,
    );
    line(io.stderr, `qscale init: cannot use Redis at ${target.address}: ${reason}`);
    return null;
  }
}

/** CPUs this host (or container quota) gives its workers, as the daemon's capacity counts them. */
async function hostCores(): Promise<number> {
  const monitor = createResourceMonitor();
  try {
    const limits = await monitor.limits();
    return limits.cpu.limitCores ?? availableParallelism();
  } catch {
    return availableParallelism();
  } finally {
    await monitor.close();
  }
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}
