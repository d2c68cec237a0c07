import { describe, expect, it } from 'vitest';
import { RateWindow } from '../windows.js';
import { BeatLedger, type ProcessBeat } from './sidekiq-beats.js';

const BEAT_MS = 5_000;
const READ_MS = 2_000;

interface Simulated {
  identity: string;
  threads: number;
  startMs: number;
  stopMs?: number;
  /** Queue -> jobs in flight at each of its heartbeats. */
  busy?: Record<string, number>;
}

/**
 * Sidekiq as the ledger sees it, at a steady `ratePerSecond` of jobs shared among the running
 * threads (a job goes to whichever thread is free): each process counts its jobs in memory,
 * flushes them to `stat:processed` at each heartbeat (every 5 s from its start) and at its exit.
 * The ledger reads every 2 s; returns the rate its intervals give over the last 60 s, per read.
 */
function simulate(
  processes: Simulated[],
  ratePerSecond: number,
  untilMs: number,
  ledger = new BeatLedger(300_000),
): { rates: { atMs: number; rate: number | null }[]; ledger: BeatLedger } {
  const window = new RateWindow(60_000);
  const pending = new Map<string, number>();
  const lastBeat = new Map<string, number>();
  let counter = 0;
  let previousRead: number | null = null;
  const rates: { atMs: number; rate: number | null }[] = [];
  const alive = (p: Simulated, t: number) =>
    p.startMs <= t && (p.stopMs === undefined || t < p.stopMs);
  for (let t = 0; t <= untilMs; t += 10) {
    const threads = processes.filter((p) => alive(p, t)).reduce((sum, p) => sum + p.threads, 0);
    for (const p of processes) {
      if (alive(p, t)) {
        pending.set(
          p.identity,
          (pending.get(p.identity) ?? 0) + (ratePerSecond * 0.01 * p.threads) / threads,
        );
        if ((t - p.startMs) % BEAT_MS === 0) {
          counter += pending.get(p.identity) ?? 0;
          pending.set(p.identity, 0);
          lastBeat.set(p.identity, t);
        }
      } else if (p.stopMs === t) {
        counter += pending.get(p.identity) ?? 0;
        pending.set(p.identity, 0);
        lastBeat.delete(p.identity);
      }
    }
    if (t % READ_MS === 0) {
      const present: ProcessBeat[] = processes
        .filter((p) => lastBeat.has(p.identity))
        .map((p) => ({
          identity: p.identity,
          beatMs: lastBeat.get(p.identity) as number,
          startedMs: p.startMs,
          threads: p.threads,
          busy: new Map(Object.entries(p.busy ?? {})),
        }));
      const interval = ledger.update(counter, present, t, previousRead);
      if (interval) window.add(interval.fromMs, interval.toMs, interval.count);
      rates.push({ atMs: t, rate: window.rate(t) });
      previousRead = t;
    }
  }
  return { rates, ledger };
}

/** The worst relative error of the rates read after `fromMs`. */
function worstError(
  rates: { atMs: number; rate: number | null }[],
  truth: number,
  fromMs: number,
): number {
  let worst = 0;
  for (const { atMs, rate } of rates) {
    if (atMs < fromMs) continue;
    expect(rate).not.toBeNull();
    worst = Math.max(worst, Math.abs((rate as number) - truth) / truth);
  }
  return worst;
}

