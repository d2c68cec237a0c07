import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, join, resolve } from 'node:path';
import { z } from 'zod';
import { DEFAULTS } from '../defaults.js';
import { SupervisorError } from '../errors.js';
import type { PoolOptions } from '../types.js';
import { resolveAccount } from './accounts.js';
import { WORKER_TOKEN_VARIABLE } from './identity.js';
import type { OutputSettings } from './output.js';
import { secretValues } from './redact.js';
import { isStopSignal } from './signals.js';

/** What makes a worker what it is; a change of `hash` replaces the running workers. */
export interface CommandSpec {
  file: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  uid: number | undefined;
  gid: number | undefined;
  hash: string;
  secrets: string[];
}

export interface RestartSettings {
  backoffInitialMs: number;
  backoffMaxMs: number;
  backoffJitterRatio: number;
  backoffResetMs: number;
  maxFailedStarts: number;
  coolOffMs: number;
}

/** A pool's options, validated and completed from DEFAULTS. */
export interface PoolSettings {
  name: string;
  spec: CommandSpec;
  /** The workers run as root because no user was configured (a warning, or refused). */
  runsAsRoot: boolean;
  stopSignals: NodeJS.Signals[];
  graceMs: number;
  signalGapMs: number;
  killWaitMs: number;
  minUptimeMs: number;
  turnBudgetMs: number;
  maxRssBytes: number | null;
  maxLifetimeMs: number | null;
  concurrency: number;
  restart: RestartSettings;
  surge: number;
  output: OutputSettings & { drainMs: number };
  adoptedPollMs: number;
}

const FALLBACK_PATH = '/usr/local/bin:/usr/bin:/bin';

const durationMs = (what: string) =>
  z
    .number({ error: `expected ${what} as a number of milliseconds` })
    .int({ error: `expected ${what} as a whole number of milliseconds` })
    .nonnegative({ error: `expected ${what} of 0 ms or more` });
const whole = (what: string, min: number) =>
  z
    .number({ error: `expected ${what} as a number` })
    .int({ error: `expected ${what} as a whole number` })
    .min(min, { error: `expected ${what} of at least ${min}` });
const noNul = (what: string) =>
  z
    .string({ error: `expected ${what} as a string` })
    .refine((value) => !value.includes('\0'), `${what} must not contain a NUL byte`);

const signalSchema = z
  .string({ error: 'expected a signal name like SIGTERM' })
  .transform((raw) => {
    const upper = raw.trim().toUpperCase();
    return upper.startsWith('SIG') ? upper : `SIG${upper}`;
  })
  .refine(isStopSignal, {
    error: 'expected a signal a worker can handle, like SIGTERM, SIGINT, SIGQUIT or SIGTSTP',
  });

