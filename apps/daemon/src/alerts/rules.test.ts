import type { QueueSnapshot } from '@qscale/contracts';
import { snapshot } from '@qscale/testkit';
import { describe, expect, it } from 'vitest';
import { type AlertQueueView, AlertRules } from './rules.js';

const SETTINGS = { forMs: 10_000, recoverForMs: 20_000 };

function view(figures: Partial<QueueSnapshot> | null, extra: Partial<AlertQueueView> = {}) {
  return {
    name: 'emails',
    slo: { pickupMs: 10_000, percentile: 95 },
    snapshot: figures === null ? null : snapshot(figures),
    poolHealth: 'ok',
    failedStarts: 0,
    workers: { running: 1, desired: 1 },
    redis: '127.0.0.1:6379',
    ...extra,
  } satisfies AlertQueueView;
}

/** Runs the rules once per 2 s tick over `figures`, from t = 0; returns the events by tick time. */
function run(rules: AlertRules, ticks: (ReturnType<typeof view> | ReturnType<typeof view>[])[]) {
  return ticks.flatMap((tick, index) =>
    rules
      .evaluate(index * 2_000, Array.isArray(tick) ? tick : [tick], SETTINGS)
      .map((event) => ({ at: index * 2_000, type: event.type, event })),
  );
}

const late = view({ oldestPendingAgeMs: 12_000, pending: 5 });
const fine = view({ oldestPendingAgeMs: 1_000, pending: 1 });
const nearTarget = view({ oldestPendingAgeMs: 9_000, pending: 1 }); // above 80 %, below 100 %

describe('alert rules: SLO breach and recovery', () => {
  it('fires once the breach held for `for`, recovers once below 80 % held for `recoverFor`', () => {
    const events = run(new AlertRules(), [
      ...Array(7).fill(late), // t = 0..12 s: the breach holds 10 s at t = 10 s
      ...Array(12).fill(fine), // t = 14..36 s: good from 14 s, 20 s later at 34 s
    ]);
    expect(events.map(({ at, type }) => [at, type])).toEqual([
      [10_000, 'slo-breach'],
      [34_000, 'slo-recovered'],
    ]);
    expect(events[0]?.event.details).toMatchObject({
      signal: 'oldest-pending-age',
      observedMs: 12_000,
      sloMs: 10_000,
    });
    expect(events[1]?.event.details).toMatchObject({ breachDurationMs: 24_000 });
  });

  it('a figure hovering just under the target neither recovers nor fires again (hysteresis)', () => {
    const events = run(new AlertRules(), [
      ...Array(6).fill(late),
      ...Array(30)
        .fill(nearTarget)
        .flatMap((tick, i) => (i % 3 === 0 ? [late] : [tick])),
    ]);
    expect(events.map(({ type }) => type)).toEqual(['slo-breach']);
  });

  it('a short spike and a single good tick do not change anything', () => {
    const events = run(new AlertRules(), [
      late,
      late,
      fine,
      late,
      late,
      late,
      fine,
      late,
      late,
      fine,
    ]);
    expect(events).toEqual([]);
  });

  it('uses the observed pickup wait at the SLO percentile when no job waits', () => {
    const slow = view({ pickupLatencyMs: { p50: 2_000, p95: 15_000, p99: 20_000, samples: 30 } });
    const events = run(new AlertRules(), Array(6).fill(slow));
    expect(events[0]?.event.details).toMatchObject({
      signal: 'pickup-percentile',
      observedMs: 15_000,
    });
  });

  it('missing figures hold the state: no recovery is counted while the queue cannot be read', () => {
    const unreadable = view({ error: { code: 'WRONG_TYPE', message: 'x' } });
    const events = run(new AlertRules(), [
      ...Array(6).fill(late),
      ...Array(20).fill(unreadable),
      ...Array(5).fill(fine), // 8 s of good: not yet the 20 s
    ]);
    expect(events.filter((e) => e.type.startsWith('slo')).map((e) => e.type)).toEqual([
      'slo-breach',
    ]);
  });
});

