export interface WakePollerOptions {
  periodMs: number;
  /** The queues among `queues` that have a job ready to start (one cheap read). */
  probe: (queues: readonly string[]) => Promise<string[]>;
  /** Called with the queues found ready; the poller then waits for the next `watch`. */
  wake: (queues: string[]) => void;
}

export interface WakePoller {
  /** The queues to watch until the next call: those with no worker and no job at the tick. */
  watch(queues: readonly string[]): void;
  stop(): void;
}

/**
 * Between ticks, polls the queues that have no worker for a first job, so a queue scaled to
 * zero starts a worker within `periodMs` of its first job instead of up to a tick later.
 * One probe at a time; after a wake it is quiet until the tick that follows hands it the
 * queues to watch again, so a job the tick chose not to serve never wakes it in a loop.
 */
export function startWakePoller(options: WakePollerOptions): WakePoller {
  let watched: readonly string[] = [];
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const schedule = () => {
    if (stopped || timer || watched.length === 0) return;
    timer = setTimeout(poll, options.periodMs);
    timer.unref();
  };

  const poll = async () => {
    timer = undefined;
    const queues = watched;
    let ready: string[] = [];
    try {
      ready = await options.probe(queues);
    } catch {
      // A failed probe wakes nobody; the next tick reads and reports the queues.
    }
    if (stopped) return;
    if (ready.length > 0 && watched === queues) {
      watched = [];
      options.wake(ready);
      return;
    }
    schedule();
  };

  return {
    watch(queues) {
      watched = [...queues];
      if (watched.length === 0 && timer) {
        clearTimeout(timer);
        timer = undefined;
      }
      schedule();
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}
