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
  QueueSource,
  ReaderStats,
  SnapshotCost,
  WorkerCount,
} from '../types.js';
import { Batch } from './batch.js';
import { ClusterConnection } from './cluster.js';
import { Connection, isConnectionError, type RedisLink, type Reply } from './connection.js';
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
  resolveOptions,
  resolveRedis,
} from './options.js';
import { Prober } from './probe.js';
import type { QueueReader, ReaderContext, Tick } from './queue-reader.js';
import { redactedUrl } from './redis-url.js';
import type { SharedReader } from './shared.js';
import { countWorkers } from './worker-counts.js';

/** The queues that share one Redis: one client, one pipeline per round trip. */
export interface Group {
  connection: RedisLink;
  readers: QueueReader[];
  shared: SharedReader[];
  previous: { startedAt: number; readAt: number } | null;
  /** Readers added by `setSources` since the last read: for them, there was no previous tick. */
  fresh: Set<QueueReader>;
  /** A tick or a probe is reading this group: probes wait (sightings stay in time order). */
  busy: boolean;
}

interface GroupCost {
  roundTrips: number;
  commands: number;
  failed: boolean;
  receivedBytes: number;
}

/**
 * Creates the reader the daemon keeps for its lifetime. Validates the options (throws a
 * `MetricsReaderError` with code `INVALID_OPTIONS` naming the field) and does no I/O until the
 * first `snapshot()` or `discover()`.
 */
