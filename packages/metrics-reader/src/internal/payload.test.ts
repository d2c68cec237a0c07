import { describe, expect, it } from 'vitest';
import {
  DataProblem,
  isoUtcToMs,
  parseJson,
  preview,
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
  it('names the place and shows the start of what it found when it is not JSON', () => {
    let thrown: unknown;
    try {
      parseJson('{"uuid": nope', 'LINDEX q 0', 100);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DataProblem);
    expect(thrown).toMatchObject({
      code: 'BAD_PAYLOAD',
      message: 'LINDEX q 0 holds "{"uuid": nope", expected a JSON payload',
    });
  });

  it('measures payloads in bytes, not characters', () => {
    // 298 two-byte characters in quotes: 300 characters, 598 bytes.
    const text = JSON.stringify('é'.repeat(298));
    expect(text.length).toBe(300);
    expect(() => parseJson(text, 'k', 500)).toThrow(/598 bytes, above maxPayloadBytes \(500\)/);
    expect(parseJson(text, 'k', 700)).toBe('é'.repeat(298));
  });

  it('keeps previews short and printable', () => {
    expect(preview('\x80\x04pickle')).toBe('"??pickle"');
    expect(preview('x'.repeat(100))).toMatch(/^"x{40}\.\.\." \(100 characters\)$/);
  });
});
