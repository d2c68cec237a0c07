import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  hashWorkerToken,
  newWorkerToken,
  provesWorkerToken,
  readWorkerToken,
  WORKER_TOKEN_VARIABLE,
} from './identity.js';

describe('worker token', () => {
  it('is random and recorded only as its SHA-256', () => {
    const token = newWorkerToken();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(newWorkerToken()).not.toBe(token);
    expect(hashWorkerToken(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashWorkerToken(token)).not.toContain(token);
  });

  it('is read back from /proc/PID/environ, and only the right one proves the process', async () => {
    const token = newWorkerToken();
    const child = spawn('sleep', ['1000'], {
      stdio: 'ignore',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', [WORKER_TOKEN_VARIABLE]: token },
    });
    try {
      await once(child, 'spawn');
      const pid = child.pid ?? 0;
      expect(await readWorkerToken(pid)).toBe(token);
      expect(await provesWorkerToken(pid, hashWorkerToken(token))).toBe(true);
      expect(await provesWorkerToken(pid, hashWorkerToken(newWorkerToken()))).toBe(false);
      expect(await provesWorkerToken(pid, 'not-hex')).toBe(false);
      // This process was not started by a supervisor; a PID that does not exist proves nothing.
      expect(await readWorkerToken(process.pid)).toBeNull();
      expect(await provesWorkerToken(4_194_304, hashWorkerToken(token))).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