export function createMetricsReader(input: MetricsReaderOptions): MetricsReader {
  const options = resolveOptions(input);
  const context: ReaderContext = { options, logger: options.logger };
  const connections = new Map<string, RedisLink>();
  let sources = options.sources;
  let groups: Group[] = [];
  /** Each queue's reader by the identity of its source: what `setSources` keeps. */
  let readers = new Map<string, QueueReader>();
  let order: QueueReader[] = [];
  /** Every Sidekiq shared reader created, for the probe totals in `stats()`. */
  const allShared: SidekiqShared[] = [];

  /** One server (plain, Unix socket or found through Sentinel), or a whole cluster. */
  const openLink = (redis: ResolvedSource['redis']): RedisLink =>
    redis.cluster
      ? new ClusterConnection(redis, options, options.logger)
      : new Connection(redis, options, options.logger);

  const connectionFor = (key: string, create: () => RedisLink): RedisLink => {
    let connection = connections.get(key);
    if (!connection) {
      connection = create();
      connections.set(key, connection);
    }
    return connection;
  };

  /**
   * Builds the groups and readers for `next`, reusing the reader (and so the history) of
   * every source that is the same as before, and each connection still needed.
   */
  const arrange = (next: ResolvedSource[], fresh: boolean) => {
    const previousGroups = new Map(groups.map((group) => [group.connection, group]));
    const nextGroups = new Map<string, Group>();
    const nextReaders = new Map<string, QueueReader>();
    const nextOrder: QueueReader[] = [];
    for (const source of next) {
      const key = connectionKey(source.redis);
      let group = nextGroups.get(key);
      if (!group) {
        const connection = connectionFor(key, () => openLink(source.redis));
        const kept = previousGroups.get(connection);
        group = kept
          ? { ...kept, readers: [] }
          : {
              connection,
              readers: [],
              shared: [],
              previous: null,
              fresh: new Set(),
              busy: false,
            };
        nextGroups.set(key, group);
      }
      const identity = JSON.stringify(source);
      let reader = readers.get(identity);
      if (!reader) {
        reader = createQueueReader(source, context, group, options, (shared) =>
          allShared.push(shared),
        );
        if (fresh) group.fresh.add(reader);
      }
      group.readers.push(reader);
      nextReaders.set(identity, reader);
      nextOrder.push(reader);
    }
    for (const group of nextGroups.values()) {
      // Sidekiq's global reads stay while some Sidekiq queue of theirs does.
      group.shared = group.shared.filter((shared) => {
        const kept =
          !(shared instanceof SidekiqShared) ||
          group.readers.some(
            (reader) =>
              reader.source.driver === 'sidekiq' && reader.source.prefix === shared.prefix,
          );
        if (!kept && shared instanceof SidekiqShared) shared.probe.stop();
        return kept;
      });
    }
    for (const group of nextGroups.values()) {
      for (const shared of group.shared) {
        if (shared instanceof SidekiqShared) shared.retain(group.readers.map((r) => r.source));
      }
    }
    for (const reader of readers.values()) {
      // A dropped Celery reader's probe would go on reading between ticks.
      if (reader instanceof CeleryReader && ![...nextReaders.values()].includes(reader)) {
        reader.probe?.stop();
      }
    }
    groups = [...nextGroups.values()];
    readers = nextReaders;
    order = nextOrder;
    sources = next;
  };
  arrange(options.sources, false);

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
  const prober = new Prober(
    () => groups,
    () => sources,
    options.now,
  );

  const readGroup = async (
    group: Group,
    startedAt: number,
    out: Map<QueueReader, QueueSnapshot>,
  ): Promise<GroupCost> => {
    // A probe in flight finishes first: its sighting comes before this tick's.
    while (group.busy) await new Promise((resolve) => setImmediate(resolve));
    group.busy = true;
    try {
      return await readGroupNow(group, startedAt, out);
    } finally {
      group.busy = false;
    }
  };

  const readGroupNow = async (
    group: Group,
    startedAt: number,
    out: Map<QueueReader, QueueSnapshot>,
  ): Promise<GroupCost> => {
    const receivedBefore = group.connection.receivedBytes;
    const cost: GroupCost = { roundTrips: 0, commands: 0, failed: false, receivedBytes: 0 };
    const fail = (error: Error) => {
      cost.receivedBytes = group.connection.receivedBytes - receivedBefore;
      const described = group.connection.describe(error);
      for (const shared of group.shared) shared.failed();
      for (const reader of group.readers) out.set(reader, reader.failed(startedAt, described));
      cost.failed = true;
      return cost;
    };
    for (const reader of group.readers) reader.begin();
    const first = new Batch();
    const provisional: Tick = { startedAt, readAt: startedAt, previous: group.previous };
    const firstRead: Tick = { ...provisional, previous: null };
    // Fresh until their first complete read (a failed one leaves them fresh).
    const fresh = group.fresh;
    const tickOf = (reader: QueueReader, tick: Tick) => (fresh.has(reader) ? firstRead : tick);
    for (const shared of group.shared) shared.plan(first, provisional);
    for (const reader of group.readers) reader.plan(first, tickOf(reader, provisional));
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
    firstRead.readAt = tick.readAt;
    const second = new Batch();
    for (const shared of group.shared) shared.planDetails(second, tick);
    for (const reader of group.readers) {
      reader.planDetails(second, tickOf(reader, tick));
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
    for (const reader of group.readers) out.set(reader, reader.snapshot(tickOf(reader, tick)));
    group.previous = { startedAt, readAt: tick.readAt };
    group.fresh = new Set();
    cost.receivedBytes = group.connection.receivedBytes - receivedBefore;
    return cost;
  };

  const readAll = async (): Promise<QueueSnapshot[]> => {
    const startedAt = options.now();
    const began = performance.now();
    const out = new Map<QueueReader, QueueSnapshot>();
    const reading = order;
    const costs = await Promise.all(groups.map((group) => readGroup(group, startedAt, out)));
    const snapshots = reading.map((reader) => out.get(reader) as QueueSnapshot);
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
      receivedBytes: costs.reduce((sum, cost) => sum + cost.receivedBytes, 0),
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
        if (!closed) prober.start();
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
        : sources.map((source) => ({
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
        const connection = connectionFor(key, () => openLink(target.redis));
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

    async readyQueues(queues?: readonly string[]): Promise<string[]> {
      ensureOpen('readyQueues()');
      const wanted = queues ? new Set(queues) : null;
      const nowMs = options.now();
      const ready = new Set<string>();
      await Promise.all(
        groups.map(async (group) => {
          const batch = new Batch();
          for (const reader of group.readers) {
            const queue = reader.source.queue;
            if (wanted && !wanted.has(queue)) continue;
            for (const command of reader.readyCommands(nowMs)) {
              batch.add(command, (reply) => {
                if (typeof reply === 'number' && reply > 0) ready.add(queue);
              });
            }
          }
          if (batch.size === 0) return;
          try {
            batch.dispatch(await group.connection.exec(batch.commands));
          } catch {
            // Unreadable now: the next snapshot reports why; nothing is known to be ready.
          }
        }),
      );
      return order.map((reader) => reader.source.queue).filter((queue) => ready.has(queue));
    },

    async workerCounts(queues?: readonly string[]): Promise<WorkerCount[]> {
      ensureOpen('workerCounts()');
      const wanted = queues ? new Set(queues) : null;
      const counts = await Promise.all(
        groups.map((group) =>
          countWorkers(
            group.connection,
            group.readers
              .map((reader) => reader.source)
              .filter((source) => !wanted || wanted.has(source.queue)),
          ),
        ),
      );
      const byQueue = new Map(counts.flat().map((count) => [count.queue, count]));
      return order
        .map((reader) => byQueue.get(reader.source.queue))
        .filter((count): count is WorkerCount => count !== undefined);
    },

    async setSources(next: readonly QueueSource[]): Promise<void> {
      ensureOpen('setSources()');
      // Validated like createMetricsReader's options, before anything changes.
      const resolved = resolveOptions({ ...input, sources: next }).sources;
      // A read in progress finishes with the sources it started with.
      while (inFlight) await inFlight.catch(() => undefined);
      ensureOpen('setSources()');
      arrange(resolved, true);
      prober.stop();
      prober.start();
      const used = new Set(groups.map((group) => group.connection));
      for (const [key, connection] of connections) {
        if (used.has(connection)) continue;
        connections.delete(key);
        await connection.close();
      }
    },

    stats(): ReaderStats {
      // The probes (Laravel's, Sidekiq's tail, Celery's with acks_late) count into one figure.
      const probes = prober.totals();
      const add = (cost: { probes: number; commands: number; receivedBytes: number }) => {
        probes.count += cost.probes;
        probes.commands += cost.commands;
        probes.receivedBytes += cost.receivedBytes;
      };
      for (const shared of allShared) add(shared.probe.cost);
      for (const reader of order) {
        const cost = reader instanceof CeleryReader ? reader.probe?.cost : undefined;
        if (cost) add(cost);
      }
      return { ...totals, last, probes };
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      prober.stop();
      await inFlight?.catch(() => undefined);
      // A probe in flight gets its replies before the connections close: what it sent is
      // counted in stats() (Redis served it), and no probe is cut off half-read.
      const celery = [...readers.values()].flatMap((reader) =>
        reader instanceof CeleryReader && reader.probe ? [reader.probe] : [],
      );
      for (const probe of celery) probe.stop();
      for (const shared of allShared) shared.probe.stop();
      await Promise.all([
        prober.settled(),
        ...celery.map((probe) => probe.settled()),
        ...allShared.map((shared) => shared.probe.settled()),
      ]);
      // A Sidekiq probe that finished schedules its next one: not any more.
      for (const shared of allShared) shared.probe.stop();
      await Promise.all([...connections.values()].map((connection) => connection.close()));
    },
  };
}

function createQueueReader(
  source: ResolvedSource,
  context: ReaderContext,
  group: Group,
  options: ResolvedOptions,
  onShared: (shared: SidekiqShared) => void,
): QueueReader {
  switch (source.driver) {
    case 'laravel':
      return new LaravelReader(source, context);
    case 'bullmq':
      return new BullmqReader(source, context);
    case 'rq':
      return new RqReader(source, context);
    case 'celery':
      return new CeleryReader(source, context, group.connection);
    case 'sidekiq': {
      let shared = group.shared.find(
        (candidate): candidate is SidekiqShared =>
          candidate instanceof SidekiqShared && candidate.prefix === source.prefix,
      );
      if (!shared) {
        shared = new SidekiqShared(source.prefix, group.connection, options);
        group.shared.push(shared);
        onShared(shared);
      }
      return new SidekiqReader(source, context, shared);
    }
  }
}
