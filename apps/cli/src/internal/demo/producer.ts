import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { DemoJob } from './accounting.js';
import type { DemoQueueLoad } from './workload.js';

const STEP_MS = 250;

/** Produces the demo's jobs with the real bullmq client, as an application would. */
export class DemoProducer {
  /** Jobs added per queue, per whole second of the run. */
  readonly arrivals = new Map<string, number[]>();
  readonly #connection: Redis;
  readonly #queues: Map<string, Queue>;
  readonly #owed = new Map<string, number>();

  constructor(
    url: string,
    prefix: string,
    private readonly workload: readonly DemoQueueLoad[],
    private readonly seconds: number,
  ) {
    this.#connection = new Redis(url, { maxRetriesPerRequest: null });
    this.#queues = new Map(
      workload.map((load) => [
        load.queue,
        new Queue(load.queue, { connection: this.#connection, prefix }),
      ]),
    );
    for (const load of workload) {
      this.arrivals.set(load.queue, new Array(Math.ceil(seconds)).fill(0));
      this.#owed.set(load.queue, 0);
    }
  }

  /** Runs the whole plan, a step every 250 ms, until done or aborted. */
  async run(signal: AbortSignal, startedAt: number): Promise<void> {
    const fired = new Set<string>();
    for (let step = 0; step * STEP_MS < this.seconds * 1_000 && !signal.aborted; step++) {
      const tSec = (step * STEP_MS) / 1_000;
      for (const load of this.workload) {
        // Fractional jobs carry over, so 0.3 jobs/s still makes a job every 3.3 s.
        const owed = (this.#owed.get(load.queue) ?? 0) + (load.rate(tSec) * STEP_MS) / 1_000;
        let count = Math.floor(owed);
        this.#owed.set(load.queue, owed - count);
        for (const batch of load.batches) {
          const key = `${load.queue}@${batch.atSec}`;
          if (tSec >= batch.atSec && !fired.has(key)) {
            fired.add(key);
            count += batch.count;
          }
        }
        if (count > 0) await this.#add(load, count, Math.floor(tSec));
      }
      const next = startedAt + (step + 1) * STEP_MS;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - Date.now())));
    }
  }

  async #add(load: DemoQueueLoad, count: number, second: number): Promise<void> {
    const queue = this.#queues.get(load.queue);
    if (!queue) return;
    await queue.addBulk(
      Array.from({ length: count }, () => ({ name: load.queue, data: { ms: load.jobMs } })),
    );
    const perSecond = this.arrivals.get(load.queue);
    if (perSecond && second < perSecond.length)
      perSecond[second] = (perSecond[second] ?? 0) + count;
  }

  /** Every job of a queue so far: when it was added, picked up and finished (epoch ms). */
  async jobs(queue: string): Promise<DemoJob[]> {
    const bull = this.#queues.get(queue);
    if (!bull) return [];
    const jobs = await bull.getJobs(
      ['completed', 'active', 'wait', 'prioritized', 'failed'],
      0,
      -1,
    );
    return jobs.map((job) => ({
      addedAt: job.timestamp,
      startedAt: job.processedOn ?? null,
      finishedAt: job.finishedOn ?? null,
    }));
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#queues.values()].map((queue) => queue.close()));
    await this.#connection.quit().catch(() => this.#connection.disconnect());
  }
}
