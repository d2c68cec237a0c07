import type { QueueBackend, QueueFigure, QueueSnapshot } from '@qscale/contracts';
import type { FoundQueue } from './discover.js';
import { PASSWORD_VARIABLE, type RedisTarget } from './redis-url.js';
import {
  type BoundsSuggestion,
  formatMs,
  friendly,
  type SloSuggestion,
  SUGGEST_RULES,
} from './suggest.js';

/** The marker the daemon's schema refuses (`COMMAND_PLACEHOLDER` of @qscale/daemon). */
export type Placeholder = string;

/** One queue as the file describes it. */
export interface PlannedQueue {
  /** Its key under `queues:` (unique, schema-valid). */
  configName: string;
  found: FoundQueue;
  /** The last snapshot of the watch; null when it was not measured. */
  snapshot: QueueSnapshot | null;
  slo: SloSuggestion;
  bounds: BoundsSuggestion;
}

export interface Discovered {
  redis: RedisTarget;
  /** The key scope discovery was limited to ('' for the whole db). */
  scope: string;
  /** How long each queue was watched. */
  measuredMs: number;
  /** When discovery ran. */
  at: Date;
  cpuCores: number;
  tickMs: number;
  /** The lowest pickup target the tick can honour (see suggestSlo). */
  floorMs: number;
  /** qscale's default pickup target, used without a measured run time. */
  fallbackPickupMs: number;
  /** Why the scan stopped early, or null when it covered the whole scope. */
  partial: 'maxKeys' | 'timeLimit' | null;
  queues: PlannedQueue[];
  placeholder: Placeholder;
}

const DRIVER_TITLE: Record<QueueBackend, string> = {
  laravel: 'Laravel',
  bullmq: 'BullMQ',
  sidekiq: 'Sidekiq',
  rq: 'RQ',
  celery: 'Celery',
};

/**
 * The commented YAML configuration for what discovery found and measured. Valid for the
 * daemon's schema once every placeholder command is filled in (a test fills them and loads it).
 */
export function renderConfig(discovered: Discovered): string {
  const { redis, queues } = discovered;
  const maxWorkers = Math.max(
    1,
    Math.min(
      queues.reduce((sum, queue) => sum + queue.bounds.max, 0),
      Math.floor(discovered.cpuCores * 8),
    ),
  );
  const out: string[] = [
    `# qscale configuration written by \`qscale init --discover\` at ${discovered.at.toISOString()}`,
    `# from ${redis.safeUrl}${discovered.scope ? ` (only keys starting with ${JSON.stringify(discovered.scope)})` : ''}: ${queues.length} queue${queues.length === 1 ? '' : 's'}, each watched for ${formatMs(discovered.measuredMs)}.`,
    ...(discovered.partial
      ? [
          `# The scan stopped at its ${discovered.partial === 'maxKeys' ? 'key' : 'time'} limit: queues in keys it did not reach are missing.`,
        ]
      : []),
    '#',
    '# Before you run it:',
    `#   1. Fill in each queue's worker command, every ${discovered.placeholder} below (argv arrays:`,
    '#      qscale runs no shell). `qscale validate` refuses this file until you have.',
    ...(redis.hasPassword
      ? [
          `#   2. Set ${PASSWORD_VARIABLE} in qscaled's environment: the URL's password is not written`,
          `#      here; redis.password reads it from \${${PASSWORD_VARIABLE}}.`,
        ]
      : []),
    `#   ${redis.hasPassword ? 3 : 2}. Check the suggested SLOs and bounds against what your users expect.`,
    '# Then: qscale validate --config <this file>',
    '#',
    '# How the suggestions were made (from what the watch measured):',
    `#   slo.pickup: ${SUGGEST_RULES.runTimeMultiple} x the mean run time, rounded up to 5s, 10s, 15s, 30s, 1m, 2m, 5m, 10m,`,
    `#     15m, 30m, 1h (then whole hours), and never below ${formatMs(friendly(discovered.floorMs))}: from zero workers qscale needs`,
    `#     a tick (${formatMs(discovered.tickMs)}) to see a job and a worker's start to take it. No run time measured: ${formatMs(discovered.fallbackPickupMs)}.`,
    '#   workers.min: 1 where jobs arrived during the watch (one warm worker), else 0: qscale starts',
    '#     one when the first job comes (it checks idle queues every 250ms between ticks).',
    `#   workers.max: ${SUGGEST_RULES.loadHeadroom} x the measured load (arrivals/s x run time = workers busy on average),`,
    `#     at least 2, at most ${SUGGEST_RULES.workersPerCpu} per CPU (this host: ${Number(discovered.cpuCores.toFixed(2))}); one per CPU when the load is unknown.`,
    '',
    'redis:',
    `  url: ${quote(redis.safeUrl)}`,
    ...(redis.hasPassword
      ? [`  password: "\${${PASSWORD_VARIABLE}}"   # never written here: set it in the environment`]
      : []),
    '',
    `tick: ${formatMs(discovered.tickMs)}`,
    '',
    '# All queues together on this host: the sum of their max, at most 8 per CPU.',
    `limits: { maxWorkers: ${maxWorkers} }`,
    '',
    'queues:',
  ];
  for (const queue of queues) out.push(...renderQueue(queue, discovered.placeholder), '');
  return `${out.join('\n').trimEnd()}\n`;
}