// z.object (not strict): a daemon QueueConfig carries fields the pool does not use.
const poolSchema = z.object({
  name: z
    .string({ error: 'expected the queue name as a string' })
    .min(1, 'expected a non-empty queue name')
    .max(200, 'expected a queue name of at most 200 characters')
    .refine(
      (value) => ![...value].some((char) => char.charCodeAt(0) < 0x20),
      'a queue name must not contain control characters',
    ),
  command: z
    .array(noNul('each argument').min(1, 'expected non-empty arguments'), {
      error: 'expected an argv array like ["php", "artisan", "queue:work"]; no shell is ever used',
    })
    .min(1, 'expected at least the program to run, got an empty list'),
  env: z
    .record(
      z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected variable names of letters, digits and _')
        .refine(
          (name) => name !== WORKER_TOKEN_VARIABLE,
          `${WORKER_TOKEN_VARIABLE} is set by the supervisor for each worker; remove it from env`,
        ),
      noNul('an environment value'),
      { error: 'expected a mapping of variable names to string values' },
    )
    .optional(),
  cwd: noNul('the working directory').min(1, 'expected a non-empty directory').optional(),
  user: z.string({ error: 'expected a user name or numeric id' }).min(1).nullable().optional(),
  group: z.string({ error: 'expected a group name or numeric id' }).min(1).nullable().optional(),
  stop: z
    .object({
      signals: z.array(signalSchema).min(1, 'expected at least one signal').optional(),
      graceMs: durationMs('the grace period').optional(),
      signalGapMs: durationMs('the gap between stop signals').optional(),
      killWaitMs: durationMs('the wait after SIGKILL').optional(),
    })
    .optional(),
  spawn: z
    .object({
      minUptimeMs: durationMs('the minimum uptime').optional(),
      turnBudgetMs: durationMs('the spawn time per event-loop turn').optional(),
    })
    .optional(),
  recycle: z
    .object({
      maxRssBytes: whole('the RSS limit in bytes', 1).nullable().optional(),
      maxLifetimeMs: whole('the maximum lifetime in milliseconds', 1).nullable().optional(),
    })
    .optional(),
  workers: z.object({ concurrency: whole('the concurrency', 1).optional() }).optional(),
  restart: z
    .object({
      backoffInitialMs: durationMs('the first backoff').optional(),
      backoffMaxMs: durationMs('the backoff cap').optional(),
      backoffJitterRatio: z
        .number({ error: 'expected the jitter ratio as a number' })
        .min(0, 'expected a jitter ratio from 0 to 1')
        .max(1, 'expected a jitter ratio from 0 to 1')
        .optional(),
      backoffResetMs: durationMs('the backoff reset uptime').optional(),
      maxFailedStarts: whole('the failed starts before degraded', 1).optional(),
      coolOffMs: durationMs('the cool-off').optional(),
    })
    .optional(),
  rollout: z.object({ surge: whole('the rollout surge', 1).optional() }).optional(),
  output: z
    .object({
      maxLineBytes: whole('the longest line in bytes', 64).optional(),
      linesPerSecond: z.number().positive('expected lines per second above 0').optional(),
      burstLines: whole('the burst of lines', 1).optional(),
      tailLines: whole('the kept tail lines', 0).optional(),
      drainMs: durationMs('the output drain').optional(),
      redact: z.array(z.string()).optional(),
    })
    .optional(),
  adoptedPollMs: whole('the adopted-worker poll interval', 10).optional(),
});

/** Turns zod issues into one message naming each bad option, the problem and what was expected. */
export function describeIssues(prefix: string, error: z.ZodError): string {
  const parts = error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    return path ? `${path}: ${issue.message}` : issue.message;
  });
  return `${prefix}: ${parts.join('; ')}`;
}

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    if (!(await stat(path)).isFile()) return false;
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Looks the program up the way spawn will: as a path, or on the worker's PATH. */
async function checkProgram(queue: string, program: string, cwd: string, path: string) {
  if (program.includes('/')) {
    if (await isExecutableFile(resolve(cwd, program))) return;
    throw new SupervisorError(
      'COMMAND_NOT_FOUND',
      `queue "${queue}": command "${program}" is not an executable file (resolved from ${cwd})`,
    );
  }
  for (const dir of path.split(delimiter)) {
    if (dir && (await isExecutableFile(join(resolve(cwd, dir), program)))) return;
  }
  throw new SupervisorError(
    'COMMAND_NOT_FOUND',
    `queue "${queue}": command "${program}" was not found on the worker's PATH (${path}); give an absolute path or set env.PATH`,
  );
}

async function checkCwd(queue: string, cwd: string): Promise<void> {
  const info = await stat(cwd).catch(() => null);
  if (!info?.isDirectory()) {
    throw new SupervisorError(
      'CWD_NOT_FOUND',
      `queue "${queue}": working directory ${cwd} ${info ? 'is not a directory' : 'does not exist'}`,
    );
  }
}

function hashSpec(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16);
}

/**
 * Validates pool options, checks the program, directory and account exist, and completes the
 * rest from DEFAULTS. Throws a {@link SupervisorError} naming what is wrong; changes nothing.
 */
