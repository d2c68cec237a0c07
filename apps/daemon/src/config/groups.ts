import type { QueueBackend } from '@qscale/contracts';
import { z } from 'zod';
import { QUEUE_NAME_EXPECTED, QUEUE_NAME_PATTERN } from './fields.js';
import type { QueueConfig } from './schema.js';

// Worker groups: one worker command serving several queues (`queue:work --queue=high,default`,
// `sidekiq -q high,3 -q default,1`, `celery worker -Q a,b`, `rq worker high default`). The
// member queues stay in `queues:` with their own driver, prefix and SLO; the group owns what a
// pool owns (command, workers, env, stop, scaling...). After resolution a group is one entry
// of `QscaleConfig.queues` (one pool, named after the group) whose `workerGroup` holds its members.

/** How the backend divides a worker's time among the queues it serves. */
export type GroupDisciplineName = 'priority' | 'weighted' | 'round-robin';
export const GROUP_DISCIPLINES = ['priority', 'weighted', 'round-robin'] as const;

/**
 * What each backend's worker does with several queues, the first being its default:
 * Laravel's `queue:work` and RQ's `rq worker` take them in strict order; Sidekiq draws a queue
 * at random by weight (strict order when no weights are given); a Celery worker consumes its
 * `-Q` queues round-robin. A BullMQ Worker serves one queue.
 */
export const DISCIPLINES_BY_DRIVER: Record<QueueBackend, readonly GroupDisciplineName[]> = {
  laravel: ['priority'],
  rq: ['priority'],
  sidekiq: ['weighted', 'priority'],
  celery: ['round-robin'],
  bullmq: [],
};

export interface GroupSpec {
  discipline: GroupDisciplineName;
  /** Weighted groups: each member's weight (1 where none was given); null otherwise. */
  weights: Record<string, number> | null;
  /** The member queues, in the group's order (priority order for a priority group). */
  members: QueueConfig[];
}

/** Keys of a queue that belong to its pool: a member queue's pool is its group's. */
export const POOL_KEYS = [
  'command',
  'workers',
  'env',
  'cwd',
  'user',
  'group',
  'stop',
  'spawn',
  'recycle',
  'resources',
  'restart',
  'scaling',
  'strategy',
] as const;

/** Keys only a queue has (where and how its jobs are read, its SLO): never a group's. */
const QUEUE_ONLY_KEYS = {
  driver: true,
  name: true,
  prefix: true,
  redis: true,
  slo: true,
  laravel: true,
  celery: true,
} as const;

const queueName = z
  .string({ error: QUEUE_NAME_EXPECTED })
  .max(200, `${QUEUE_NAME_EXPECTED}, at most 200 characters`)
  .regex(QUEUE_NAME_PATTERN, QUEUE_NAME_EXPECTED);

/** A group's settings: the pool settings of a queue, plus its members and discipline. */
export function groupSettingsSchema<Shape extends z.core.$ZodLooseShape>(
  queueSettings: z.ZodObject<Shape, z.core.$strict>,
) {
  return queueSettings.omit(QUEUE_ONLY_KEYS as never).extend({
    queues: z
      .array(queueName, { error: 'expected a list of the queue names this group serves' })
      .min(1, 'expected at least one queue'),
    discipline: z
      .enum(GROUP_DISCIPLINES, { error: `expected one of ${GROUP_DISCIPLINES.join(', ')}` })
      .optional(),
    weights: z
      .record(
        queueName,
        z
          .number({ error: 'expected a whole weight of at least 1' })
          .int('expected a whole weight of at least 1')
          .min(1, 'expected a whole weight of at least 1'),
        { error: 'expected a mapping of member queue names to weights' },
      )
      .optional(),
  });
}

export interface GroupInput {
  queues: string[];
  discipline?: GroupDisciplineName | undefined;
  weights?: Record<string, number> | undefined;
}

type Report = (path: (string | number)[], message: string) => void;

/** Which group each member queue belongs to (the first one, when a file names it twice). */
export function membership(groups: Record<string, GroupInput> | undefined): Map<string, string> {
  const owner = new Map<string, string>();
  for (const [group, settings] of Object.entries(groups ?? {})) {
    for (const queue of settings.queues) if (!owner.has(queue)) owner.set(queue, group);
  }
  return owner;
}

/**
 * Checks a group against its member queues (each resolved, or null when it had problems of
 * its own) and returns its discipline and weights; null when the group cannot be used.
 */
