import type { QueueSnapshot } from '@qscale/contracts';
import { describe, expect, it } from 'vitest';
import { type HistorySample, QueueHistory } from './history.js';

const sample = (at: number, figures: Partial<HistorySample> = {}): HistorySample => ({
  at,
  arrivalRate: 1,
  backlog: 10,
  desired: 2,
  running: 2,
  pickupP95Ms: 500,
  ...figures,
});

describe('QueueHistory', () => {
  it('keeps one point per bucket: arrivals averaged, backlog and pickup at their peak, workers last', () => {
    const history = new QueueHistory({ windowMs: 60_000, points: 12 }); // 5 s buckets
    history.record('emails', sample(10_000, { arrivalRate: 2, backlog: 5, running: 1 }));
    history.record('emails', sample(11_000, { arrivalRate: 4, backlog: 30, running: 3 }));
    history.record('emails', sample(12_000, { arrivalRate: null, backlog: 7, pickupP95Ms: 900 }));
    history.record('emails', sample(15_000, { arrivalRate: 1, backlog: 1, desired: null }));
    const view = history.view(16_000).queues.emails;
    expect(view?.at).toEqual([10_000, 15_000]);
    expect(view?.arrivalRate).toEqual([3, 1]);
    expect(view?.backlog).toEqual([30, 1]);
    expect(view?.pickupP95Ms).toEqual([900, 500]);
    expect(view?.running).toEqual([2, 2]);
    expect(view?.desired).toEqual([2, null]);
  });

  it("keeps the oldest job's age at its peak per bucket, null where none waits", () => {
    const history = new QueueHistory({ windowMs: 60_000, points: 12 });
    history.record('q', sample(10_000, { oldestAgeMs: 4_000 }));
    history.record('q', sample(11_000, { oldestAgeMs: 6_500 }));
    history.record('q', sample(12_000, { oldestAgeMs: null }));
    history.record('q', sample(15_000));
    expect(history.view(16_000).queues.q?.oldestAgeMs).toEqual([6_500, null]);
  });

  it('never holds more than its points, whatever the run time', () => {
    const history = new QueueHistory({ windowMs: 60_000, points: 12 });
    for (let at = 0; at < 600_000; at += 1_000) history.record('q', sample(at, { backlog: at }));
    const view = history.view(600_000).queues.q;
    expect(view?.at).toHaveLength(12);
    expect(view?.at[0]).toBe(540_000);
    expect(view?.at.at(-1)).toBe(595_000);
    expect(view?.backlog.at(-1)).toBe(599_000);
  });

  it('answers only the window, and with `since` only what is new (the open bucket again)', () => {
    const history = new QueueHistory({ windowMs: 60_000, points: 12 });
    // A slow tick: the ring (12 points) reaches further back than the window.
    for (let at = 0; at <= 100_000; at += 10_000) history.record('q', sample(at));
    expect(history.view(100_000).queues.q?.at[0]).toBe(40_000);
    expect(history.view(100_000, { since: 80_000 }).queues.q?.at).toEqual([
      80_000, 90_000, 100_000,
    ]);
    expect(history.view(100_000, { since: 200_000 }).queues.q?.at).toEqual([]);
    expect(Object.keys(history.view(100_000, { queues: ['other'] }).queues)).toEqual([]);
  });

  it('records unknown figures as null, and a snapshot that could not be read as unknown', () => {
    const history = new QueueHistory({ windowMs: 60_000, points: 12 });
    const snapshot = {
      queue: 'emails',
      at: 5_000,
      pending: 40,
      arrivalRate: 2,
      pickupLatencyMs: null,
      error: { code: 'REDIS_UNAVAILABLE', message: 'down' },
    } as unknown as QueueSnapshot;
    history.recordSnapshot(snapshot, 1, 1);
    history.recordSnapshot({ ...snapshot, at: 10_000, error: undefined } as QueueSnapshot, 1, null);
    const view = history.view(10_000).queues.emails;
    expect(view?.backlog).toEqual([null, 40]);
    expect(view?.arrivalRate).toEqual([null, 2]);
    expect(view?.pickupP95Ms).toEqual([null, null]);
    expect(view?.desired).toEqual([1, null]);
  });

  it('forgets a queue no longer recorded for a whole window', () => {
    const history = new QueueHistory({ windowMs: 60_000, points: 12 });
    history.record('removed', sample(0));
    history.record('kept', sample(0));
    history.record('kept', sample(61_000));
    history.prune(61_000);
    expect(history.queues).toBe(1);
    expect(Object.keys(history.view(61_000).queues)).toEqual(['kept']);
  });

  it('refuses sizes it cannot keep', () => {
    expect(() => new QueueHistory({ points: 1 })).toThrow(/points must be a whole number >= 2/);
    expect(() => new QueueHistory({ windowMs: 10, points: 720 })).toThrow(/at least 720 ms/);
  });
});
