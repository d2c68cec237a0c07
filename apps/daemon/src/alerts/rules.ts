import type { QueueSnapshot } from '@qscale/contracts';
import { ALERT_DEFAULTS } from '../config/alerts.js';
import type { AlertEvent } from './events.js';

/** What the rules read of one queue at a tick: what the loop has anyway. */
export interface AlertQueueView {
  name: string;
  slo: { pickupMs: number; percentile: number };
  snapshot: QueueSnapshot | null;
  /** The pool's health; null in a dry run. `degraded`: its workers keep failing to start. */
  poolHealth: 'ok' | 'backoff' | 'degraded' | null;
  failedStarts: number;
  workers: { running: number; desired: number | null };
  /** `host:port` of the queue's Redis (never credentials). */
  redis: string;
  /**
   * A worker group's views: each member queue (`member`: its own snapshot and SLO, the
   * group's workers) and the group's pool (`pool`: its workers' health only). SLO and
   * unreadable alerts name the member; a pool failing to start its workers names the group.
   */
  group?: { name: string; role: 'member' | 'pool' };
}

/** Errors that mean Redis itself could not be reached or used: a Redis event, not a queue's. */
const CONNECTION_CODES = new Set(['REDIS_UNREACHABLE', 'REDIS_TIMEOUT', 'REDIS_AUTH', 'REDIS_TLS']);

type Status = 'bad' | 'good' | 'band' | 'unknown';

/**
 * One condition with hysteresis: it fires after `bad` held for `forMs`, and recovers after
 * `good` held for `recoverForMs`. `band` (between the two thresholds) and `unknown` (no
 * data) never count towards a change, and restart the count: a figure must hold on both
 * sides for the whole time, so a value hovering at the threshold cannot flap.
 */
class Condition {
  firing = false;
  /** Since when the current state holds (epoch ms). */
  since: number;
  #candidateSince: number | null = null;

  constructor(now: number) {
    this.since = now;
  }

  update(now: number, status: Status, forMs: number, recoverForMs: number): boolean {
    const wantsChange = this.firing ? status === 'good' : status === 'bad';
    if (!wantsChange) {
      this.#candidateSince = null;
      return false;
    }
    this.#candidateSince ??= now;
    if (now - this.#candidateSince < (this.firing ? recoverForMs : forMs)) return false;
    this.firing = !this.firing;
    this.#candidateSince = null;
    this.since = now;
    return true;
  }
}

/**
 * Turns what each tick measured into alert events: SLO breach and recovery per queue (per
 * member queue of a worker group, each against its own SLO), a degraded queue (unreadable, or
 * its workers failing to start) and back, Redis unreachable and back. Pure apart from its conditions' memory; time comes in through `now`.
 */
export class AlertRules {
  readonly #conditions = new Map<string, Condition>();