export function resolveGroupSpec(
  name: string,
  group: GroupInput,
  context: {
    /** Every queue of the file, with its own (unmerged) settings. */
    ownSettings: Record<string, Record<string, unknown> | undefined>;
    /** Resolved member queues (absent: the queue had its own problems). */
    resolved: Map<string, QueueConfig>;
    owner: Map<string, string>;
  },
  report: Report,
): GroupSpec | null {
  let usable = true;
  const at = (path: (string | number)[], message: string) => {
    usable = false;
    report(['groups', name, ...path], message);
  };
  if (name in context.ownSettings) {
    at([], `a queue is also named "${name}": a group needs a name of its own`);
  }
  const seen = new Set<string>();
  const members: QueueConfig[] = [];
  for (const [index, queue] of group.queues.entries()) {
    if (seen.has(queue)) {
      at(['queues', index], `lists queue "${queue}" twice`);
      continue;
    }
    seen.add(queue);
    const own = context.ownSettings[queue];
    if (own === undefined) {
      const known = Object.keys(context.ownSettings).join(', ');
      at(['queues', index], `unknown queue "${queue}"; declare it under queues (${known})`);
      continue;
    }
    const owner = context.owner.get(queue);
    if (owner !== undefined && owner !== name) {
      at(
        ['queues', index],
        `queue "${queue}" is already served by group "${owner}": a queue belongs to one group`,
      );
      continue;
    }
    for (const key of POOL_KEYS) {
      if (own[key] !== undefined) {
        usable = false;
        report(
          ['queues', queue, key],
          `queue "${queue}" is served by group "${name}": set ${key} on the group, not on the queue`,
        );
      }
    }
    const member = context.resolved.get(queue);
    if (member) members.push(member);
    else usable = false;
  }
  const first = members[0];
  if (!usable || first === undefined) return null;

  for (const member of members.slice(1)) {
    if (member.driver !== first.driver) {
      at(
        ['queues'],
        `mixes drivers (${first.name} is ${first.driver}, ${member.name} is ${member.driver}): one worker reads one queue system`,
      );
      return null;
    }
    if (JSON.stringify(member.redis) !== JSON.stringify(first.redis)) {
      at(
        ['queues'],
        `${first.name} and ${member.name} are on different Redis connections: one worker connects to one`,
      );
      return null;
    }
    if ((member.prefix ?? '') !== (first.prefix ?? '')) {
      at(
        ['queues'],
        `${first.name} and ${member.name} have different prefixes: one worker uses one prefix`,
      );
      return null;
    }
  }
  const allowed = DISCIPLINES_BY_DRIVER[first.driver];
  const discipline = group.discipline ?? allowed[0];
  if (discipline === undefined) {
    at(['queues'], `a ${first.driver} worker serves one queue: ${first.driver} has no groups`);
    return null;
  }
  if (!allowed.includes(discipline)) {
    at(
      ['discipline'],
      `a ${first.driver} worker takes its queues by ${allowed.join(' or ')}, not ${discipline}`,
    );
    return null;
  }
  if (group.weights !== undefined && discipline !== 'weighted') {
    at(['weights'], `weights apply to a weighted group; this group is ${discipline}`);
    return null;
  }
  for (const queue of Object.keys(group.weights ?? {})) {
    if (!seen.has(queue)) {
      at(['weights', queue], `"${queue}" is not one of this group's queues`);
      return null;
    }
  }
  return {
    discipline,
    weights:
      discipline === 'weighted'
        ? Object.fromEntries(
            members.map((member) => [member.name, group.weights?.[member.name] ?? 1]),
          )
        : null,
    members,
  };
}

/**
 * The pool entry of a group: its own pool settings (resolved like a queue's) with the members'
 * driver and connection, and the tightest member SLO (what policies report breaches against;
 * the sizer meets each member's own).
 */
export function groupPool(pool: QueueConfig, spec: GroupSpec): QueueConfig {
  const first = spec.members[0] as QueueConfig;
  const tightest = spec.members.reduce((best, member) =>
    member.slo.pickupMs < best.slo.pickupMs ? member : best,
  );
  return {
    ...pool,
    driver: first.driver,
    backendName: pool.name,
    prefix: first.prefix,
    redis: first.redis,
    slo: tightest.slo,
    laravel: null,
    celery: null,
    workerGroup: spec,
  };
}

/** The pool entries of a resolved configuration that are groups, by group name. */
export function isGroup(queue: QueueConfig): queue is QueueConfig & { workerGroup: GroupSpec } {
  return queue.workerGroup !== undefined;
}
