export interface TickInfo {
  /** 0 for the first tick. */
  index: number;
  /** When this tick was due, epoch ms (start + index x period: no drift accumulates). */
  scheduledAt: number;
  /** When it actually started. */
  startedAt: number;
}

export interface Overrun {
  index: number;
  durationMs: number;
  periodMs: number;
  /** Ticks skipped because this one ran past their slots. */
  skipped: number;
}

export interface TickerOptions {
  periodMs: number;
  now?: () => number;
  /** Called when a tick took longer than the period. */
  onOverrun?: (overrun: Overrun) => void;
  /** Called when a tick throws; the ticker goes on. */
  onError?: (error: unknown, tick: TickInfo) => void;
}

export interface Ticker {
  /** Stops scheduling and waits for the tick in flight, if any. */
  stop(): Promise<void>;
  /** Runs the next tick as soon as the current one (if any) is done. */
  wake(): void;
}

/**
 * Runs `tick` every `periodMs`, drift-corrected: slots are fixed on the start time, so a slow
 * tick does not push every later one back. Ticks never overlap; slots a slow tick ran past are
 * skipped (and reported), never run in a burst. Only timers: nothing blocks the event loop.
 */
export function startTicker(
  tick: (info: TickInfo) => Promise<void>,
  options: TickerOptions,
): Ticker {
  const now = options.now ?? Date.now;
  const { periodMs } = options;
  const origin = now();
  let index = 0;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  const schedule = (at: number) => {
    if (stopped) return;
    timer = setTimeout(run, Math.max(0, at - now()));
  };

  const run = () => {
    timer = undefined;
    const info: TickInfo = { index, scheduledAt: origin + index * periodMs, startedAt: now() };
    running = (async () => {
      try {
        await tick(info);
      } catch (error) {
        options.onError?.(error, info);
      }
    })();
    void running.then(() => {
      running = undefined;
      const finishedAt = now();
      const durationMs = finishedAt - info.startedAt;
      // The next slot strictly after now; every slot in between was overrun.
      const next = Math.max(index + 1, Math.floor((finishedAt - origin) / periodMs) + 1);
      if (durationMs > periodMs) {
        options.onOverrun?.({ index, durationMs, periodMs, skipped: next - index - 1 });
      }
      index = next;
      schedule(origin + index * periodMs);
    });
  };

  schedule(origin);
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
    wake() {
      if (stopped || running || !timer) return;
      clearTimeout(timer);
      run();
    },
  };
}
