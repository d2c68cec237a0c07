import type { DaemonContext } from '../daemon-context.js';
import { runTick } from './tick.js';
import { startTicker, type Ticker } from './ticker.js';
import { startWakePoller, type WakePoller } from './wake-poller.js';

// What makes the tick run: the ticker every `tickMs`, and between ticks the wake poller that
// ticks at once when a queue without workers gets its first job. Both are started here with
// the configuration in force, at start and again when a reload changes their periods.

export function startTickLoop(ctx: DaemonContext): Ticker {
  const { logger } = ctx;
  return startTicker(() => ctx.serial.run(() => runTick(ctx)), {
    periodMs: ctx.config.tickMs,
    onOverrun: (overrun) => {
      logger.warn('tick took longer than the tick period', { ...overrun });
    },
    onError: (error) => {
      logger.error('tick failed; workers are kept as they are', { error });
    },
  });
}

export function startWaking(ctx: DaemonContext): WakePoller | null {
  return ctx.config.wakePollMs === 0
    ? null
    : startWakePoller({
        periodMs: ctx.config.wakePollMs,
        probe: (queues) => ctx.reader.readyQueues(queues),
        wake: (queues) => {
          ctx.logger.debug('a first job for a queue without workers: ticking now', { queues });
          ctx.ticker?.wake();
        },
      });
}
