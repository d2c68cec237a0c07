import { readProc } from '@qscale/testkit';
import { describe, expect, it } from 'vitest';
import { parseStat, readBootId, readStat } from './proc.js';

describe('/proc', () => {
  it('parses stat after the last parenthesis, whatever the command name holds', () => {
    const fields = ['S', '1', '42', '42', ...Array(15).fill('0'), '123456', '0'];
    expect(parseStat(`77 (we) ird (name) ${fields.join(' ')}`)).toEqual({
      state: 'S',
      ppid: 1,
      pgid: 42,
      sid: 42,
      startTicks: 123_456,
    });
    expect(parseStat('garbage')).toBeNull();
  });

  it('reads this very process like the testkit does, and a boot id', async () => {
    const own = await readStat(process.pid);
    const reference = await readProc(process.pid);
    expect(own).toMatchObject({ startTicks: reference?.startTicks, pgid: reference?.pgid });
    expect(await readStat(4_194_304)).toBeNull();
    expect(await readBootId()).toMatch(/^[0-9a-f-]{36}$/);
  });
});
