import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RingBuffer } from './ring-buffer.js';
import { type Overrun, startTicker, type Ticker, type TickInfo } from './ticker.js';

/** stop() waits for the tick in flight, whose own timers must keep advancing meanwhile. */
async function stopAndDrain(ticker: Ticker): Promise<void> {
  const stopped = ticker.stop();
  await vi.advanceTimersByTimeAsync(60_000);
  await stopped;
}

// Fake timers replace only Date and setTimeout here: the ticker is pure scheduling logic.
describe('startTicker', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    vi.setSystemTime(1_000_000);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps slots fixed on the start time, whatever each tick costs', async () => {
    const ticks: TickInfo[] = [];
    const ticker = startTicker(
      async (info) => {
        ticks.push(info);
        await new Promise((resolve) => setTimeout(resolve, 700)); // a 700 ms tick
      },
      { periodMs: 2_000 },
    );
    await vi.advanceTimersByTimeAsync(6_100);
    await stopAndDrain(ticker);
    expect(ticks.map((tick) => tick.scheduledAt - 1_000_000)).toEqual([0, 2_000, 4_000, 6_000]);
    expect(ticks.map((tick) => tick.startedAt - tick.scheduledAt)).toEqual([0, 0, 0, 0]);
  });

  it('never overlaps ticks, skips the slots an overrun covered and reports it', async () => {
    const ticks: number[] = [];
    const overruns: Overrun[] = [];
    let active = 0;
    let maxActive = 0;
    const ticker = startTicker(
      async (info) => {
        active++;
        maxActive = Math.max(maxActive, active);
        ticks.push(info.index);
        await new Promise((resolve) => setTimeout(resolve, info.index === 1 ? 4_500 : 10));
        active--;
      },
      { periodMs: 1_000, onOverrun: (overrun) => overruns.push(overrun) },
    );
    await vi.advanceTimersByTimeAsync(7_500);
    await stopAndDrain(ticker);
    expect(maxActive).toBe(1);
    // Tick 1 ran from 1000 to 5500: slots 2-5 are skipped, the next tick is slot 6 at 6000.
    expect(ticks).toEqual([0, 1, 6, 7]);
    expect(overruns).toEqual([{ index: 1, durationMs: 4_500, periodMs: 1_000, skipped: 4 }]);
  });

  it('goes on after a tick throws, and stop() waits for the tick in flight', async () => {
    const errors: unknown[] = [];
    let finished = 0;
    const ticker = startTicker(
      async (info) => {
        if (info.index === 0) throw new Error('redis down');
        await new Promise((resolve) => setTimeout(resolve, 300));
        finished++;
      },
      { periodMs: 1_000, onError: (error) => errors.push(error) },
    );
    await vi.advanceTimersByTimeAsync(1_100);
    const stopping = ticker.stop();
    await vi.advanceTimersByTimeAsync(300);
    await stopping;
    expect(errors).toEqual([new Error('redis down')]);
    expect(finished).toBe(1);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(finished).toBe(1);
  });

  it('wake() runs the next tick at once instead of waiting for its slot', async () => {
    const ticks: number[] = [];
    const ticker = startTicker(
      async (info) => {
        ticks.push(info.startedAt - 1_000_000);
      },
      { periodMs: 2_000 },
    );
    await vi.advanceTimersByTimeAsync(500);
    ticker.wake();
    await vi.advanceTimersByTimeAsync(0);
    await ticker.stop();
    expect(ticks).toEqual([0, 500]);
  });
});

describe('RingBuffer', () => {
  it('keeps only the most recent items, oldest first', () => {
    const ring = new RingBuffer<number>(3);
    for (const value of [1, 2, 3, 4, 5]) ring.push(value);
    expect(ring.toArray()).toEqual([3, 4, 5]);
    expect(ring.size).toBe(3);
    expect(() => new RingBuffer(0)).toThrow('capacity must be a whole number >= 1, got 0');
  });
});
