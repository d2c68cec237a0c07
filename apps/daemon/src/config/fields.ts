import { constants } from 'node:os';
import { z } from 'zod';
import { DURATION_PATTERN, parseDurationMs, parseSizeBytes, SIZE_PATTERN } from './units.js';

// Reusable field schemas. Each carries the "expected ..." half of its error message; the
// problem formatter adds "got <value>" and the file position.

const DURATION_EXPECTED = 'expected a duration like 500ms, 30s or 5m';
const SIZE_EXPECTED = 'expected a size like 512MB, 256MiB or 2GiB';

export const QUEUE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
export const QUEUE_NAME_EXPECTED =
  'expected a queue name of letters, digits and . _ : - starting with a letter or digit';
const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ACCOUNT_PATTERN = /^(?:[a-z_][a-z0-9_-]*\$?|\d+)$/;

/** Node timers hold at most 2^31-1 ms (about 24.8 days); a longer one fires at once. */
export const TIMER_MAX_MS = 2_147_483_647;

/**
 * A duration within `minMs`..`maxMs` (both included). Every duration key names its own range,
 * what its use sensibly holds, never above {@link TIMER_MAX_MS}: a value past it would make a
 * timer fire at once and the loop spin.
 */
export function duration({ minMs = 0, maxMs }: { minMs?: number; maxMs: number }) {
  const range = `expected a duration from ${formatDuration(minMs)} to ${formatDuration(maxMs)}`;
  return z
    .string({ error: DURATION_EXPECTED })
    .regex(DURATION_PATTERN, DURATION_EXPECTED)
    .transform((text, ctx) => {
      const ms = parseDurationMs(text) ?? Number.NaN;
      // Not finite (a number too long to hold) fails both comparisons.
      if (!(ms >= minMs && ms <= Math.min(maxMs, TIMER_MAX_MS))) {
        ctx.issues.push({ code: 'custom', message: range, input: text });
        return z.NEVER;
      }
      return ms;
    });
}

/** `100ms`, `30s`, `10m`, `24h`: the largest unit that writes the value whole. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

export function size() {
  return z
    .string({ error: SIZE_EXPECTED })
    .regex(SIZE_PATTERN, SIZE_EXPECTED)
    .transform((text, ctx) => {
      const bytes = parseSizeBytes(text) ?? 0;
      if (bytes <= 0) {
        ctx.issues.push({ code: 'custom', message: `${SIZE_EXPECTED} above 0`, input: text });
        return z.NEVER;
      }
      return bytes;
    });
}

export function wholeNumber(min: number, max?: number) {
  const expected =
    max === undefined
      ? `expected a whole number >= ${min}`
      : `expected a whole number from ${min} to ${max}`;
  const atLeast = z
    .number({ error: expected })
    .int({ error: expected })
    .min(min, { error: expected });
  return max === undefined ? atLeast : atLeast.max(max, { error: expected });
}

export function percent() {
  const expected = 'expected a percentage above 0 and at most 100';
  return z.number({ error: expected }).gt(0, { error: expected }).max(100, { error: expected });
}

export function percentile() {
  const expected = 'expected a percentile above 0 and below 100, e.g. 95';
  return z.number({ error: expected }).gt(0, { error: expected }).lt(100, { error: expected });
}

export function cores() {
  const expected = 'expected a number of CPU cores above 0, e.g. 0.25';
  return z.number({ error: expected }).gt(0, { error: expected });
}

export function text(what: string) {
  const expected = `expected ${what}`;
  return z.string({ error: expected }).min(1, { error: expected });
}

export function redisUrl() {
  const expected =
    'expected a Redis URL like redis://127.0.0.1:6379, rediss://host:6380/0 or redis+unix:///run/redis/redis.sock?db=0';
  return z.string({ error: expected }).refine((value) => {
    try {
      const url = new URL(value);
      if (url.protocol === 'redis+unix:' || url.protocol === 'unix:') {
        return url.host === '' && url.pathname.length > 1;
      }
      return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '';
    } catch {
      return false;
    }
  }, expected);
}

/**
 * The marker `qscale init --discover` writes where a queue's worker command cannot be known;
 * `argv()` refuses it, so a configuration never runs with it.
 */
export const COMMAND_PLACEHOLDER = 'FILL_IN_WORKER_COMMAND';

/**
 * A program and its arguments. Never a string: qscale runs no shell, so a string would have
 * to be split by rules the user cannot see. Numbers are accepted as arguments (`[sleep, 5]`).
 */
export function argv() {
  const argument = z
    .union([z.string(), z.number()], { error: 'expected each argument to be a string' })
    .transform(String)
    .refine((value) => value.length > 0, 'expected a non-empty argument')
    .refine((value) => !value.includes('\0'), 'an argument must not contain a NUL byte');
  return z
    .array(argument, {
      error: (issue) =>
        typeof issue.input === 'string'
          ? 'expected an argv array like [php, artisan, queue:work], got a single string: qscale never runs a shell, so split the command into its arguments'
          : 'expected an argv array like [php, artisan, queue:work]',
    })
    .min(1, 'expected at least the program to run, got an empty list')
    .refine((args) => !args.includes(COMMAND_PLACEHOLDER), {
      // `qscale init --discover` cannot know a queue's worker command; it writes this marker.
      message: `still holds the placeholder ${COMMAND_PLACEHOLDER}: fill in the command that runs one worker of this queue, as an argv array (the comment above it suggests the usual one)`,
      params: { complete: true },
    });
}

/** Variables a worker receives (plus PATH): an allow-list, never the daemon's environment. */
export function environment() {
  const value = z
    .union([z.string(), z.number(), z.boolean()], {
      error: 'expected a string, number or boolean value',
    })
    .transform(String);
  return z.record(
    z.string().regex(ENV_NAME_PATTERN, 'expected a variable name of letters, digits and _'),
    value,
  );
}

export function account(what: 'user' | 'group') {
  const expected = `expected a ${what} name or numeric id`;
  return z.string({ error: expected }).regex(ACCOUNT_PATTERN, expected);
}

const UNCATCHABLE = new Set(['SIGKILL', 'SIGSTOP']);

/** A signal name (`SIGTERM` or `TERM`), normalised to the `SIG` form. */
export function signal() {
  const expected = 'expected a signal name like SIGTERM, SIGINT, SIGQUIT or SIGTSTP';
  return z
    .string({ error: expected })
    .transform((raw) => {
      const upper = raw.trim().toUpperCase();
      return upper.startsWith('SIG') ? upper : `SIG${upper}`;
    })
    .refine((name) => name in constants.signals, expected)
    .refine(
      (name) => !UNCATCHABLE.has(name),
      'expected a signal a worker can handle: qscale sends SIGKILL itself once the grace period is over',
    );
}
