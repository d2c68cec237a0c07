import type { Decision, Recommendation } from '@qscale/contracts';
import { context } from '@qscale/testkit';
import { createHostAllocator } from '../src/allocator.js';
import { shareHostCapacity } from '../src/host.js';
import { createPolicyPipeline } from '../src/pipeline.js';

// A small tick model of many queues sharing a host's worker slots: jobs arrive on a fixed
// schedule, each worker takes one job at a time, a spawned worker is ready after spawnMs, a
// stopped worker finishes its job first (and no longer counts). Each tick every queue gets a
// recommendation from a stand-in strategy that wants one worker while its queue has seen work
// in the last `memoryMs` (as a smoothing strategy does), its own policy pipeline, then the
// host's allocation: the new allocator or the old stateless fair share.

export interface ModelQueue {
  name: string;
  /** Arrival times, ms from the start, ascending. */
  arrivals: number[];
  serviceMs: number;
  sloMs: number;
}

export interface ModelOptions {
  queues: ModelQueue[];
  maxWorkers: number;
  durationMs: number;
  tickMs: number;
  spawnMs: number;
  cooldownMs: number;
  /** The stand-in strategy wants a worker while the queue saw an arrival this recently. */
  memoryMs: number;
  allocation: 'allocator' | 'stateless';
}

export interface ModelDecision {
  at: number;
  queue: string;
  from: number;
  to: number;
  edits: Decision['edits'];
  /** The queue had nothing waiting, running or arriving at the tick. */
  idle: boolean;
}

export interface ModelResult {
  decisions: ModelDecision[];
  spawns: number;
  /** Down decisions within the cooldown of the same queue's last up decision. */
  reversals: ModelDecision[];
  /** Of those, the ones taken from a queue that still had work. */
  reversalsWithWork: ModelDecision[];
  /** Per queue: the longest time it had waiting jobs and no worker while an idle queue held a slot. */
  starvedWhileIdleHeldMs: Record<string, number>;
  /** Per queue: the longest pickup wait (jobs still waiting at the end count their wait so far). */
  maxWaitMs: Record<string, number>;
  /** Jobs never picked up. */
  leftBehind: number;
  /** Queues with jobs that never had a worker. */
  neverServed: string[];
  /** Most workers at once (running + starting), all queues together. */
  peakWorkers: number;
}

interface Worker {
  readyAt: number;
  busyUntil: number;
  stopping: boolean;
}

interface State {
  q: ModelQueue;
  next: number;
  started: number;
  waits: number[];
  workers: Worker[];
  served: boolean;
  lastArrivalAt: number;
  arrivedAtTick: number;
  starvedSince: number | null;
}

const STEP_MS = 100;