describe('BeatLedger: stat:processed timed by each process heartbeat', () => {
  it('reads a steady rate from processes whose beats are staggered', () => {
    const { rates } = simulate(
      [
        { identity: 'a', threads: 1, startMs: 0 },
        { identity: 'b', threads: 1, startMs: 1_300 },
        { identity: 'c', threads: 2, startMs: 3_700 },
      ],
      4,
      120_000,
    );
    expect(worstError(rates, 4, 70_000)).toBeLessThan(0.03);
  });

  it('keeps the rate while processes start and stop (a mean of the beats jumps with each)', () => {
    const { rates } = simulate(
      [
        { identity: 'a', threads: 1, startMs: 0 },
        { identity: 'b', threads: 1, startMs: 2_500, stopMs: 41_000 },
        { identity: 'c', threads: 1, startMs: 12_100 },
        { identity: 'd', threads: 1, startMs: 23_900, stopMs: 61_500 },
        { identity: 'e', threads: 2, startMs: 33_300, stopMs: 90_100 },
        { identity: 'f', threads: 1, startMs: 52_700 },
      ],
      4,
      130_000,
    );
    // A stopping process's last jobs are counted at its exit, placed between two reads: +-1 s.
    expect(worstError(rates, 4, 30_000)).toBeLessThan(0.05);
  });

  it('counts nothing for a stretch with no process at all (scaled to zero), then reads the new ones', () => {
    const { rates } = simulate(
      [
        { identity: 'a', threads: 1, startMs: 0, stopMs: 20_100 },
        { identity: 'b', threads: 1, startMs: 200_300 },
        { identity: 'c', threads: 1, startMs: 203_100 },
      ],
      2,
      300_000,
    );
    // 60 s after the new processes started, their rate alone (the old stretch out of the window).
    expect(worstError(rates, 2, 270_000)).toBeLessThan(0.05);
  });

  it('starts over when the counter goes back (stat:processed reset)', () => {
    const ledger = new BeatLedger(300_000);
    const beat = (beatMs: number): ProcessBeat => ({
      identity: 'a',
      beatMs,
      startedMs: 0,
      threads: 1,
      busy: new Map(),
    });
    expect(ledger.update(100, [beat(0)], 1_000, null)).toBeNull();
    expect(ledger.update(110, [beat(5_000)], 6_000, 1_000)).toEqual({
      fromMs: 0,
      toMs: 5_000,
      count: 10,
    });
    expect(ledger.update(3, [beat(10_000)], 11_000, 6_000)).toBeNull();
    expect(ledger.update(8, [beat(15_000)], 16_000, 11_000)).toEqual({
      fromMs: 10_000,
      toMs: 15_000,
      count: 5,
    });
    // No beat since the last read: nothing to time, the growth waits for the next beat.
    expect(ledger.update(9, [beat(15_000)], 17_000, 16_000)).toBeNull();
    expect(ledger.update(12, [beat(20_000)], 21_000, 17_000)).toEqual({
      fromMs: 15_000,
      toMs: 20_000,
      count: 4,
    });
  });

  it("weights each process's stretch by its share of the threads: a process first seen after a few beats counts from its start", () => {
    const ledger = new BeatLedger(300_000);
    const beat = (identity: string, beatMs: number, startedMs: number): ProcessBeat => ({
      identity,
      beatMs,
      startedMs,
      threads: 1,
      busy: new Map(),
    });
    expect(ledger.update(0, [beat('a', 0, 0)], 500, null)).toBeNull();
    // b started at 1 s (its first beat) and beat again at 6 s; a beat at 5 s. a ran alone for
    // 1 s, then shared the jobs with b: 1 + 4 / 2 s of a's, 5 / 2 s of b's.
    expect(ledger.update(11, [beat('a', 5_000, 0), beat('b', 6_000, 1_000)], 6_500, 500)).toEqual({
      fromMs: 0,
      toMs: 5_500,
      count: 11,
    });
    // b exits between two reads (its last jobs flushed then): its stretch ends halfway, at 9 s.
    expect(ledger.update(17, [beat('a', 10_000, 0)], 11_500, 6_500)).toEqual({
      fromMs: 5_500,
      // a: 5-6 s shared (0.5), 6-9 s shared (1.5), 9-10 s alone (1); b: 6-9 s shared (1.5).
      toMs: 10_000,
      count: 6,
    });
  });

  it("shares the counter by each queue's busy thread-time and gives the run time by Little's law", () => {
    // Over 120 s at 4 jobs/s, high busy at a's beats (one thread), default at b's two threads.
    const { ledger } = simulate(
      [
        { identity: 'a', threads: 1, startMs: 0, busy: { high: 1 } },
        { identity: 'b', threads: 2, startMs: 2_000, busy: { default: 2 } },
      ],
      4,
      120_000,
    );
    // a's beats stand for 0-120 s, b's (two busy threads) for 2-117 s.
    expect(ledger.share('high', 120_000, 10)).toBeCloseTo(120 / 350, 4);
    expect(ledger.share('default', 120_000, 10)).toBeCloseTo(230 / 350, 4);
    expect(ledger.share('other', 120_000, 10)).toBe(0);
    // 3 threads always busy, 4 jobs/s: 750 ms each.
    // (the first 2 s a ran alone, and its last jobs wait for its next beat: within 2 %).
    expect(ledger.runTimeMs(120_000, 10)).toBeGreaterThan(735);
    expect(ledger.runTimeMs(120_000, 10)).toBeLessThan(765);
    // Only the last 300 s count: long after, nothing is known.
    expect(ledger.share('high', 500_000, 1)).toBeNull();
    expect(ledger.runTimeMs(500_000, 1)).toBeNull();
  });

  it('gives no run time and no share before enough heartbeats found a job in flight', () => {
    const { ledger } = simulate(
      [
        { identity: 'a', threads: 1, startMs: 0, busy: { high: 1 } },
        // Its heartbeats find nothing running: they do not count towards the sample.
        { identity: 'b', threads: 1, startMs: 0 },
      ],
      1,
      30_000,
    );
    // Six beats of a, five of them after the first (which stands for no time).
    expect(ledger.runTimeMs(30_000, 7)).toBeNull();
    expect(ledger.runTimeMs(30_000, 6)).not.toBeNull();
    expect(ledger.share('high', 30_000, 7)).toBeNull();
    expect(ledger.share('high', 30_000, 6)).toBe(1);
    expect(ledger.share('idle', 30_000, 6)).toBe(0);
  });
});
