import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

async function sources(): Promise<{ file: string; text: string }[]> {
  const entries = await readdir(SRC, { recursive: true });
  const files = entries.filter((entry) => entry.endsWith('.ts') && !entry.endsWith('.test.ts'));
  return Promise.all(
    files.map(async (file) => ({ file, text: await readFile(join(SRC, file), 'utf8') })),
  );
}

// The tick path must never spawn, block or sleep; the library must never print.
const FORBIDDEN: [string, RegExp][] = [
  ['a child process', /child_process|\bexeca\b/],
  ['a synchronous call', /\b\w+Sync\(/],
  ['a timer (a sleep or work outside a call)', /\bset(Timeout|Interval|Immediate)\(/],
  ['console output', /\bconsole\./],
  ['systeminformation (it shells out per call)', /systeminformation/],
];

describe('the package source', () => {
  it('has no way to spawn a process, block the event loop, sleep or print', async () => {
    const found: string[] = [];
    for (const { file, text } of await sources()) {
      for (const [what, pattern] of FORBIDDEN) {
        if (pattern.test(text)) found.push(`${file}: ${what}`);
      }
    }
    expect(found).toEqual([]);
    expect((await sources()).length).toBeGreaterThan(5);
  });
});