  evaluate(
    now: number,
    queues: readonly AlertQueueView[],
    settings: { forMs: number; recoverForMs: number },
  ): AlertEvent[] {
    const events: AlertEvent[] = [];
    const seen = new Set<string>();
    const check = (
      key: string,
      status: Status,
      fire: () => AlertEvent,
      recover: (sinceMs: number) => AlertEvent,
    ) => {
      seen.add(key);
      let condition = this.#conditions.get(key);
      if (!condition) {
        condition = new Condition(now);
        this.#conditions.set(key, condition);
      }
      const openedAt = condition.since;
      if (!condition.update(now, status, settings.forMs, settings.recoverForMs)) return;
      events.push(condition.firing ? fire() : recover(now - openedAt));
    };

    const statuses = new Map(queues.map((queue) => [queue, sloStatus(queue)]));
    for (const queue of queues) {
      const slo = statuses.get(queue) ?? sloStatus(queue);
      // A group's pool has no SLO of its own: each member is held to its own.
      if (queue.group?.role !== 'pool') {
        const group = queue.group ? groupOf(queue, queues, statuses) : null;
        check(
          `slo:${queue.name}`,
          slo.status,
          () => breachEvent(queue, slo.signal, now, group),
          (durationMs) => ({
            type: 'slo-recovered',
            status: 'resolved',
            key: `slo:${queue.name}`,
            at: now,
            queue: queue.name,
            summary: `queue ${nameOf(queue)} meets its pickup SLO again (${describe(slo.signal)} < ${secondsText(queue.slo.pickupMs * ALERT_DEFAULTS.sloRecoverBelow)}) after ${secondsText(durationMs)}`,
            details: {
              sloMs: queue.slo.pickupMs,
              percentile: queue.slo.percentile,
              observedMs: slo.signal?.observedMs ?? null,
              breachDurationMs: durationMs,
              ...(group ? { group: group.name } : {}),
            },
          }),
        );
      }
      const degraded = degradedStatus(queue);
      check(
        `degraded:${queue.name}`,
        degraded.status,
        () => ({
          type: 'queue-degraded',
          status: 'firing',
          key: `degraded:${queue.name}`,
          at: now,
          queue: queue.name,
          summary: `${kindOf(queue)} ${nameOf(queue)} is degraded: ${degraded.reasons.map((reason) => reason.message).join('; ')}`,
          details: {
            reasons: degraded.reasons,
            ...(queue.group ? { group: queue.group.name } : {}),
          },
        }),
        (durationMs) => ({
          type: 'queue-recovered',
          status: 'resolved',
          key: `degraded:${queue.name}`,
          at: now,
          queue: queue.name,
          summary: `${kindOf(queue)} ${nameOf(queue)} is healthy again after ${secondsText(durationMs)}`,
          details: {
            degradedForMs: durationMs,
            ...(queue.group ? { group: queue.group.name } : {}),
          },
        }),
      );
    }

    // The queues read (a group's members, not its pool, which reads nothing itself).
    const read = queues.filter((queue) => queue.group?.role !== 'pool');
    for (const [redis, members] of groupBy(read, (queue) => queue.redis)) {
      const status = redisStatus(members);
      const names = members.map((queue) => queue.name);
      check(
        `redis:${redis}`,
        status.status,
        () => ({
          type: 'redis-unreachable',
          status: 'firing',
          key: `redis:${redis}`,
          at: now,
          queue: null,
          summary: `Redis ${redis} cannot be reached (${status.code}); the workers of ${names.join(', ')} are kept as they are`,
          details: { redis, queues: names, code: status.code },
        }),
        (durationMs) => ({
          type: 'redis-reachable',
          status: 'resolved',
          key: `redis:${redis}`,
          at: now,
          queue: null,
          summary: `Redis ${redis} answers again after ${secondsText(durationMs)}`,
          details: { redis, queues: names, outageMs: durationMs },
        }),
      );
    }
    // A queue or Redis that left the configuration cannot recover: forget it.
    for (const key of [...this.#conditions.keys()])
      if (!seen.has(key)) this.#conditions.delete(key);
    return events;
  }

  /** Conditions firing now, for /api/state. */
  firing(): { key: string; since: number }[] {
    return [...this.#conditions]
      .filter(([, condition]) => condition.firing)
      .map(([key, condition]) => ({ key, since: condition.since }));
  }
}

interface Signal {
  signal: 'pickup-percentile' | 'oldest-pending-age';
  observedMs: number;
}

/**
 * The SLO figure: the larger of the observed pickup wait at the SLO's percentile (p50, p95 or
 * p99, the nearest at or above it, over the reader's sliding window) and the oldest pending
 * job's age (a job waiting now, which no pickup has measured yet). Breached at or above the
 * target; recovered below `sloRecoverBelow` (80 %) of it; in between, nothing changes.
 */
function sloStatus(queue: AlertQueueView): { status: Status; signal: Signal | null } {
  const { snapshot, slo } = queue;
  if (!snapshot || snapshot.error) return { status: 'unknown', signal: null };
  const pickup = snapshot.pickupLatencyMs;
  const atPercentile =
    pickup && pickup.samples > 0
      ? slo.percentile <= 50
        ? pickup.p50
        : slo.percentile <= 95
          ? pickup.p95
          : pickup.p99
      : null;
  const oldest = snapshot.oldestPendingAgeMs;
  if (atPercentile === null && oldest === null) return { status: 'unknown', signal: null };
  const signal: Signal =
    (oldest ?? -1) > (atPercentile ?? -1)
      ? { signal: 'oldest-pending-age', observedMs: oldest ?? 0 }
      : { signal: 'pickup-percentile', observedMs: atPercentile ?? 0 };
  const status =
    signal.observedMs >= slo.pickupMs
      ? 'bad'
      : signal.observedMs < slo.pickupMs * ALERT_DEFAULTS.sloRecoverBelow
        ? 'good'
        : 'band';
  return { status, signal };
}

/** How a group member's siblings stand at this tick, for a member's breach. */
interface GroupContext {
  name: string;
  others: {
    queue: string;
    sloMs: number;
    observedMs: number | null;
    /** `breach`: at or above its own SLO; `near`: above 80 % of it; `unknown`: no figure. */
    slo: 'ok' | 'near' | 'breach' | 'unknown';
  }[];
}

const SLO_WORDS = { good: 'ok', band: 'near', bad: 'breach', unknown: 'unknown' } as const;

function groupOf(
  member: AlertQueueView,
  queues: readonly AlertQueueView[],
  statuses: ReadonlyMap<AlertQueueView, { status: Status; signal: Signal | null }>,
): GroupContext {
  const name = member.group?.name ?? '';
  return {
    name,
    others: queues
      .filter(
        (queue) => queue !== member && queue.group?.name === name && queue.group.role === 'member',
      )
      .map((queue) => {
        const status = statuses.get(queue) ?? sloStatus(queue);
        return {
          queue: queue.name,
          sloMs: queue.slo.pickupMs,
          observedMs: status.signal?.observedMs ?? null,
          slo: SLO_WORDS[status.status],
        };
      }),
  };
}

function breachEvent(
  queue: AlertQueueView,
  signal: Signal | null,
  now: number,
  group: GroupContext | null,
): AlertEvent {
  // A member's breach says how the group's other queues stand: a pool whose high-priority
  // queue is fine while its default queue waits is a different fix from one where all wait.
  const others = group?.others ?? [];
  const meeting = others.filter((other) => other.slo === 'ok' || other.slo === 'near');
  const missing = others.filter((other) => other.slo === 'breach');
  const siblings =
    others.length === 0
      ? ''
      : `; in group ${group?.name}, ${[
          meeting.length > 0
            ? `${meeting.map((other) => `${other.queue} (${secondsText(other.observedMs ?? 0)} of ${secondsText(other.sloMs)})`).join(', ')} ${meeting.length === 1 ? 'meets its' : 'meet their'} own SLO`
            : null,
          missing.length > 0
            ? `${missing.map((other) => other.queue).join(', ')} ${missing.length === 1 ? 'misses its' : 'miss their'} own too`
            : null,
          others.some((other) => other.slo === 'unknown')
            ? `${others
                .filter((other) => other.slo === 'unknown')
                .map((other) => other.queue)
                .join(', ')} not known`
            : null,
        ]
          .filter((part) => part !== null)
          .join('; ')}`;
  return {
    type: 'slo-breach',
    status: 'firing',
    key: `slo:${queue.name}`,
    at: now,
    queue: queue.name,
    summary: `queue ${nameOf(queue)} misses its pickup SLO: ${describe(signal)} >= ${secondsText(queue.slo.pickupMs)} (p${queue.slo.percentile} target)${siblings}`,
    details: {
      sloMs: queue.slo.pickupMs,
      percentile: queue.slo.percentile,
      signal: signal?.signal ?? null,
      observedMs: signal?.observedMs ?? null,
      workersRunning: queue.workers.running,
      workersDesired: queue.workers.desired,
      ...(group ? { group: group.name, groupMembers: group.others } : {}),
    },
  };
}

/** `emails`, or `default (group web)` for a group's member. */
function nameOf(queue: AlertQueueView): string {
  return queue.group?.role === 'member' ? `${queue.name} (group ${queue.group.name})` : queue.name;
}

function kindOf(queue: AlertQueueView): string {
  return queue.group?.role === 'pool' ? 'worker group' : 'queue';
}

type Reason =
  | { reason: 'unreadable'; code: string; message: string }
  | { reason: 'workers-failing'; failedStarts: number; message: string };

function degradedStatus(queue: AlertQueueView): { status: Status; reasons: Reason[] } {
  const reasons: Reason[] = [];
  const error = queue.snapshot?.error;
  // A group's pool reads no queue: its members report their own reads.
  if (error && !CONNECTION_CODES.has(error.code) && queue.group?.role !== 'pool') {
    reasons.push({
      reason: 'unreadable',
      code: error.code,
      message: `cannot be read (${error.code})`,
    });
  }
  if (queue.poolHealth === 'degraded') {
    reasons.push({
      reason: 'workers-failing',
      failedStarts: queue.failedStarts,
      message: `its workers keep failing to start (${queue.failedStarts} failed starts in a row)`,
    });
  }
  if (reasons.length > 0) return { status: 'bad', reasons };
  if (queue.group?.role === 'pool') return { status: 'good', reasons };
  // With Redis unreachable the queue's own readability is unknown: that is Redis' event.
  return { status: error || !queue.snapshot ? 'unknown' : 'good', reasons };
}

function redisStatus(queues: readonly AlertQueueView[]): { status: Status; code: string | null } {
  const read = queues.filter((queue) => queue.snapshot !== null);
  if (read.length === 0) return { status: 'unknown', code: null };
  const failures = read.filter((queue) => CONNECTION_CODES.has(queue.snapshot?.error?.code ?? ''));
  if (failures.length < read.length) return { status: 'good', code: null };
  return { status: 'bad', code: failures[0]?.snapshot?.error?.code ?? null };
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(keyOf(item), [...(groups.get(keyOf(item)) ?? []), item]);
  return groups;
}

function describe(signal: Signal | null): string {
  if (!signal) return 'no figure';
  const name =
    signal.signal === 'oldest-pending-age' ? 'oldest pending age' : 'observed pickup wait';
  return `${name} ${secondsText(signal.observedMs)}`;
}

function secondsText(ms: number): string {
  return `${Number((ms / 1_000).toFixed(1))}s`;
}