export function runContention(options: ModelOptions): ModelResult {
  const { tickMs, spawnMs, cooldownMs, maxWorkers } = options;
  const states: State[] = options.queues.map((q) => ({
    q,
    next: 0,
    started: 0,
    waits: [],
    workers: [],
    served: false,
    lastArrivalAt: Number.NEGATIVE_INFINITY,
    arrivedAtTick: 0,
    starvedSince: null,
  }));
  const pipelines = new Map(
    states.map((s) => [
      s.q.name,
      createPolicyPipeline({ cooldownMs, downStabilizationMs: cooldownMs }),
    ]),
  );
  const allocator = createHostAllocator({ cooldownMs });
  const result: ModelResult = {
    decisions: [],
    spawns: 0,
    reversals: [],
    reversalsWithWork: [],
    starvedWhileIdleHeldMs: {},
    maxWaitMs: {},
    leftBehind: 0,
    neverServed: [],
    peakWorkers: 0,
  };
  const lastUp = new Map<string, number>();
  const counted = (s: State) => s.workers.filter((w) => !w.stopping).length;
  const active = (s: State, now: number) =>
    s.workers.filter((w) => w.busyUntil > now && w.readyAt <= now).length;
  const idleAt = (s: State, now: number) =>
    s.started === s.next && active(s, now) === 0 && s.arrivedAtTick === s.next;

  for (let now = 0; now <= options.durationMs; now += STEP_MS) {
    // Work: arrivals, completions, pickups.
    for (const s of states) {
      while (s.next < s.q.arrivals.length && (s.q.arrivals[s.next] as number) <= now) {
        s.lastArrivalAt = s.q.arrivals[s.next] as number;
        s.next++;
      }
      s.workers = s.workers.filter((w) => !(w.stopping && w.busyUntil <= now));
      for (const w of s.workers) {
        if (w.stopping || w.readyAt > now || w.busyUntil > now || s.started >= s.next) continue;
        s.waits.push(now - (s.q.arrivals[s.started] as number));
        s.started++;
        s.served = true;
        w.busyUntil = now + s.q.serviceMs;
      }
    }
    if (now % tickMs !== 0) continue;
    // The tick: strategy, pipeline, allocation, then the pools follow.
    const entries = states.map((s) => {
      const pending = s.next - s.started;
      const ctx = context({
        now,
        tickMs,
        spawnLatencyMs: spawnMs,
        slo: { pickupMs: s.q.sloMs, percentile: 95 },
        bounds: { min: 0, max: 1 },
        queue: {
          queue: s.q.name,
          pending,
          active: active(s, now),
          oldestPendingAgeMs: pending > 0 ? now - (s.q.arrivals[s.started] as number) : 0,
          arrivalRate: ((s.next - s.arrivedAtTick) / tickMs) * 1_000,
        },
        workers: {
          running: s.workers.filter((w) => !w.stopping && w.readyAt <= now).length,
          starting: s.workers.filter((w) => !w.stopping && w.readyAt > now).length,
        },
      });
      const wants = pending + active(s, now) > 0 || now - s.lastArrivalAt < options.memoryMs;
      const recommendation: Recommendation = {
        workers: wants ? 1 : 0,
        reason: 'stand-in',
        terms: {},
      };
      const decision = (pipelines.get(s.q.name) as ReturnType<typeof createPolicyPipeline>).apply(
        recommendation,
        ctx,
      );
      return { decision, ctx };
    });
    const decisions =
      options.allocation === 'allocator'
        ? allocator.allocate(entries, { now, maxWorkers, limiter: 'config' })
        : shareHostCapacity(
            entries.map((entry) => entry.decision),
            { maxWorkers, limiter: 'config' },
          );
    states.forEach((s, i) => {
      const decision = decisions[i] as Decision;
      const idle = idleAt(s, now);
      if (decision.to !== decision.from) {
        const record: ModelDecision = {
          at: now,
          queue: s.q.name,
          from: decision.from,
          to: decision.to,
          edits: decision.edits,
          idle,
        };
        result.decisions.push(record);
        if (decision.to > decision.from) lastUp.set(s.q.name, now);
        else {
          const up = lastUp.get(s.q.name);
          if (up !== undefined && now - up < cooldownMs) {
            result.reversals.push(record);
            if (!idle) result.reversalsWithWork.push(record);
          }
        }
      }
      reconcile(s, decision.to, now, spawnMs, result);
    });
    // After the allocation: queues with waiting jobs and no worker while an idle queue holds one.
    const idleHolds = states.some((s) => idleAt(s, now) && counted(s) > 0);
    for (const s of states) {
      const starving = s.next > s.started && counted(s) === 0 && idleHolds;
      if (starving) s.starvedSince ??= now;
      else s.starvedSince = null;
      if (s.starvedSince !== null) {
        const name = s.q.name;
        result.starvedWhileIdleHeldMs[name] = Math.max(
          result.starvedWhileIdleHeldMs[name] ?? 0,
          now - s.starvedSince,
        );
      }
      s.arrivedAtTick = s.next;
    }
    result.peakWorkers = Math.max(
      result.peakWorkers,
      states.reduce((sum, s) => sum + counted(s), 0),
    );
  }
  for (const s of states) {
    const stillWaiting = s.q.arrivals.slice(s.started, s.next).map((at) => options.durationMs - at);
    result.maxWaitMs[s.q.name] = Math.max(0, ...s.waits, ...stillWaiting);
    result.leftBehind += s.q.arrivals.length - s.started;
    if (!s.served && s.q.arrivals.length > 0) result.neverServed.push(s.q.name);
  }
  return result;
}

function reconcile(s: State, target: number, now: number, spawnMs: number, result: ModelResult) {
  const live = s.workers.filter((w) => !w.stopping);
  for (let i = live.length; i < target; i++) {
    s.workers.push({ readyAt: now + spawnMs, busyUntil: 0, stopping: false });
    result.spawns++;
  }
  let remove = live.length - target;
  // Cheapest first: not yet ready, then idle, then busy (which finishes its job).
  const order = [...live].sort((a, b) => rank(a, now) - rank(b, now));
  for (const w of order) {
    if (remove <= 0) break;
    w.stopping = true;
    remove--;
  }
  s.workers = s.workers.filter((w) => !(w.stopping && (w.readyAt > now || w.busyUntil <= now)));
}

function rank(w: Worker, now: number): number {
  if (w.readyAt > now) return 0;
  return w.busyUntil <= now ? 1 : 2;
}

/** A deterministic pseudo-random stream (mulberry32). */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Poisson arrivals at `perSecond` from `fromMs` to `toMs`. */
export function poisson(next: () => number, perSecond: number, fromMs: number, toMs: number) {
  const times: number[] = [];
  let t = fromMs;
  for (;;) {
    t += (-Math.log(1 - next()) / perSecond) * 1_000;
    if (t >= toMs) return times;
    times.push(Math.round(t));
  }
}
