import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

// The leader's lease: a plain `SET NX PX` key whose value is `<term>|<holder>`, the term taken
// from INCR on a counter that only ever grows. The holder renews it every tick; when it stops,
// the key expires and the next host to ask takes it with a higher term. The value is the
// fencing token: every write of the leader runs in a script that first checks the key still
// holds exactly that token, so a deposed leader (its lease expired, another host's taken) has
// its writes refused, whatever it believes.

export type FleetClient = Redis | Cluster;

/** The fleet's keys; one hash tag, so the scripts' keys share a Cluster slot. */
export interface FleetKeys {
  leader: string;
  term: string;
  members: string;
  member: (id: string) => string;
  assignment: string;
  /** The leader's view of the members, for every host's /api/state. */
  view: string;
}

export function fleetKeys(prefix: string): FleetKeys {
  const tag = `{${prefix}}`;
  return {
    leader: `${tag}:leader`,
    term: `${tag}:term`,
    members: `${tag}:members`,
    member: (id) => `${tag}:member:${id}`,
    assignment: `${tag}:assignment`,
    view: `${tag}:view`,
  };
}

/** Who holds the lease, under which term. */
export interface LeaseHolder {
  leader: string;
  term: number;
}

/** The token fenced writes carry: the lease's value. */
export function leaseToken(holder: LeaseHolder): string {
  return `${holder.term}|${holder.leader}`;
}

/** `<term>|<holder>` back into its parts (holder ids may not contain `|`; terms never do). */
export function parseToken(token: string): LeaseHolder | null {
  const bar = token.indexOf('|');
  const term = Number(token.slice(0, bar));
  if (bar <= 0 || !Number.isSafeInteger(term)) return null;
  return { term, leader: token.slice(bar + 1) };
}

/**
 * Lua that leaves the lease's token in `holder`. KEYS[1]: leader, KEYS[2]: term; ARGV[1]: id,
 * ARGV[2]: ttl ms. Renews the lease when `id` holds it, takes it (with a new term) when nobody
 * does. Shared by ACQUIRE_OR_RENEW and the members' per-tick script.
 */
export const LEASE_LUA = `
local holder = redis.call('GET', KEYS[1])
if holder then
  if string.sub(holder, string.find(holder, '|', 1, true) + 1) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
  end
else
  holder = redis.call('INCR', KEYS[2]) .. '|' .. ARGV[1]
  redis.call('SET', KEYS[1], holder, 'NX', 'PX', ARGV[2])
end
`;

/** KEYS: leader, term. ARGV: id, ttl ms. Returns the holder's token. */
export const ACQUIRE_OR_RENEW = `${LEASE_LUA}
return holder
`;

/** KEYS: leader, target. ARGV: token, value. Writes only while the lease holds `token`. */
export const FENCED_SET = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
return 1
`;

/** KEYS: leader. ARGV: token. Gives the lease up (a clean stop), only if still held. */
export const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

const shas = new Map<string, string>();

/** EVALSHA, loading the script with EVAL the first time a server has not seen it. */
export async function runScript(
  client: FleetClient,
  script: string,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  let sha = shas.get(script);
  if (!sha) {
    sha = createHash('sha1').update(script).digest('hex');
    shas.set(script, sha);
  }
  try {
    return await client.evalsha(sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error;
    return client.eval(script, keys.length, ...keys, ...args);
  }
}

/** Takes or renews the lease for `id`; returns whoever holds it now. */
export async function acquireOrRenew(
  client: FleetClient,
  keys: FleetKeys,
  id: string,
  ttlMs: number,
): Promise<LeaseHolder> {
  const token = String(
    await runScript(client, ACQUIRE_OR_RENEW, [keys.leader, keys.term], [id, ttlMs]),
  );
  const holder = parseToken(token);
  if (!holder) throw new Error(`fleet lease ${keys.leader} holds ${token}, expected <term>|<id>`);
  return holder;
}

/** Sets `key` to `value` only while `holder` still holds the lease; false: refused (deposed). */
export async function fencedSet(
  client: FleetClient,
  keys: FleetKeys,
  holder: LeaseHolder,
  key: string,
  value: string,
): Promise<boolean> {
  const done = await runScript(client, FENCED_SET, [keys.leader, key], [leaseToken(holder), value]);
  return done === 1;
}

export async function release(
  client: FleetClient,
  keys: FleetKeys,
  holder: LeaseHolder,
): Promise<void> {
  await runScript(client, RELEASE, [keys.leader], [leaseToken(holder)]);
}
