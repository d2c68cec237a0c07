import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { DEFAULTS } from './defaults.js';
import { SimulatorError, type TraceProblem } from './errors.js';

const ms = (what: string) =>
  z.number({ error: `expected ${what} in milliseconds (a number >= 0)` }).nonnegative({
    error: `expected ${what} in milliseconds (a number >= 0)`,
  });
const positiveMs = (what: string) =>
  z.number({ error: `expected ${what} in milliseconds (a number > 0)` }).positive({
    error: `expected ${what} in milliseconds (a number > 0)`,
  });
const whole = (what: string, min: number) =>
  z
    .number({ error: `expected ${what} (a whole number >= ${min})` })
    .int({ error: `expected ${what} (a whole number >= ${min})` })
    .min(min, { error: `expected ${what} (a whole number >= ${min})` });
const perSecond = z
  .number({ error: 'expected jobs per second (a number >= 0)' })
  .nonnegative({ error: 'expected jobs per second (a number >= 0)' });

/** A rate that changes over time: points joined by steps or straight lines. */
export const ratePointSchema = z.strictObject({
  /** When this rate applies, ms since the start of the trace. */
  atMs: ms('a time since the start'),
  /** Jobs arriving per second from then on. */
  perSecond,
});

export const arrivalsSchema = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({
      /** A Poisson process whose rate follows `rate`. */
      kind: z.literal('poisson'),
      /** A constant rate in jobs/s, or points `{ atMs, perSecond }` in ascending time. */
      rate: z.union([perSecond, z.array(ratePointSchema).min(1, 'expected at least one point')], {
        error: 'expected jobs per second, or a list of { atMs, perSecond } points',
      }),
      /** `linear` joins the points by straight lines, `step` holds each until the next. */
      interpolation: z.enum(['linear', 'step'], { error: 'expected linear or step' }).optional(),
    }),
    z.strictObject({
      /** Replays recorded arrival times. */
      kind: z.literal('replay'),
      /** Arrival times, ms since the start of the trace, ascending. */
      timestampsMs: z.array(ms('an arrival time')),
    }),
  ],
  { error: 'expected arrivals of kind "poisson" or "replay"' },
);
export type Arrivals = z.infer<typeof arrivalsSchema>;

export const serviceSchema = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({ kind: z.literal('constant'), ms: positiveMs('a service time') }),
    z.strictObject({ kind: z.literal('exponential'), meanMs: positiveMs('a mean service time') }),
    z.strictObject({
      kind: z.literal('lognormal'),
      meanMs: positiveMs('a mean service time'),
      /** Standard deviation of ln(service time): 0.5 mild, 1 heavy, 1.5 very heavy tail. */
      sigma: z
        .number({ error: 'expected sigma, the standard deviation of ln(service time) (0-4)' })
        .min(0, { error: 'expected sigma between 0 and 4' })
        .max(4, { error: 'expected sigma between 0 and 4' }),
    }),
  ],
  { error: 'expected a service time of kind "constant", "exponential" or "lognormal"' },
);
export type Service = z.infer<typeof serviceSchema>;

export const traceQueueSchema = z
  .strictObject({
    /** The queue's name (also its key in results). */
    name: z
      .string({ error: 'expected a queue name' })
      .min(1, { error: 'expected a non-empty queue name' }),
    arrivals: arrivalsSchema,
    service: serviceSchema,
    slo: z
      .strictObject({
        pickupMs: positiveMs('the pickup target'),
        percentile: z
          .number({ error: 'expected a percentile between 0 and 100 (exclusive)' })
          .gt(0, { error: 'expected a percentile between 0 and 100 (exclusive)' })
          .lt(100, { error: 'expected a percentile between 0 and 100 (exclusive)' }),
      })
      .optional(),
    workers: z
      .strictObject({
        min: whole('a minimum worker count', 0).optional(),
        max: whole('a maximum worker count', 1).optional(),
        /** Workers running at the start (warm). Default: min. */
        initial: whole('an initial worker count', 0).optional(),
        concurrency: whole('jobs per worker', 1).optional(),
      })
      .optional(),
    /** Mean time from spawning a worker to it taking jobs. */
    spawnLatencyMs: ms('a spawn latency').optional(),
    /** Spread of the spawn latency: each spawn takes mean x (1 +- jitter), uniformly. */
    spawnJitter: z
      .number({ error: 'expected a share between 0 and 1' })
      .min(0, { error: 'expected a share between 0 and 1' })
      .max(1, { error: 'expected a share between 0 and 1' })
      .optional(),
    /** Weight in the fair share of the host (`scaling.priority`). */
    priority: z
      .number({ error: 'expected a priority weight above 0' })
      .positive({ error: 'expected a priority weight above 0' })
      .optional(),
  })
  .superRefine((queue, ctx) => {
    const min = queue.workers?.min ?? DEFAULTS.trace.workers.min;
    const max = queue.workers?.max ?? DEFAULTS.trace.workers.max;
    if (min > max) {
      ctx.addIssue({
        code: 'custom',
        path: ['workers'],
        message: `min (${min}) is greater than max (${max})`,
      });
    }
    const initial = queue.workers?.initial;
    if (initial !== undefined && (initial < min || initial > max)) {
      ctx.addIssue({
        code: 'custom',
        path: ['workers', 'initial'],
        message: `expected an initial worker count between min (${min}) and max (${max})`,
      });
    }
    if (queue.arrivals.kind === 'poisson' && Array.isArray(queue.arrivals.rate)) {
      ascending(queue.arrivals.rate, (p) => p.atMs, ['arrivals', 'rate'], 'atMs', ctx);
    }
    if (queue.arrivals.kind === 'replay') {
      ascending(queue.arrivals.timestampsMs, (t) => t, ['arrivals', 'timestampsMs'], null, ctx);
    }
  });
