import type { Assignment, MemberReport } from './membership.js';

// How the leader turns each queue's fleet total into per-host shares. Pure: the tests drive it
// with plain figures, and the leader calls it once per tick.

/** One host as the split of one queue sees it. */
export interface HostRoom {
  id: string;
  /** Workers of this queue the host can still take (its capacity less its other queues'). */
  room: number;
  /** Its running and starting workers of this queue now (kept where fair, to avoid churn). */
  current: number;
}

/**
 * Splits `total` workers across hosts in proportion to their room (fair share), keeping each
 * host's current workers up to its rounded-up fair share so a small change of capacity moves
 * nobody. Never gives a host more than its room; the total is cut to what the hosts can hold.
 */
export function splitTotal(total: number, hosts: readonly HostRoom[]): Record<string, number> {
  const rooms = hosts.filter((host) => host.room > 0);
  const sumRoom = rooms.reduce((sum, host) => sum + host.room, 0);
  const target = Math.min(total, sumRoom);
  const shares: Record<string, number> = Object.fromEntries(hosts.map((host) => [host.id, 0]));
  if (target === 0) return shares;
  const load = (host: HostRoom) => (shares[host.id] ?? 0) / host.room;
  for (const host of rooms) {
    const fair = Math.ceil((target * host.room) / sumRoom);
    shares[host.id] = Math.min(host.current, host.room, fair);
  }
  let assigned = rooms.reduce((sum, host) => sum + (shares[host.id] ?? 0), 0);
  // Kept too many (every host at its rounded-up share): take from the most loaded first.
  while (assigned > target) {
    const fullest = pick(rooms, (a, b) => load(b) - load(a) || a.current - b.current);
    if (!fullest) break;
    shares[fullest.id] = (shares[fullest.id] ?? 0) - 1;
    assigned--;
  }
  // The rest to the least loaded host, the one already running more first, then by id.
  while (assigned < target) {
    const open = rooms.filter((host) => (shares[host.id] ?? 0) < host.room);
    const emptiest = pick(open, (a, b) => load(a) - load(b) || b.current - a.current);
    if (!emptiest) break;
    shares[emptiest.id] = (shares[emptiest.id] ?? 0) + 1;
    assigned++;
  }
  return shares;
}

function pick<T extends { id: string }>(
  items: readonly T[],
  compare: (a: T, b: T) => number,
): T | undefined {
  return [...items].sort((a, b) => compare(a, b) || a.id.localeCompare(b.id))[0];
}

/** One host as the bound on a queue's total sees it. */
export interface HostExposure {
  id: string;
  /** The share the split wants for it. */
  desired: number;
  /** Its share in the assignment in force (0 when it has none). */
  assigned: number;
  /** Its running + starting workers, as last reported. */
  active: number;
  /** Its stopping workers, still alive, as last reported. */
  stopping: number;
}

/**
 * Holds the split's shares to the fleet's bound: shrinking is always allowed; growing only
 * when every host has reported reconciling the assignment in force (`allAcked`), and only into
 * what is left of `max` after every host's workers that may exist: the more of its reported and
 * assigned workers, plus those still stopping. A host whose share shrinks is so counted at its
 * old size until it reports the smaller one, and another grows only then.
 */
export function boundShares(
  hosts: readonly HostExposure[],
  max: number,
  allAcked: boolean,
): Record<string, number> {
  const shares: Record<string, number> = {};
  let budget = max;
  for (const host of hosts) {
    const covered = allAcked ? Math.max(host.active, host.assigned) : host.assigned;
    shares[host.id] = Math.min(host.desired, covered);
    budget -= Math.max(host.active, host.assigned) + host.stopping;
  }
  if (!allAcked) return shares;
  for (const host of [...hosts].sort((a, b) => a.id.localeCompare(b.id))) {
    const grow = Math.min(host.desired - (shares[host.id] ?? 0), Math.max(0, budget));
    if (grow <= 0) continue;
    shares[host.id] = (shares[host.id] ?? 0) + grow;
    budget -= grow;
  }
  return shares;
}

/** A queue the leader decided: its fleet total and its global maximum. */
export interface QueueTotal {
  name: string;
  total: number;
  max: number;
}

/**
 * Every queue's shares across the live members, in the order given (the first queues take a
 * host's capacity first), each bounded by {@link boundShares} against the assignment in force.
 */
export function planShares(
  queues: readonly QueueTotal[],
  members: readonly MemberReport[],
  current: Assignment | null,
): Record<string, Record<string, number>> {
  const allAcked = current === null || members.every((member) => member.applied === current.seq);
  const used = new Map<string, number>(members.map((member) => [member.id, 0]));
  const plan: Record<string, Record<string, number>> = {};
  for (const queue of queues) {
    const hosts = members.map((member) => {
      const counts = member.workers[queue.name];
      const active = (counts?.running ?? 0) + (counts?.starting ?? 0);
      return {
        id: member.id,
        active,
        stopping: counts?.stopping ?? 0,
        assigned: current?.shares[queue.name]?.[member.id] ?? 0,
        room: Math.max(0, member.capacity - (used.get(member.id) ?? 0)),
      };
    });
    const desired = splitTotal(
      queue.total,
      hosts.map((host) => ({ id: host.id, room: host.room, current: host.active })),
    );
    const shares = boundShares(
      hosts.map((host) => ({ ...host, desired: desired[host.id] ?? 0 })),
      queue.max,
      allAcked,
    );
    for (const host of hosts) {
      // A host holds capacity for what it runs or may still run of this queue.
      const held = Math.max(shares[host.id] ?? 0, host.active);
      used.set(host.id, (used.get(host.id) ?? 0) + held);
    }
    plan[queue.name] = shares;
  }
  return plan;
}
