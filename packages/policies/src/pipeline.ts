import {
  type Decision,
  type DecisionEdit,
  decisionSchema,
  type PolicyInstance,
  type Recommendation,
  type ScalingContext,
} from '@qscale/contracts';
import { z } from 'zod';
import { DEFAULTS } from './defaults.js';
import { PolicyError } from './errors.js';
import { type BreachSignal, BreachTracker, observedBreach, type PolicyEvent } from './events.js';

const settingsSchema = z.strictObject({
  cooldownMs: z.number().nonnegative().optional(),
  downStabilizationMs: z.number().nonnegative().optional(),
  maxStepUp: z.number().int().positive().nullable().optional(),
  maxStepDown: z.number().int().positive().nullable().optional(),
  maxStepDownRatio: z.number().gt(0).max(1).nullable().optional(),
  staleAfterTicks: z.number().positive().optional(),
  alertCooldownMs: z.number().nonnegative().optional(),
  quietAfterTicks: z.number().int().positive().nullable().optional(),
  quietMemoryMs: z.number().nonnegative().optional(),
});

/** Settings of one queue's pipeline; each defaults to `DEFAULTS`. */
export type PolicySettings = z.input<typeof settingsSchema>;

/** A third-party policy, run after the built-in ones, before the final bounds check. */
export interface PolicyPlugin {
  /** Names the plugin in `Decision.edits`. */
  name: string;
  instance: PolicyInstance;
}

export interface PolicyPipelineConfig extends PolicySettings {
  /** Receives SLO breach and recovery events (rate-limited per queue). */
  onEvent?: (event: PolicyEvent) => void;
  /** Extra policies, in order. */
  plugins?: readonly PolicyPlugin[];
}

/** One queue's policies; keeps that queue's stabilisation window, cooldown and breach state. */
export interface PolicyPipeline {
  /** Turns the strategy's recommendation into a decision, with every edit and its reason. */
  apply(recommendation: Recommendation, ctx: ScalingContext): Decision;
}

type Direction = 'up' | 'down';

/**
 * The policies of one queue, in this order, each recording its edit in `Decision.edits`:
 * 1. `no-data`: missing (unreadable queue, unknown pending) or stale metrics never scale down;
 * 2. `paused`: a queue the backend marks paused is never scaled up;
 * 3. `bounds`: the queue's [min, max];
 * 4. `stabilization`: a scale-down goes only to the highest recommendation of the last
 *    `downStabilizationMs` (scale-up is immediate); a new pipeline counts the workers it
 *    finds as one, so a restart never scales down before watching a whole window;
 * 5. `cooldown`: no reversal within `cooldownMs` of the last change, except a scale-up while
 *    the SLO is breached (oldest age or observed percentile >= SLO) or about to be: the oldest
 *    job would be late before a new worker starts (oldest + spawn latency + tick >= SLO), or
 *    the running workers cannot start the last queued job in time
 *    (oldest + pending x mean service time / running slots >= SLO);
 * 6. `step-up` / `step-down`: at most `maxStepUp` added, `maxStepDown` (or `maxStepDownRatio`
 *    of the current count, at least 1) removed;
 * 7. plugins, then `bounds` again (bounds win over every other policy).
 * Host capacity and the fair share across queues come after, in `shareHostCapacity`.
 *
 * @throws PolicyError `POLICY_CONFIG_INVALID` when a setting is out of range.
 */
