import { describe, expect, it } from 'vitest';
import { OutputReader, type StreamName } from './output.js';

function reader(settings: Partial<ConstructorParameters<typeof OutputReader>[0]> = {}) {
  const lines: { stream: StreamName; text: string; truncated: boolean }[] = [];
  const drops: number[] = [];
  const output = new OutputReader(
    {
      maxLineBytes: 16,
      linesPerSecond: 1_000_000,
      burstLines: 1_000_000,
      tailLines: 3,
      ...settings,
    },
    (line) => line.replaceAll('secret', '[redacted]'),
    {
      line: (stream, text, truncated) => lines.push({ stream, text, truncated }),
      dropped: (count) => drops.push(count),
    },
  );
  return { output, lines, drops };
}

describe('OutputReader', () => {
  it('splits chunks into lines per stream, across chunk boundaries and CRLF', () => {
    const { output, lines } = reader();
    output.push('stdout', Buffer.from('one\ntw'));
    output.push('stderr', Buffer.from('err\r\n'));
    output.push('stdout', Buffer.from('o\n\nthree'));
    output.end('stdout');
    expect(lines.map((l) => `${l.stream}:${l.text}`)).toEqual([
      'stdout:one',
      'stderr:err',
      'stdout:two',
      'stdout:three',
    ]);
  });

  it('cuts a line at maxLineBytes and drops the rest of it', () => {
    const { output, lines } = reader();
    output.push('stdout', Buffer.from(`${'a'.repeat(10)}`));
    output.push('stdout', Buffer.from(`${'b'.repeat(30)}\nnext\n`));
    expect(lines).toEqual([
      { stream: 'stdout', text: 'aaaaaaaaaabbbbbb', truncated: true },
      { stream: 'stdout', text: 'next', truncated: false },
    ]);
  });

  it('passes a burst, then counts the lines over the rate instead of keeping them', () => {
    const { output, lines, drops } = reader({ linesPerSecond: 0.001, burstLines: 5 });
    output.push('stdout', Buffer.from('x\n'.repeat(1_000)));
    output.close();
    expect(lines).toHaveLength(5);
    expect(drops).toEqual([995]);
  });

  it('keeps the last lines, redacted, for the crash report', () => {
    const { output } = reader({ linesPerSecond: 0.001, burstLines: 1 });
    output.push('stderr', Buffer.from('a\nb\nthe secret\nfatal\n'));
    expect(output.tail()).toEqual(['b', 'the [redacted]', 'fatal']);
    output.close();
  });
});