function renderQueue(queue: PlannedQueue, placeholder: Placeholder): string[] {
  const { found, snapshot, slo, bounds } = queue;
  const lines = [
    `  ${yamlKey(queue.configName)}:`,
    `    driver: ${found.driver}`,
    ...(queue.configName === found.name ? [] : [`    name: ${quote(found.name)}`]),
    `    prefix: ${quote(found.prefix)}`,
    `    # ${DRIVER_TITLE[found.driver]} queue found by ${printable(found.evidence)}`,
  ];
  if (found.horizonPrefix !== null) {
    lines.push(
      `    # Horizon keeps metadata for this app (${printable(found.horizonPrefix)}): let qscale or Horizon run`,
      '    # these workers, not both, or the two will fight over them.',
    );
  }
  lines.push(`    # measured: ${describeSnapshot(snapshot)}`);
  lines.push(
    `    slo: { pickup: ${formatMs(slo.pickupMs)}, percentile: 95 }   # ${slo.why}`,
    `    workers: { min: ${bounds.min}, max: ${bounds.max} }   # ${bounds.why}`,
    `    # FILL IN the command that runs one worker of this queue. Usual for ${DRIVER_TITLE[found.driver]}:`,
    ...usualCommand(found).map((text) => `    #   ${text}`),
    `    command: [${placeholder}]`,
  );
  return lines;
}

/** The usual worker command of each system, for the comment above the placeholder. */
export function usualCommand(found: FoundQueue): string[] {
  const name = flowItem(found.name);
  switch (found.driver) {
    case 'laravel':
      return [`[php, artisan, queue:work, redis, ${flowItem(`--queue=${found.name}`)}]`];
    case 'bullmq':
      return [
        `[node, workers/${flowItem(found.name.replace(/[^A-Za-z0-9._-]/g, '-'))}.js], a script that runs`,
        `new Worker(${JSON.stringify(found.name)}, processor, { prefix: ${JSON.stringify(found.prefix)}, connection }) and closes it on SIGTERM`,
      ];
    case 'sidekiq':
      return [`[bundle, exec, sidekiq, -q, ${name}]`];
    case 'rq':
      return [`[rq, worker, --url, "\${REDIS_URL}", ${name}]`];
    case 'celery':
      return [`[celery, -A, APP, worker, -Q, ${name}]   (APP: your Celery application module)`];
  }
}

function describeSnapshot(snapshot: QueueSnapshot | null): string {
  if (snapshot === null) return 'not watched';
  const problem = snapshot.error
    ? ` (${snapshot.error.code}: ${printable(snapshot.error.message)})`
    : '';
  if (snapshot.pending === null) return `could not be read${problem}`;
  const mark = (figure: QueueFigure) => (snapshot.sources[figure] === 'estimate' ? '~' : '');
  const rate = (value: number | null, figure: QueueFigure) =>
    value === null ? 'unknown' : `${mark(figure)}${value.toFixed(2)}/s`;
  const parts = [
    `${snapshot.pending} pending`,
    `arrivals ${rate(snapshot.arrivalRate, 'arrivalRate')}`,
    `done ${rate(snapshot.completionRate, 'completionRate')}`,
    snapshot.serviceTimeMs
      ? `run time ${mark('serviceTimeMs')}${formatMs(snapshot.serviceTimeMs.mean)} mean, ${formatMs(snapshot.serviceTimeMs.p95)} p95`
      : 'run time unknown',
  ];
  if (snapshot.pickupLatencyMs) {
    parts.push(`pickup ${mark('pickupLatencyMs')}${formatMs(snapshot.pickupLatencyMs.p95)} p95`);
  }
  if (snapshot.paused) parts.push('paused');
  const estimate = parts.some((part) => part.includes('~')) ? ' (~ estimate)' : '';
  return `${parts.join(', ')}${estimate}${problem}`;
}

/**
 * A YAML double-quoted string. JSON's escapes are a subset of YAML's; `$` is doubled because
 * the loader reads `${NAME}` in every value as an environment reference.
 */
export function quote(text: string): string {
  return JSON.stringify(text.replaceAll('$', '$$$$'));
}

function yamlKey(name: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) ? name : quote(name);
}

/** An item of a YAML flow sequence, quoted when plain would not read back the same. */
function flowItem(text: string): string {
  return /^[A-Za-z0-9._/=-][A-Za-z0-9._/=:-]*$/.test(text) ? text : quote(text);
}

/** Key names may hold control characters (kombu's separator): show them escaped. */
function printable(text: string): string {
  return JSON.stringify(text).slice(1, -1);
}
