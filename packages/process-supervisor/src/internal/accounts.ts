import { readFile } from 'node:fs/promises';
import { SupervisorError } from '../errors.js';

export interface Account {
  /** Undefined: keep the supervisor's own. */
  uid: number | undefined;
  gid: number | undefined;
}

interface Entry {
  name: string;
  id: number;
  /** For passwd entries: the primary group. */
  gid: number;
}

async function readEntries(file: string): Promise<Entry[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const entries: Entry[] = [];
  for (const line of text.split('\n')) {
    const [name, , id, gid] = line.split(':');
    if (!name || id === undefined || !/^\d+$/.test(id)) continue;
    entries.push({ name, id: Number(id), gid: Number(gid) });
  }
  return entries;
}

const NUMERIC = /^\d+$/;

/**
 * Resolves a configured user and group to ids, from /etc/passwd and /etc/group (accounts that
 * only exist through NSS, e.g. LDAP, must be given as numeric ids). A user without a group runs
 * with the user's primary group.
 */
export async function resolveAccount(
  queue: string,
  user: string | null,
  group: string | null,
): Promise<Account> {
  let uid: number | undefined;
  let gid: number | undefined;
  if (user !== null) {
    const entry = (await readEntries('/etc/passwd')).find((e) =>
      NUMERIC.test(user) ? e.id === Number(user) : e.name === user,
    );
    if (entry) {
      uid = entry.id;
      gid = entry.gid;
    } else if (NUMERIC.test(user) && group !== null) {
      uid = Number(user);
    } else {
      throw new SupervisorError(
        'ACCOUNT_NOT_FOUND',
        `queue "${queue}": user "${user}" has no entry in /etc/passwd; expected an existing user name, or a numeric id together with a group`,
      );
    }
  }
  if (group !== null) {
    const entry = (await readEntries('/etc/group')).find((e) =>
      NUMERIC.test(group) ? e.id === Number(group) : e.name === group,
    );
    if (entry) gid = entry.id;
    else if (NUMERIC.test(group)) gid = Number(group);
    else {
      throw new SupervisorError(
        'ACCOUNT_NOT_FOUND',
        `queue "${queue}": group "${group}" has no entry in /etc/group; expected an existing group name or a numeric id`,
      );
    }
  }
  return { uid, gid };
}
