import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { isQscaleError } from '@qscale/contracts';
import { readProc } from '@qscale/testkit';
import { describe, expect, it } from 'vitest';
import { refusedGroup, signalGroup } from './signals.js';

describe('signalGroup', () => {
  it('refuses every group a worker cannot lead, before any signal is sent', async () => {
    const ownGroup = (await readProc(process.pid))?.pgid ?? -1;
    expect(ownGroup).toBeGreaterThan(0);
    // SIGCONT: harmless, should the guard ever let one through.
    for (const pgid of [
      0,
      1,
      -1,
      -42,
      1.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      process.pid,
      ownGroup,
    ]) {
      let thrown: unknown = null;
      try {
        signalGroup(pgid, 'SIGCONT');
      } catch (error) {
        thrown = error;
      }
      expect(isQscaleError(thrown, 'SIGNAL_REFUSED'), `group ${pgid}`).toBe(true);
      expect((thrown as Error).message).toContain(
        `refused to send SIGCONT to process group ${pgid}:`,
      );
      expect(refusedGroup(pgid)).not.toBeNull();
    }
    expect(refusedGroup(1)).toMatch(/kill\(-1\)/);
  });

  it('signals the group of a process leading its own', async () => {
    const child = spawn('sleep', ['1000'], { detached: true, stdio: 'ignore' });
    await once(child, 'spawn');
    const pid = child.pid ?? 0;
    expect(refusedGroup(pid)).toBeNull();
    const exit = once(child, 'exit');
    expect(signalGroup(pid, 'SIGTERM')).toBe('sent');
    expect(await exit).toEqual([null, 'SIGTERM']);
    expect(signalGroup(pid, 'SIGTERM')).toBe('gone');
  });
});
