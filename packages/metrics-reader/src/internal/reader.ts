import { performance } from 'node:perf_hooks';
import type { QueueSnapshot } from '@qscale/contracts';
import { QUEUE_BACKENDS } from '@qscale/contracts';
import { DEFAULTS } from '../defaults.js';
import { MetricsReaderError, type MetricsReaderErrorCode } from '../errors.js';
import type {
  DiscoveredQueue,
  DiscoveryTarget,
  MetricsReader,
  MetricsReaderOptions,
  ReaderStats,
  SnapshotCost,
} from '../types.js';
import { Batch } from './batch.js';
import { Connection, isConnectionError, type Reply } from './connection.js';
import { scanQueues } from './discovery.js';
import { BullmqReader } from './drivers/bullmq.js';
import { CeleryReader } from './drivers/celery.js';
import { LaravelReader } from './drivers/laravel.js';
import { RqReader } from './drivers/rq.js';
import { SidekiqReader, SidekiqShared } from './drivers/sidekiq.js';
import {
  connectionKey,
  parseRedisOptions,
  type ResolvedOptions,
  type ResolvedSource,
  redactedUrl,
  resolveOptions,
  resolveRedis,
} from './options.js';
import type { QueueReader, ReaderContext, Tick } from './queue-reader.js';
import type { SharedReader } from './shared.js';

/** The queues that share one Redis: one client, one pipeline per round trip. */
interface Group {
  connection: Connection;
  readers: QueueReader[];
  shared: SharedReader[];
  previous: { startedAt: number; readAt: number } | null;
}

interface GroupCost {
  roundTrips: number;
  commands: number;
  failed: boolean;
}

/**
 * Creates the reader the daemon keeps for its lifetime. Validates the options (throws a
 * `MetricsReaderError` with code `INVALID_OPTIONS` naming the field) and does no I/O until the
 * first `snapshot()` or `discover()`.
 */
