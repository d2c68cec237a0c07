import { describe, expect, it } from 'vitest';
import {
  DataProblem,
  describe as describeValue,
  isoUtcToMs,
  parseJson,
  parseJsonObject,
  secondsOrMillis,
  secondsToMs,
} from './payload.js';

describe('timestamps', () => {
  it('reads RQ times with microseconds, and the legacy form without a fraction', () => {
    expect(isoUtcToMs('2026-01-01T12:00:00.123456Z')).toBeCloseTo(
      Date.UTC(2026, 0, 1, 12) + 123.456,
      6,
    );
    expect(isoUtcToMs('2026-01-01T12:00:00Z')).toBe(Date.UTC(2026, 0, 1, 12));
    expect(isoUtcToMs('yesterday')).toBeNull();
    expect(isoUtcToMs(42)).toBeNull();
  });

  it('tells Sidekiq 7 float seconds from Sidekiq 8 integer milliseconds', () => {
    expect(secondsOrMillis(1767225600.5)).toBe(1767225600500);
    expect(secondsOrMillis(1767225600500)).toBe(1767225600500);
    expect(secondsOrMillis('1767225600.25')).toBe(1767225600250);
    expect(secondsOrMillis(null)).toBeNull();
    expect(secondsOrMillis('')).toBeNull();
  });

  it("reads Horizon's pushedAt string of float seconds", () => {
    expect(secondsToMs('1767225600.4821')).toBeCloseTo(1767225600482.1, 3);
    expect(secondsToMs('soon')).toBeNull();
  });
});

describe('parseJson', () => {
  it('names the place and the size, never the text, when it is not JSON', () => {
    const secret = `sk_live_${'4eC39HqLyjWDarjtT1zdp7dc'.repeat(3)}`;
    let thrown: unknown;
    try {
      parseJson(`${secret} not json`, 'LINDEX q 0', 1_000);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DataProblem);
    expect(thrown).toMatchObject({
      code: 'BAD_PAYLOAD',
      message: 'LINDEX q 0 holds 89 bytes that are not JSON, expected a JSON payload',
    });
  });

  it('measures payloads in bytes, not characters', () => {
    // 298 two-byte characters in quotes: 300 characters, 598 bytes.
    const text = JSON.stringify('é'.repeat(298));
    expect(text.length).toBe(300);
    expect(() => parseJson(text, 'k', 500)).toThrow(/598 bytes, above maxPayloadBytes \(500\)/);
    expect(parseJson(text, 'k', 700)).toBe('é'.repeat(298));
  });

  it('describes strings found where an object or a number belongs by size, not by text', () => {
    expect(describeValue('sk_live_4eC39HqLyjWDarjtT1zdp7dc')).toBe('a string of 32 bytes');
    expect(describeValue(42)).toBe('number 42');
    expect(() => parseJsonObject('"sk_live_4eC39HqLyjWDarjtT1zdp7dc"', 'k', 100)).toThrow(
      'k holds a string of 32 bytes, expected a JSON object',
    );
  });
});