export type TraceQueue = z.infer<typeof traceQueueSchema>;

const poolWorkersSchema = z.strictObject({
  min: whole('a minimum worker count', 0).optional(),
  max: whole('a maximum worker count', 1).optional(),
  /** Workers running at the start (warm). Default: min. */
  initial: whole('an initial worker count', 0).optional(),
  concurrency: whole('jobs per worker', 1).optional(),
});

/**
 * A worker group: one pool of workers that serves several of the trace's queues, taking jobs
 * as the backend does (`priority`: first non-empty queue in order; `weighted`: Sidekiq's
 * weighted-random order; `round-robin`: Celery's rotation). The member queues keep their own
 * arrivals, service and SLO; the pool's workers and spawn settings are the group's.
 */
export const traceGroupSchema = z.strictObject({
  /** The group's name (also its key in results); unique among groups and queues. */
  name: z
    .string({ error: 'expected a group name' })
    .min(1, { error: 'expected a non-empty group name' }),
  /** Member queue names (of `queues`), in priority order or in the order of `weights`. */
  queues: z
    .array(z.string({ error: 'expected a queue name' }), {
      error: 'expected a list of queue names',
    })
    .min(1, { error: 'expected at least one queue in the group' }),
  discipline: z.discriminatedUnion(
    'kind',
    [
      z.strictObject({ kind: z.literal('priority') }),
      z.strictObject({
        kind: z.literal('weighted'),
        weights: z.array(
          z
            .number({ error: 'expected a weight above 0' })
            .positive({ error: 'expected a weight above 0' }),
        ),
      }),
      z.strictObject({ kind: z.literal('round-robin') }),
    ],
    { error: 'expected a discipline of kind "priority", "weighted" or "round-robin"' },
  ),
  workers: poolWorkersSchema.optional(),
  spawnLatencyMs: ms('a spawn latency').optional(),
  spawnJitter: z
    .number({ error: 'expected a share between 0 and 1' })
    .min(0, { error: 'expected a share between 0 and 1' })
    .max(1, { error: 'expected a share between 0 and 1' })
    .optional(),
  priority: z
    .number({ error: 'expected a priority weight above 0' })
    .positive({ error: 'expected a priority weight above 0' })
    .optional(),
});
export type TraceGroup = z.infer<typeof traceGroupSchema>;

/**
 * A workload trace: one or more queues, their arrivals and service times, their SLO and
 * worker settings, over `durationMs`, decided every `tickMs`.
 */
export const traceSchema = z
  .strictObject({
    /** Lets editors find the JSON Schema; ignored. */
    $schema: z.string().optional(),
    name: z.string({ error: 'expected a trace name' }).min(1, { error: 'expected a trace name' }),
    description: z.string().optional(),
    durationMs: positiveMs('the simulated duration'),
    tickMs: positiveMs('the control-loop period').optional(),
    /** The host all queues share: at most `maxWorkers` workers together (fair share). */
    host: z.strictObject({ maxWorkers: whole('a worker count', 1) }).optional(),
    queues: z
      .array(traceQueueSchema, { error: 'expected a list of queues' })
      .min(1, { error: 'expected at least one queue' }),
    /** Worker groups: pools that serve several of the queues (the others get a pool each). */
    groups: z.array(traceGroupSchema, { error: 'expected a list of groups' }).optional(),
  })
  .superRefine((trace, ctx) => {
    const seen = new Set<string>();
    trace.queues.forEach((queue, index) => {
      if (seen.has(queue.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['queues', index, 'name'],
          message: `expected unique queue names, "${queue.name}" appears twice`,
        });
      }
      seen.add(queue.name);
    });
    checkGroups(trace, ctx);
  });
export type Trace = z.infer<typeof traceSchema>;
export type TraceInput = z.input<typeof traceSchema>;