export function createPolicyPipeline(config: PolicyPipelineConfig = {}): PolicyPipeline {
  const { onEvent, plugins = [], ...rest } = config;
  const parsed = settingsSchema.safeParse(rest);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
      .join('; ');
    throw new PolicyError('POLICY_CONFIG_INVALID', `invalid policy settings: ${problems}`);
  }
  const s = {
    cooldownMs: parsed.data.cooldownMs ?? DEFAULTS.cooldownMs,
    downStabilizationMs: parsed.data.downStabilizationMs ?? DEFAULTS.downStabilizationMs,
    maxStepUp: parsed.data.maxStepUp ?? DEFAULTS.maxStepUp,
    maxStepDown: parsed.data.maxStepDown ?? DEFAULTS.maxStepDown,
    maxStepDownRatio: parsed.data.maxStepDownRatio ?? DEFAULTS.maxStepDownRatio,
    staleAfterTicks: parsed.data.staleAfterTicks ?? DEFAULTS.staleAfterTicks,
    quietAfterTicks:
      parsed.data.quietAfterTicks === undefined
        ? DEFAULTS.quietAfterTicks
        : parsed.data.quietAfterTicks,
    quietMemoryMs: parsed.data.quietMemoryMs ?? DEFAULTS.quietMemoryMs,
  };
  const quiet = new QuietTracker(s.quietMemoryMs);
  const window: { at: number; workers: number }[] = [];
  const breaches = new BreachTracker(parsed.data.alertCooldownMs ?? DEFAULTS.alertCooldownMs);
  let lastChange: { at: number; direction: Direction } | null = null;
  let started = false;

  return {
    apply(recommendation, ctx) {
      const { now, queue, bounds } = ctx;
      const current = ctx.workers.running + ctx.workers.starting;
      const edits: DecisionEdit[] = [];
      let target = recommendation.workers;
      const edit = (policy: string, to: number, why: string) => {
        if (to === target) return;
        edits.push({ policy, from: target, to, why });
        target = to;
      };

      const missing = missingData(ctx, s.staleAfterTicks);
      if (missing !== null && target < current) {
        edit('no-data', current, `keeping ${current} workers: never scale down on ${missing}`);
      }
      if (queue.paused === true && target > current) {
        edit('paused', current, `keeping ${current} workers: the queue is paused`);
      }
      clampToBounds(target, bounds, edit);

      // A fresh pipeline counts the workers it finds as a recommendation, so a (re)start does
      // not scale down before it has watched a whole stabilisation window.
      if (!started && s.downStabilizationMs > 0) {
        started = true;
        window.push({ at: now, workers: current });
      }
      if (missing === null) window.push({ at: now, workers: target });
      while (window.length > 0 && (window[0]?.at ?? now) < now - s.downStabilizationMs)
        window.shift();
      quiet.observe(now, missing === null && isQuiet(ctx));
      const drainedAndQuiet =
        s.quietAfterTicks !== null && quiet.released(now, s.quietAfterTicks * ctx.tickMs);
      if (target < current && window.length > 0 && drainedAndQuiet) {
        // The burst is over, not paused: the window's highest recommendations belong to it.
        window.length = 0;
        window.push({ at: now, workers: target });
      }
      if (target < current && window.length > 0) {
        const highest = Math.max(...window.map((entry) => entry.workers));
        const stabilized = Math.min(current, highest);
        if (stabilized > target) {
          edit(
            'stabilization',
            stabilized,
            `the highest recommendation of the last ${seconds(s.downStabilizationMs)} was ${highest}: ${stabilized === current ? `holding ${current}` : `scaling down to ${stabilized} only`}`,
          );
        }
      }

      if (lastChange && now - lastChange.at >= s.cooldownMs) lastChange = null;
      const direction: Direction | null =
        target > current ? 'up' : target < current ? 'down' : null;
      if (lastChange && direction && direction !== lastChange.direction) {
        const risk = direction === 'up' ? sloAtRisk(ctx) : null;
        if (risk === null) {
          edit(
            'cooldown',
            current,
            `no reversal within ${seconds(s.cooldownMs)} of the last scale-${lastChange.direction} (${seconds(now - lastChange.at)} ago)`,
          );
        }
      }

      if (target > current && s.maxStepUp !== null && target - current > s.maxStepUp) {
        edit('step-up', current + s.maxStepUp, `at most ${s.maxStepUp} workers added per decision`);
      }
      if (target < current) {
        const byCount = s.maxStepDown ?? Number.POSITIVE_INFINITY;
        const byRatio =
          s.maxStepDownRatio === null
            ? Number.POSITIVE_INFINITY
            : Math.max(1, Math.ceil(current * s.maxStepDownRatio));
        const step = Math.min(byCount, byRatio);
        if (current - target > step) {
          edit(
            'step-down',
            current - step,
            byRatio <= byCount
              ? `at most ${step} workers (${Math.round((s.maxStepDownRatio ?? 0) * 100)}% of ${current}) removed per decision`
              : `at most ${step} workers removed per decision`,
          );
        }
      }

      let decision: Decision = {
        queue: queue.queue,
        from: current,
        to: target,
        recommendation,
        edits,
      };
      for (const plugin of plugins) decision = runPlugin(plugin, decision, ctx);
      target = decision.to;
      const finalEdits = [...decision.edits];
      clampToBounds(target, bounds, (policy, to, why) => {
        finalEdits.push({ policy, from: target, to, why });
        target = to;
      });
      decision = { ...decision, to: target, edits: finalEdits };

      if (target !== current) lastChange = { at: now, direction: target > current ? 'up' : 'down' };
      if (onEvent) {
        for (const event of breaches.observe(
          queue.queue,
          now,
          ctx.slo.pickupMs,
          observedBreach(ctx),
        ))
          onEvent(event);
      }
      return decision;
    },
  };
}

/** Nothing pending and no arrivals since the last tick (completions when arrivals are unknown). */
function isQuiet(ctx: ScalingContext): boolean {
  const arrivals = ctx.queue.arrivalRate ?? ctx.queue.completionRate;
  return ctx.queue.pending === 0 && arrivals === 0;
}

