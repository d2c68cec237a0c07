import { z } from 'zod';
import { DataProblem, describe, parseJsonObject, secondsToMs } from '../payload.js';

// What Laravel writes into Redis, and how the reader reads it back: the fields of a job's
// payload, when a job became ready, and the WITHSCORES replies of its sorted sets.

/**
 * The fields of a Laravel payload the reader uses. Laravel 12.11+ stamps `createdAt` (integer
 * seconds) and `delay`; Horizon stamps `pushedAt` (a string of float seconds). Laravel 10-12.10
 * payloads carry no timestamp at all.
 */
const payloadSchema = z.looseObject({
  uuid: z.string().optional(),
  id: z.union([z.string(), z.number()]).optional(),
  attempts: z.number().int().nonnegative().optional(),
  createdAt: z.number().optional(),
  pushedAt: z.union([z.string(), z.number()]).optional(),
  delay: z.number().nullable().optional(),
  timeout: z.number().nullable().optional(),
});
export type LaravelPayload = z.infer<typeof payloadSchema>;

/** Integer seconds carry up to a second of truncation: read them as the middle of that second. */
const HALF_SECOND_MS = 500;

/** A job's payload (`where` names the read in errors); throws a `DataProblem`. */
export function parseLaravelPayload(raw: string, where: string, maxBytes: number): LaravelPayload {
  const json = parseJsonObject(raw, where, maxBytes);
  const parsed = payloadSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new DataProblem(
      'BAD_PAYLOAD',
      `${where} holds a job whose ${issue?.path.join('.') || 'payload'} is not what Laravel writes (${issue?.message ?? 'invalid'})`,
    );
  }
  return parsed.data;
}

/** Never attempted: it entered the list when it was pushed. */
export function isFresh(payload: LaravelPayload): boolean {
  return (payload.attempts ?? 0) === 0;
}

export function hasTimestamp(payload: LaravelPayload): boolean {
  return payload.pushedAt !== undefined || payload.createdAt !== undefined;
}

/**
 * Creation time: Horizon's sub-second pushedAt, else the framework's whole-second createdAt.
 * `key` names the queue in the error of an unreadable pushedAt.
 */
export function baseTime(payload: LaravelPayload, key: string): number | null {
  if (payload.pushedAt !== undefined) {
    const pushed = secondsToMs(payload.pushedAt);
    if (pushed === null) {
      throw new DataProblem(
        'BAD_PAYLOAD',
        `pushedAt in ${key} is ${describe(payload.pushedAt)}, expected a number of seconds`,
      );
    }
    return pushed;
  }
  if (payload.createdAt !== undefined) return payload.createdAt * 1000 + HALF_SECOND_MS;
  return null;
}

/** When a job that was never attempted became ready: created, plus its dispatch delay. */
export function readyAt(payload: LaravelPayload, key: string): number | null {
  if (!isFresh(payload)) return null;
  const base = baseTime(payload, key);
  if (base === null) return null;
  return base + (payload.delay ?? 0) * 1000;
}

/** The score of the first member of a WITHSCORES reply, or null when empty. */
export function firstScore(value: unknown): number | null {
  if (!Array.isArray(value) || value.length < 2) return null;
  const score = Number(value[1]);
  return Number.isFinite(score) ? score : null;
}

/** Total length of the members of a WITHSCORES reply (their payloads). */
export function bytesOf(pairs: readonly [string, number][]): number {
  let total = 0;
  for (const [member] of pairs) total += member.length;
  return total;
}

/** A WITHSCORES reply as [member, score] pairs. */
export function pairs(value: unknown, what: string): [string, number][] {
  if (!Array.isArray(value)) {
    throw new DataProblem('BAD_PAYLOAD', `${what} returned no list`);
  }
  const result: [string, number][] = [];
  for (let index = 0; index + 1 < value.length; index += 2) {
    result.push([String(value[index]), Number(value[index + 1])]);
  }
  return result;
}