/** Groups name known queues, each queue at most once, weights match, pool settings only on the group. */
function checkGroups(
  trace: { queues: readonly TraceQueue[]; groups?: readonly TraceGroup[] | undefined },
  ctx: z.RefinementCtx,
): void {
  const queues = new Map(trace.queues.map((queue) => [queue.name, queue]));
  const grouped = new Map<string, string>();
  const groupNames = new Set<string>();
  (trace.groups ?? []).forEach((group, g) => {
    const issue = (path: (string | number)[], message: string) =>
      ctx.addIssue({ code: 'custom', path: ['groups', g, ...path], message });
    if (queues.has(group.name) || groupNames.has(group.name)) {
      issue(['name'], `expected a name no queue or other group uses, "${group.name}" is taken`);
    }
    groupNames.add(group.name);
    group.queues.forEach((name, i) => {
      const queue = queues.get(name);
      if (!queue) {
        issue(
          ['queues', i],
          `expected one of the trace's queues (${[...queues.keys()].join(', ')}), got "${name}"`,
        );
        return;
      }
      const other = grouped.get(name);
      if (other !== undefined) {
        issue(
          ['queues', i],
          `queue "${name}" is already in group "${other}"; a queue belongs to one group`,
        );
      }
      grouped.set(name, group.name);
      const own = (['workers', 'spawnLatencyMs', 'spawnJitter', 'priority'] as const).filter(
        (key) => queue[key] !== undefined,
      );
      if (own.length > 0) {
        issue(
          ['queues', i],
          `queue "${name}" sets ${own.join(', ')}, but its workers are the group's: set them on group "${group.name}"`,
        );
      }
    });
    if (
      group.discipline.kind === 'weighted' &&
      group.discipline.weights.length !== group.queues.length
    ) {
      issue(
        ['discipline', 'weights'],
        `expected one weight per queue (${group.queues.length}), got ${group.discipline.weights.length}`,
      );
    }
    const min = group.workers?.min ?? DEFAULTS.trace.workers.min;
    const max = group.workers?.max ?? DEFAULTS.trace.workers.max;
    const initial = group.workers?.initial;
    if (min > max) issue(['workers'], `min (${min}) is greater than max (${max})`);
    if (initial !== undefined && (initial < min || initial > max)) {
      issue(
        ['workers', 'initial'],
        `expected an initial worker count between min (${min}) and max (${max})`,
      );
    }
  });
}

function ascending<T>(
  items: readonly T[],
  key: (item: T) => number,
  path: (string | number)[],
  field: string | null,
  ctx: z.RefinementCtx,
): void {
  for (let i = 1; i < items.length; i++) {
    const previous = key(items[i - 1] as T);
    const current = key(items[i] as T);
    if (current < previous) {
      ctx.addIssue({
        code: 'custom',
        path: field ? [...path, i, field] : [...path, i],
        message: `expected times in ascending order, ${current} comes after ${previous}`,
      });
      return;
    }
  }
}

/**
 * Validates a parsed JSON value as a trace.
 *
 * @param source names the input in messages (a file name).
 * @throws SimulatorError `TRACE_INVALID` listing each problem with its JSON path and value.
 */
export function parseTrace(input: unknown, source = 'trace'): Trace {
  const parsed = traceSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems: TraceProblem[] = parsed.error.issues.map((issue) => {
    const path = formatJsonPath(issue.path);
    const found = valueAt(input, issue.path);
    const got = issue.code === 'custom' || found === MISSING ? '' : `, got ${describeValue(found)}`;
    const message =
      issue.code === 'unrecognized_keys'
        ? `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`
        : found === MISSING && issue.code === 'invalid_type'
          ? `required: ${issue.message}`
          : `${issue.message}${got}`;
    return { path, message };
  });
  throw new SimulatorError(
    'TRACE_INVALID',
    `${source} is not a valid workload trace:\n${problems.map((p) => `  ${p.path || '(root)'}: ${p.message}`).join('\n')}`,
    { problems },
  );
}

/**
 * Reads and validates a trace file (JSON).
 *
 * @throws SimulatorError `TRACE_UNREADABLE`, `TRACE_SYNTAX` (with the position), or
 *   `TRACE_INVALID` (with every problem's JSON path and value).
 */
export async function loadTrace(file: string): Promise<Trace> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new SimulatorError(
      'TRACE_UNREADABLE',
      `cannot read trace ${file}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SimulatorError(
      'TRACE_SYNTAX',
      `${file} is not valid JSON: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return parseTrace(json, file);
}

const MISSING = Symbol('missing');

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value: unknown = input;
  for (const key of path) {
    if (typeof value !== 'object' || value === null || !(key in value)) return MISSING;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value === undefined ? MISSING : value;
}

function describeValue(value: unknown): string {
  if (Array.isArray(value))
    return value.length > 5 ? `a list of ${value.length}` : JSON.stringify(value);
  if (typeof value === 'object' && value !== null) return 'an object';
  return JSON.stringify(value);
}

/** `queues[0].arrivals.rate[2].perSecond` */
export function formatJsonPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(String(key))) out += out ? `.${String(key)}` : String(key);
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}