/**
 * Quiet spells of one queue (drained, no arrivals): the current one, and those that ended in the
 * last `memoryMs`. A spell runs from the last tick that was not quiet to the last quiet one.
 */
class QuietTracker {
  private lastBusyAt: number | null = null;
  private lastQuietAt: number | null = null;
  private ended: { at: number; lengthMs: number }[] = [];

  constructor(private readonly memoryMs: number) {}

  /** Records one tick; returns how long the queue has been quiet (0: not quiet). */
  observe(now: number, quiet: boolean): number {
    if (quiet) {
      this.lastQuietAt = now;
    } else {
      if (
        this.lastBusyAt !== null &&
        this.lastQuietAt !== null &&
        this.lastQuietAt > this.lastBusyAt
      )
        this.ended.push({ at: this.lastQuietAt, lengthMs: this.lastQuietAt - this.lastBusyAt });
      this.lastBusyAt = now;
    }
    while ((this.ended[0]?.at ?? now) < now - this.memoryMs) this.ended.shift();
    return this.quietForMs(now);
  }

  private quietForMs(now: number): number {
    if (this.lastBusyAt === null || this.lastQuietAt !== now) return 0;
    return now - this.lastBusyAt;
  }

  /** Quiet for at least `minMs` and longer than every spell of the memory that ended. */
  released(now: number, minMs: number): boolean {
    const quietFor = this.quietForMs(now);
    return quietFor >= minMs && this.ended.every((spell) => quietFor > spell.lengthMs);
  }
}

function clampToBounds(
  target: number,
  bounds: { min: number; max: number },
  edit: (policy: string, to: number, why: string) => void,
): void {
  if (target > bounds.max) edit('bounds', bounds.max, `the queue's max is ${bounds.max}`);
  else if (target < bounds.min) edit('bounds', bounds.min, `the queue's min is ${bounds.min}`);
}

/** Why the metrics cannot be trusted for a scale-down, or null when they can. */
function missingData(ctx: ScalingContext, staleAfterTicks: number): string | null {
  const { queue } = ctx;
  if (queue.error) return `missing metrics (${queue.error.code}: ${queue.error.message})`;
  if (queue.pending === null) return 'missing metrics (pending jobs unknown)';
  const ageMs = ctx.now - queue.at;
  const staleMs = staleAfterTicks * ctx.tickMs;
  if (ageMs > staleMs)
    return `stale metrics (snapshot ${seconds(ageMs)} old, more than ${seconds(staleMs)})`;
  return null;
}

/**
 * The breach that lets a scale-up through the cooldown: observed, or predicted because the
 * oldest job will be late before a new worker can start (oldest + spawn latency + tick >= SLO),
 * or because the running workers cannot start the last queued job in time
 * (oldest + pending x mean service / running slots >= SLO).
 */
function sloAtRisk(ctx: ScalingContext): BreachSignal | null {
  const observed = observedBreach(ctx);
  if (observed) return observed;
  const { queue, slo, workers } = ctx;
  const oldest = queue.oldestPendingAgeMs ?? 0;
  if (oldest > 0 && oldest + ctx.spawnLatencyMs + ctx.tickMs >= slo.pickupMs) {
    return { signal: 'oldest-pending-age', observedMs: oldest };
  }
  const serviceMs = queue.serviceTimeMs?.mean;
  const slots = workers.running * workers.concurrency;
  const pending = queue.pending ?? 0;
  if (pending > 0 && serviceMs !== undefined) {
    const lastStartMs = slots > 0 ? (pending * serviceMs) / slots : Number.POSITIVE_INFINITY;
    if (oldest + lastStartMs >= slo.pickupMs)
      return { signal: 'oldest-pending-age', observedMs: oldest };
  }
  return null;
}

function runPlugin(plugin: PolicyPlugin, decision: Decision, ctx: ScalingContext): Decision {
  const result = plugin.instance.apply(decision, ctx);
  const checked = decisionSchema.safeParse(result);
  if (!checked.success) {
    throw new PolicyError(
      'POLICY_BAD_DECISION',
      `policy "${plugin.name}" returned ${JSON.stringify(result)} for queue "${ctx.queue.queue}", expected a Decision: ${checked.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`,
    );
  }
  const next = checked.data;
  const recorded = next.edits.length > decision.edits.length;
  if (next.to !== decision.to && !recorded) {
    return {
      ...next,
      edits: [
        ...next.edits,
        {
          policy: plugin.name,
          from: decision.to,
          to: next.to,
          why: `changed by policy "${plugin.name}"`,
        },
      ],
    };
  }
  return next;
}

function seconds(ms: number): string {
  return `${Number((ms / 1_000).toFixed(1))}s`;
}
