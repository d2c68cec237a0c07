import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/*
 * How an adopted worker proves it is one qscale started. Start time and boot id only say a PID
 * was not reused; they are public (/proc/PID/stat), so a forged state file could name any
 * process, PID 1 included. So every worker gets its own random token in its environment, and
 * the state file records only the token's SHA-256. On adoption the token is read back from
 * /proc/PID/environ, which only the process's own user and root can read, and hashed.
 *
 * Why a hash in the state file rather than the token in a second, owner-only file: one file
 * stays one atomic write, and the secret is never on disk at all, so a state file that leaks
 * (a backup, a bug report, a copy with looser permissions) gives nothing to present; and what
 * a forger would need, a process of theirs carrying a token whose hash is recorded, requires
 * writing the state file, which the owner and mode checks refuse. The token guards against a
 * state file that names processes qscale never started; it is not a credential for anything.
 */

/** The variable every worker receives; configured environments may not set it. */
export const WORKER_TOKEN_VARIABLE = 'QSCALE_WORKER_TOKEN';

/** 32 random bytes, base64url (43 characters): one per worker, never reused. */
export function newWorkerToken(): string {
  return randomBytes(32).toString('base64url');
}

/** What the state file records of a token: its SHA-256, hex. */
export function hashWorkerToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** The token in /proc/PID/environ; null when absent or unreadable (gone, another user's). */
export async function readWorkerToken(pid: number): Promise<string | null> {
  let environ: string;
  try {
    environ = await readFile(`/proc/${pid}/environ`, 'latin1');
  } catch {
    return null;
  }
  const prefix = `${WORKER_TOKEN_VARIABLE}=`;
  for (const pair of environ.split('\0')) {
    if (pair.startsWith(prefix)) return pair.slice(prefix.length);
  }
  return null;
}

/** True when the process `pid` carries a token whose hash is `tokenHash`. */
export async function provesWorkerToken(pid: number, tokenHash: string): Promise<boolean> {
  const token = await readWorkerToken(pid);
  if (token === null) return false;
  const found = Buffer.from(hashWorkerToken(token), 'hex');
  const expected = Buffer.from(tokenHash, 'hex');
  return found.length === expected.length && timingSafeEqual(found, expected);
}