describe('alert rules: degraded queues and Redis', () => {
  it('a queue whose workers keep failing to start is degraded, then recovers', () => {
    const failing = view({}, { poolHealth: 'degraded', failedStarts: 5 });
    const events = run(new AlertRules(), [...Array(6).fill(failing), ...Array(11).fill(view({}))]);
    expect(events.map(({ type }) => type)).toEqual(['queue-degraded', 'queue-recovered']);
    expect(events[0]?.event.details).toEqual({
      reasons: [
        {
          reason: 'workers-failing',
          failedStarts: 5,
          message: 'its workers keep failing to start (5 failed starts in a row)',
        },
      ],
    });
  });

  it('Redis unreachable is one Redis event, not a degraded event per queue', () => {
    const down = (name: string) =>
      view(
        { queue: name, error: { code: 'REDIS_UNREACHABLE', message: 'ECONNREFUSED' } },
        { name },
      );
    const up = (name: string) => view({ queue: name }, { name });
    const events = run(new AlertRules(), [
      ...Array(6).fill([down('emails'), down('reports')]),
      ...Array(11).fill([up('emails'), up('reports')]),
    ]);
    expect(events.map(({ type }) => type)).toEqual(['redis-unreachable', 'redis-reachable']);
    expect(events[0]?.event.details).toEqual({
      redis: '127.0.0.1:6379',
      queues: ['emails', 'reports'],
      code: 'REDIS_UNREACHABLE',
    });
  });

  it('a queue that leaves the configuration is forgotten, without a recovery event', () => {
    const rules = new AlertRules();
    run(rules, Array(6).fill(late));
    expect(rules.firing().map((f) => f.key)).toEqual(['slo:emails']);
    expect(rules.evaluate(20_000, [], SETTINGS)).toEqual([]);
    expect(rules.firing()).toEqual([]);
  });
});

describe('alert rules: a worker group', () => {
  // Group `web` serves `high` (SLO 2 s) and `default` (SLO 10 s) with one pool.
  const member = (name: string, pickupMs: number, figures: Partial<QueueSnapshot>) =>
    view(
      { queue: name, ...figures },
      {
        name,
        slo: { pickupMs, percentile: 95 },
        poolHealth: null,
        group: { name: 'web', role: 'member' },
      },
    );
  const pool = (extra: Partial<AlertQueueView> = {}) =>
    view(
      { queue: 'web', oldestPendingAgeMs: 12_000, pending: 5 },
      {
        name: 'web',
        slo: { pickupMs: 2_000, percentile: 95 },
        group: { name: 'web', role: 'pool' },
        ...extra,
      },
    );
  const tick = (highAgeMs: number, defaultAgeMs: number, poolView = pool()) => [
    member('high', 2_000, { oldestPendingAgeMs: highAgeMs, pending: 1 }),
    member('default', 10_000, { oldestPendingAgeMs: defaultAgeMs, pending: 4 }),
    poolView,
  ];

  it('holds each member to its own SLO, not the tightest: default waiting 5 s of its 10 s is no breach', () => {
    const events = run(new AlertRules(), Array(10).fill(tick(500, 5_000)));
    expect(events).toEqual([]);
  });

  it('names the member that breaches with its own SLO, and says the high member meets its own', () => {
    const events = run(new AlertRules(), [
      ...Array(7).fill(tick(500, 12_000)),
      ...Array(12).fill(tick(500, 1_000)),
    ]);
    expect(events.map(({ type, event }) => [type, event.queue])).toEqual([
      ['slo-breach', 'default'],
      ['slo-recovered', 'default'],
    ]);
    const breach = events[0]?.event;
    expect(breach?.key).toBe('slo:default');
    expect(breach?.summary).toBe(
      'queue default (group web) misses its pickup SLO: oldest pending age 12s >= 10s (p95 target); in group web, high (0.5s of 2s) meets its own SLO',
    );
    expect(breach?.details).toMatchObject({
      sloMs: 10_000,
      observedMs: 12_000,
      group: 'web',
      groupMembers: [{ queue: 'high', sloMs: 2_000, observedMs: 500, slo: 'ok' }],
    });
    expect(events[1]?.event.details).toMatchObject({ sloMs: 10_000, group: 'web' });
  });

  it('both members late: two breaches, each saying the other misses its own too', () => {
    const events = run(new AlertRules(), Array(7).fill(tick(3_000, 12_000)));
    expect(events.map(({ event }) => event.queue)).toEqual(['high', 'default']);
    expect(events[0]?.event.summary).toContain('in group web, default misses its own too');
    expect(events[0]?.event.details).toMatchObject({ sloMs: 2_000, observedMs: 3_000 });
  });

  it('a pool failing to start its workers is one event naming the group, not one per member', () => {
    const failing = pool({ poolHealth: 'degraded', failedStarts: 4 });
    const events = run(new AlertRules(), Array(7).fill(tick(500, 1_000, failing)));
    expect(events.map(({ type, event }) => [type, event.key])).toEqual([
      ['queue-degraded', 'degraded:web'],
    ]);
    expect(events[0]?.event.summary).toBe(
      'worker group web is degraded: its workers keep failing to start (4 failed starts in a row)',
    );
  });

  it('an unreadable member is degraded under its own name', () => {
    const events = run(
      new AlertRules(),
      Array(7).fill([
        member('high', 2_000, { error: { code: 'WRONG_TYPE', message: 'x' } }),
        member('default', 10_000, { oldestPendingAgeMs: 1_000, pending: 1 }),
        pool(),
      ]),
    );
    expect(events.map(({ event }) => [event.key, event.summary])).toEqual([
      ['degraded:high', 'queue high (group web) is degraded: cannot be read (WRONG_TYPE)'],
    ]);
  });
});
