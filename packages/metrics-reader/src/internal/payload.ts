import type { MetricsReaderErrorCode } from '../errors.js';

/** Raised while interpreting data read from Redis; becomes the queue's snapshot error. */
export class DataProblem extends Error {
  constructor(
    readonly code: MetricsReaderErrorCode,
    message: string,
  ) {
    super(message);
  }
}
Object.defineProperty(DataProblem.prototype, 'name', { value: 'DataProblem' });

/**
 * Parses a JSON payload read from `where`. Too large or not JSON throws a DataProblem naming the
 * key, the size and what was expected. The payload's text is never quoted: a job's arguments
 * are often secrets, and the message ends up in logs and the daemon's status API.
 */
export function parseJson(raw: unknown, where: string, maxBytes: number): unknown {
  if (typeof raw !== 'string') {
    throw new DataProblem('BAD_PAYLOAD', `${where} holds ${describe(raw)}, expected a JSON string`);
  }
  if (exceedsBytes(raw, maxBytes)) {
    throw new DataProblem(
      'PAYLOAD_TOO_LARGE',
      `${where} holds a payload of ${Buffer.byteLength(raw)} bytes, above maxPayloadBytes (${maxBytes})`,
    );
  }
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    // Not the parser's message: V8 quotes the text around the error.
    throw new DataProblem(
      'BAD_PAYLOAD',
      `${where} holds ${Buffer.byteLength(raw)} bytes that are not JSON, expected a JSON payload`,
    );
  }
}

/** Whether `raw` is longer than `maxBytes` in UTF-8. */
export function exceedsBytes(raw: string, maxBytes: number): boolean {
  // Cheap upper bound first: a UTF-16 length above the limit can still be under it in bytes
  // only for non-ASCII text, so measure exactly only when it matters.
  return raw.length > maxBytes || Buffer.byteLength(raw) > maxBytes;
}

/**
 * Remembers the last payload parsed at one place: the oldest job of a backlog is read every
 * tick, and parsing it again each time would cost more than reading it.
 */
export class LastParsed<T> {
  private raw: string | null = null;
  private value: T | undefined;

  get(raw: string, parse: (raw: string) => T): T {
    if (raw !== this.raw || this.value === undefined) {
      this.value = parse(raw);
      this.raw = raw;
    }
    return this.value;
  }
}

/** The JSON object at `where`, or a DataProblem. */
export function parseJsonObject(
  raw: unknown,
  where: string,
  maxBytes: number,
): Record<string, unknown> {
  const value = parseJson(raw, where, maxBytes);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DataProblem(
      'BAD_PAYLOAD',
      `${where} holds ${describe(value)}, expected a JSON object`,
    );
  }
  return value as Record<string, unknown>;
}

/** Epoch seconds (integer or fractional, number or numeric string) to epoch milliseconds. */
export function secondsToMs(value: unknown): number | null {
  const seconds = toNumber(value);
  return seconds === null ? null : seconds * 1000;
}

/** Epoch milliseconds as a number or numeric string. */
export function millis(value: unknown): number | null {
  return toNumber(value);
}

/**
 * Epoch seconds or milliseconds, told apart by magnitude (Sidekiq 8 moved from float seconds
 * to integer milliseconds): anything below 1e11 is seconds (1e11 s is the year 5138).
 */
export function secondsOrMillis(value: unknown): number | null {
  const number = toNumber(value);
  if (number === null) return null;
  return number < 1e11 ? number * 1000 : number;
}

const ISO_UTC = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z?$/;

/** RQ's `%Y-%m-%dT%H:%M:%S.%fZ` (and the legacy form without fraction) to epoch ms. */
export function isoUtcToMs(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const match = ISO_UTC.exec(value);
  if (!match) return null;
  const [, y, mo, d, h, mi, s, fraction] = match;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const fractionMs = fraction ? Number(`0.${fraction}`) * 1000 : 0;
  return Number.isFinite(ms) ? ms + fractionMs : null;
}

function toNumber(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string' && value.trim() !== '') {
    const number = Number(value);
    return Number.isFinite(number) ? number : null;
  }
  return null;
}

/**
 * A safe description of a value for an error message: its kind and size, never its text (a
 * string read from a job may be a secret).
 */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string of ${Buffer.byteLength(value)} bytes`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}