export async function resolvePoolSettings(
  options: PoolOptions,
  context: { refuseRoot: boolean },
): Promise<PoolSettings> {
  const parsed = poolSchema.safeParse(options);
  if (!parsed.success) {
    const name = typeof options?.name === 'string' ? `queue "${options.name}"` : 'a pool';
    throw new SupervisorError(
      'INVALID_OPTIONS',
      describeIssues(`invalid options for ${name}`, parsed.error),
    );
  }
  const o = parsed.data;
  const [file, ...args] = o.command as [string, ...string[]];
  const cwd = resolve(o.cwd ?? process.cwd());
  const env: Record<string, string> = { ...o.env };
  env.PATH ??= process.env.PATH ?? FALLBACK_PATH;

  await checkCwd(o.name, cwd);
  await checkProgram(o.name, file, cwd, env.PATH);
  const account = await resolveAccount(o.name, o.user ?? null, o.group ?? null);
  const ownUid = process.getuid?.();
  const ownGid = process.getgid?.();
  const isRoot = ownUid === 0;
  const uid = account.uid === ownUid ? undefined : account.uid;
  const gid = account.gid === ownGid ? undefined : account.gid;
  if (!isRoot && (uid !== undefined || gid !== undefined)) {
    throw new SupervisorError(
      'ACCOUNT_SWITCH_NOT_PERMITTED',
      `queue "${o.name}": running workers as user ${o.user ?? '(own)'} / group ${o.group ?? '(own)'} needs root; the supervisor runs as uid ${ownUid}`,
    );
  }
  const runsAsRoot = isRoot && (o.user ?? null) === null;
  if (runsAsRoot && context.refuseRoot) {
    throw new SupervisorError(
      'ROOT_REFUSED',
      `queue "${o.name}": workers would run as root; set a user for this queue (refuseRoot is on)`,
    );
  }

  const restart = { ...DEFAULTS.restart, ...definedOnly(o.restart ?? {}) };
  return {
    name: o.name,
    spec: {
      file,
      args,
      env,
      cwd,
      uid,
      gid,
      hash: hashSpec({ command: o.command, env: Object.entries(env).sort(), cwd, uid, gid }),
      secrets: secretValues(env, o.output?.redact ?? []),
    },
    runsAsRoot,
    stopSignals: (o.stop?.signals ?? [...DEFAULTS.stop.signals]) as NodeJS.Signals[],
    graceMs: o.stop?.graceMs ?? DEFAULTS.stop.graceMs,
    signalGapMs: o.stop?.signalGapMs ?? DEFAULTS.stop.signalGapMs,
    killWaitMs: o.stop?.killWaitMs ?? DEFAULTS.stop.killWaitMs,
    minUptimeMs: o.spawn?.minUptimeMs ?? DEFAULTS.spawn.minUptimeMs,
    turnBudgetMs: o.spawn?.turnBudgetMs ?? DEFAULTS.spawn.turnBudgetMs,
    maxRssBytes: o.recycle?.maxRssBytes ?? null,
    maxLifetimeMs: o.recycle?.maxLifetimeMs ?? null,
    concurrency: o.workers?.concurrency ?? DEFAULTS.workers.concurrency,
    restart,
    surge: o.rollout?.surge ?? DEFAULTS.rollout.surge,
    output: {
      maxLineBytes: o.output?.maxLineBytes ?? DEFAULTS.output.maxLineBytes,
      linesPerSecond: o.output?.linesPerSecond ?? DEFAULTS.output.linesPerSecond,
      burstLines: o.output?.burstLines ?? DEFAULTS.output.burstLines,
      tailLines: o.output?.tailLines ?? DEFAULTS.output.tailLines,
      drainMs: o.output?.drainMs ?? DEFAULTS.output.drainMs,
    },
    adoptedPollMs: o.adoptedPollMs ?? DEFAULTS.adoptedPollMs,
  };
}

function definedOnly<T extends object>(value: T): { [K in keyof T]-?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]-?: Exclude<T[K], undefined>;
  };
}