export function createMetricsReader(input: MetricsReaderOptions): MetricsReader {
  const options = resolveOptions(input);
  const context: ReaderContext = { options, logger: options.logger };
  const connections = new Map<string, Connection>();
  const groups: Group[] = [];
  const readers = new Map<ResolvedSource, QueueReader>();
  const order: QueueReader[] = [];

  const connectionFor = (key: string, create: () => Connection): Connection => {
    let connection = connections.get(key);
    if (!connection) {
      connection = create();
      connections.set(key, connection);
    }
    return connection;
  };

  const groupByKey = new Map<string, Group>();
  for (const source of options.sources) {
    const key = connectionKey(source.redis);
    let group = groupByKey.get(key);
    if (!group) {
      const connection = connectionFor(
        key,
        () => new Connection(source.redis, options, options.logger),
      );
      group = { connection, readers: [], shared: [], previous: null };
      groupByKey.set(key, group);
      groups.push(group);
    }
    const reader = createQueueReader(source, context, group, options);
    group.readers.push(reader);
    readers.set(source, reader);
    order.push(reader);
  }

  const totals = {
    snapshots: 0,
    roundTrips: 0,
    commands: 0,
    connectionFailures: 0,
    discoveryScans: 0,
  };
  let last: SnapshotCost | null = null;
  let inFlight: Promise<QueueSnapshot[]> | null = null;
  let closed = false;
  const discoveryCache = new Map<string, { at: number; queues: DiscoveredQueue[] }>();

  const readGroup = async (
    group: Group,
    startedAt: number,
    out: Map<QueueReader, QueueSnapshot>,
  ): Promise<GroupCost> => {
    const cost: GroupCost = { roundTrips: 0, commands: 0, failed: false };
    const fail = (error: Error) => {
      const described = group.connection.describe(error);
      for (const shared of group.shared) shared.failed();
      for (const reader of group.readers) out.set(reader, reader.failed(startedAt, described));
      cost.failed = true;
      return cost;
    };
    for (const reader of group.readers) reader.begin();
    const first = new Batch();
    const provisional: Tick = { startedAt, readAt: startedAt, previous: group.previous };
    for (const shared of group.shared) shared.plan(first, provisional);
    for (const reader of group.readers) reader.plan(first, provisional);
    let replies: Reply[];
    try {
      cost.roundTrips++;
      cost.commands += first.size;
      replies = await group.connection.exec(first.commands);
    } catch (error) {
      return fail(error as Error);
    }
    const connectionError = replies.every(
      (reply) => reply instanceof Error && isConnectionError(reply),
    )
      ? (replies[0] as Error | undefined)
      : undefined;
    if (connectionError) return fail(connectionError);
    first.dispatch(replies);

    const tick: Tick = { startedAt, readAt: options.now(), previous: group.previous };
    const second = new Batch();
    for (const shared of group.shared) shared.planDetails(second, tick);
    for (const reader of group.readers) {
      reader.planDetails(second, tick);
      reader.planTypeChecks(second);
    }
    if (second.size > 0) {
      cost.roundTrips++;
      cost.commands += second.size;
      try {
        second.dispatch(await group.connection.exec(second.commands));
      } catch (error) {
        second.fail(error as Error);
      }
    }
    for (const shared of group.shared) shared.finish(tick);
    for (const reader of group.readers) out.set(reader, reader.snapshot(tick));
    group.previous = { startedAt, readAt: tick.readAt };
    return cost;
  };

  const readAll = async (): Promise<QueueSnapshot[]> => {
    const startedAt = options.now();
    const began = performance.now();
    const out = new Map<QueueReader, QueueSnapshot>();
    const costs = await Promise.all(groups.map((group) => readGroup(group, startedAt, out)));
    const snapshots = order.map((reader) => out.get(reader) as QueueSnapshot);
    totals.snapshots++;
    let maxRoundTrips = 0;
    for (const cost of costs) {
      totals.roundTrips += cost.roundTrips;
      totals.commands += cost.commands;
      if (cost.failed) totals.connectionFailures++;
      maxRoundTrips = Math.max(maxRoundTrips, cost.roundTrips);
    }
    last = {
      at: Math.round(startedAt),
      durationMs: performance.now() - began,
      roundTrips: costs.reduce((sum, cost) => sum + cost.roundTrips, 0),
      maxRoundTripsPerConnection: maxRoundTrips,
      commands: costs.reduce((sum, cost) => sum + cost.commands, 0),
      connections: groups.length,
      queuesWithErrors: snapshots.filter((snapshot) => snapshot.error !== undefined).length,
    };
    return snapshots;
  };

  const ensureOpen = (what: string) => {
    if (closed) {
      throw new MetricsReaderError('CLOSED', `${what}: the metrics reader was closed`);
    }
  };

  return {
    snapshot(): Promise<QueueSnapshot[]> {
      try {
        ensureOpen('snapshot()');
      } catch (error) {
        return Promise.reject(error);
      }
      inFlight ??= readAll().finally(() => {
        inFlight = null;
      });
      return inFlight;
    },

    async discover(targets?: readonly DiscoveryTarget[]): Promise<DiscoveredQueue[]> {
      ensureOpen('discover()');
      const list = targets
        ? targets.map((target, index) => {
            if (!QUEUE_BACKENDS.includes(target.driver)) {
              throw new MetricsReaderError(
                'INVALID_OPTIONS',
                `discover(): targets[${index}].driver is ${JSON.stringify(target.driver)}, expected one of ${QUEUE_BACKENDS.join(', ')}`,
              );
            }
            return {
              driver: target.driver,
              prefix: target.prefix ?? DEFAULTS.prefixes[target.driver],
              redis: resolveRedis(
                parseRedisOptions(target.redis, `discover(): targets[${index}].redis`),
              ),
            };
          })
        : options.sources.map((source) => ({
            driver: source.driver,
            prefix: source.prefix,
            redis: source.redis,
          }));
      const found: DiscoveredQueue[] = [];
      const done = new Set<string>();
      for (const target of list) {
        const key = connectionKey(target.redis);
        const cacheKey = `${key}\0${target.driver}\0${target.prefix}`;
        if (done.has(cacheKey)) continue;
        done.add(cacheKey);
        const cached = discoveryCache.get(cacheKey);
        const now = options.now();
        if (cached && now - cached.at < options.discoveryIntervalMs) {
          found.push(...cached.queues);
          continue;
        }
        const connection = connectionFor(
          key,
          () => new Connection(target.redis, options, options.logger),
        );
        let scan: Awaited<ReturnType<typeof scanQueues>>;
        try {
          scan = await scanQueues(connection, target.driver, target.prefix);
        } catch (error) {
          // Typed like a snapshot's error, naming the Redis (never its credentials).
          const described = connection.describe(error as Error);
          throw new MetricsReaderError(
            described.code as MetricsReaderErrorCode,
            `discover(): ${target.driver} queues under prefix "${target.prefix}": ${described.message}`,
            { cause: error },
          );
        }
        totals.discoveryScans += scan.calls;
        const queues = scan.names.map((backendName) => ({
          driver: target.driver,
          backendName,
          prefix: target.prefix,
          redis: redactedUrl(target.redis),
        }));
        discoveryCache.set(cacheKey, { at: now, queues });
        found.push(...queues);
      }
      return found;
    },

    stats(): ReaderStats {
      return { ...totals, last };
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await inFlight?.catch(() => undefined);
      await Promise.all([...connections.values()].map((connection) => connection.close()));
    },
  };
}

function createQueueReader(
  source: ResolvedSource,
  context: ReaderContext,
  group: Group,
  options: ResolvedOptions,
): QueueReader {
  switch (source.driver) {
    case 'laravel':
      return new LaravelReader(source, context);
    case 'bullmq':
      return new BullmqReader(source, context);
    case 'rq':
      return new RqReader(source, context);
    case 'celery':
      return new CeleryReader(source, context);
    case 'sidekiq': {
      let shared = group.shared.find(
        (candidate): candidate is SidekiqShared =>
          candidate instanceof SidekiqShared && candidate.prefix === source.prefix,
      );
      if (!shared) {
        shared = new SidekiqShared(source.prefix, options.maxJobsPerTick, options.maxPayloadBytes);
        group.shared.push(shared);
      }
      return new SidekiqReader(source, context, shared);
    }
  }
}
