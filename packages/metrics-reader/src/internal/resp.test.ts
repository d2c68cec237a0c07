import { describe, expect, it } from 'vitest';
import { encodeCommand, encodeCommands, ReplyError, RespParser, type RespValue } from './resp.js';

function parseAll(chunks: Buffer[]): RespValue[] {
  const values: RespValue[] = [];
  const parser = new RespParser((value) => values.push(value));
  for (const chunk of chunks) parser.feed(chunk);
  return values;
}

const WIRE = Buffer.from(
  [
    '+OK\r\n',
    ':42\r\n',
    ':-7\r\n',
    ':1234567890123\r\n',
    '$4\r\nhé!\r\n',
    '$-1\r\n',
    '*-1\r\n',
    '-WRONGTYPE Operation against a key holding the wrong kind of value\r\n',
    '*2\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$5\r\nevent\r\n$6\r\nactive\r\n*0\r\n',
  ].join(''),
  'utf8',
);

describe('RespParser', () => {
  it('reads every RESP2 type, errors as ReplyError values', () => {
    const values = parseAll([WIRE]);
    expect(values.slice(0, 7)).toEqual(['OK', 42, -7, 1_234_567_890_123, 'hé!', null, null]);
    expect(values[7]).toBeInstanceOf(ReplyError);
    expect((values[7] as Error).message).toMatch(/^WRONGTYPE/);
    expect(values[8]).toEqual([['1-0', ['event', 'active']], []]);
  });

  it('gives the same replies whatever byte the data is split at', () => {
    const expected = parseAll([WIRE]);
    for (let split = 1; split < WIRE.length; split++) {
      expect(parseAll([WIRE.subarray(0, split), WIRE.subarray(split)])).toEqual(expected);
    }
    const bytes = [...WIRE].map((byte) => Buffer.from([byte]));
    expect(parseAll(bytes)).toEqual(expected);
  });

  it('assembles a 5 MB bulk string arriving in 64 KiB chunks, then goes on', () => {
    const payload = 'x'.repeat(5 * 1024 * 1024);
    const wire = Buffer.from(`$${payload.length}\r\n${payload}\r\n:7\r\n`);
    const chunks: Buffer[] = [];
    for (let offset = 0; offset < wire.length; offset += 65_536) {
      chunks.push(wire.subarray(offset, offset + 65_536));
    }
    const values = parseAll(chunks);
    expect(values).toHaveLength(2);
    expect((values[0] as string).length).toBe(payload.length);
    expect(values[1]).toBe(7);
  });

  it('refuses a byte that starts no RESP2 type, and a number that is not one', () => {
    expect(() => parseAll([Buffer.from('?what\r\n')])).toThrow(/unexpected RESP type byte/);
    expect(() => parseAll([Buffer.from(':4x\r\n')])).toThrow(/in a RESP number/);
  });
});

describe('encodeCommands', () => {
  it('writes arrays of bulk strings, counting bytes (not characters) of each argument', () => {
    expect(encodeCommand(['lindex', 'queues:é', -1]).toString()).toBe(
      '*3\r\n$6\r\nlindex\r\n$9\r\nqueues:é\r\n$2\r\n-1\r\n',
    );
    const prepared = { bytes: encodeCommand(['llen', 'a']) };
    expect(encodeCommands([['get', 'k'], prepared, ['get', 'j']]).toString()).toBe(
      '*2\r\n$3\r\nget\r\n$1\r\nk\r\n*2\r\n$4\r\nllen\r\n$1\r\na\r\n*2\r\n$3\r\nget\r\n$1\r\nj\r\n',
    );
  });
});
