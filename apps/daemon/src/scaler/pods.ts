import type { Logger, QueueSnapshot } from '@qscale/contracts';
import type { MetricsReader } from '@qscale/metrics-reader';
import type { QueueConfig } from '../config/schema.js';
import type { QueueRuntime } from '../runtime/queue-runtime.js';
import {
  type CountedWorkers,
  createWorkerCounter,
  observedWorkers,
  type WorkerCounter,
} from './worker-count.js';

/** How a queue's workers were counted at the last tick, as /api/state shows it. */
export interface WorkerCountView extends CountedWorkers {
  /** Epoch ms of the tick that counted. */
  at: number;
}

/**
 * The loop's view of workers that run elsewhere (pods scaled by KEDA): every tick, counts them
 * from each queue's backend (in parallel with the queue read) and hands the strategy and
 * policies those counts. Logs the source of a queue's count when it is first known and when it
 * changes (a registry that stops answering falls back to the last decision, and says so).
 */
export class PodWorkers {
  private readonly counts = new Map<string, WorkerCountView>();

  private readonly counter: WorkerCounter;

  constructor(
    private readonly logger: Logger,
    reader: Pick<MetricsReader, 'workerCounts'>,
  ) {
    this.counter = createWorkerCounter({ logger, reader });
  }

  /** Counts every queue's workers; never rejects (a failed count falls back per queue). */
  count(queues: readonly QueueConfig[]): Promise<Map<string, CountedWorkers>> {
    return this.counter.count(queues).catch((error: unknown) => {
      this.logger.warn('cannot count the workers; using the last decisions', { error });
      return new Map();
    });
  }

  /** Sets the runtime's workers for this tick's decision from the count and the snapshot. */
  observe(
    runtime: QueueRuntime,
    counted: CountedWorkers | undefined,
    snapshot: QueueSnapshot,
    now: number,
  ): void {
    const name = runtime.config.name;
    const count: CountedWorkers = counted ?? { registered: null, source: 'decision' };
    const previous = this.counts.get(name);
    if (!previous || previous.source !== count.source) {
      this.logger.info(`counting the workers of ${name} from ${count.source}`, {
        queue: name,
        driver: runtime.config.driver,
        source: count.source,
        ...(count.note ? { note: count.note } : {}),
      });
    }
    this.counts.set(name, { ...count, at: now });
    runtime.observedWorkers = observedWorkers(
      count,
      runtime.lastDecision?.to ?? null,
      snapshot.error ? null : snapshot.active,
      runtime.config.workers.concurrency,
    );
  }

  /** The last count of a queue, or null before its first tick. */
  view(queue: string): WorkerCountView | null {
    return this.counts.get(queue) ?? null;
  }

  /** Drops what is kept about queues no longer configured. */
  keep(queues: ReadonlySet<string>): void {
    for (const name of this.counts.keys()) if (!queues.has(name)) this.counts.delete(name);
  }
}
