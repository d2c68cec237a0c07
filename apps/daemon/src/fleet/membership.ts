import { z } from 'zod';
import {
  type FleetClient,
  type FleetKeys,
  LEASE_LUA,
  type LeaseHolder,
  parseToken,
  runScript,
} from './lease.js';

// Members heartbeat through one script per tick: it renews (or takes) the lease, refreshes the
// member's report (a key that expires after the lease's TTL, so a silent host drops out on
// its own) and hands back the assignment in force. Only the lease holder gets every member's
// report too: the others read the fleet from the assignment, so a tick costs every host one
// command and the leader O(hosts) reads, not every host O(hosts).

const count = z.number().int().nonnegative();

/** What a member reports each tick. */
export const memberReportSchema = z.strictObject({
  id: z.string().min(1),
  /** Workers this host can hold, all queues together (host capacity and limits.maxWorkers). */
  capacity: count,
  /** Its live workers per queue (running, starting, stopping: every process that exists). */
  workers: z.record(
    z.string(),
    z.strictObject({ running: count, starting: count, stopping: count }),
  ),
  /** The assignment (by `seq`) this host's pools were last reconciled to; null: none yet. */
  applied: count.nullable(),
});
export type MemberReport = z.infer<typeof memberReportSchema>;

/** What the leader writes (fenced): each queue's fleet total and every host's share of it. */
export const assignmentSchema = z.strictObject({
  /** Grows by one with every write, across leaders. */
  seq: count,
  term: count,
  leader: z.string().min(1),
  /** Epoch ms of the write. */
  at: z.number(),
  /** Queue -> workers the fleet runs. */
  totals: z.record(z.string(), count),
  /** Queue -> host id -> its share; a host absent has none. */
  shares: z.record(z.string(), z.record(z.string(), count)),
});
export type Assignment = z.infer<typeof assignmentSchema>;

/** The members as the leader last counted them (not fenced into `seq`: shown, never acted on). */
export const fleetViewSchema = z.strictObject({
  leader: z.string().min(1),
  term: count,
  at: z.number(),
  members: z.array(z.strictObject({ id: z.string(), capacity: count, workers: count })),
});
export type FleetView = z.infer<typeof fleetViewSchema>;

/**
 * KEYS: leader, term, members, this member, assignment, view. ARGV: id, ttl ms, report (JSON), the
 * prefix of member keys. Returns { lease token, assignment, view, reports (leader only) }.
 */
export const SYNC_LUA = `${LEASE_LUA}
redis.call('SET', KEYS[4], ARGV[3], 'PX', ARGV[2])
redis.call('SADD', KEYS[3], ARGV[1])
local reports = {}
if string.sub(holder, string.find(holder, '|', 1, true) + 1) == ARGV[1] then
  for _, id in ipairs(redis.call('SMEMBERS', KEYS[3])) do
    local report = redis.call('GET', ARGV[4] .. id)
    if report then table.insert(reports, report) else redis.call('SREM', KEYS[3], id) end
  end
end
return {holder, redis.call('GET', KEYS[5]), redis.call('GET', KEYS[6]), reports}
`;

export interface SyncResult {
  holder: LeaseHolder;
  assignment: Assignment | null;
  view: FleetView | null;
  /** Every live member's report, when this host holds the lease; else empty. */
  members: MemberReport[];
}

/** One round trip: heartbeat, lease, assignment (and the members, for the leader). */
export async function sync(
  client: FleetClient,
  keys: FleetKeys,
  report: MemberReport,
  ttlMs: number,
): Promise<SyncResult> {
  const reply = (await runScript(
    client,
    SYNC_LUA,
    [keys.leader, keys.term, keys.members, keys.member(report.id), keys.assignment, keys.view],
    [report.id, ttlMs, JSON.stringify(report), keys.member('')],
  )) as [string, string | null, string | null, string[]];
  const [token, assignment, view, reports] = reply;
  const holder = parseToken(token);
  if (!holder) throw new Error(`fleet lease ${keys.leader} holds ${token}, expected <term>|<id>`);
  return {
    holder,
    assignment:
      assignment === null ? null : parseStored(assignmentSchema, assignment, keys.assignment),
    view: view === null ? null : parseStored(fleetViewSchema, view, keys.view),
    members: reports
      .flatMap((text) => {
        // One member writing garbage (another version) must not blind the leader to the rest.
        const parsed = memberReportSchema.safeParse(safeJson(text));
        return parsed.success ? [parsed.data] : [];
      })
      // SMEMBERS has no order: sorted, the same shares always serialise the same way (a new
      // assignment is written only when they change).
      .sort((a, b) => a.id.localeCompare(b.id)),
  };
}

function parseStored<T>(schema: z.ZodType<T>, text: string, key: string): T {
  const parsed = schema.safeParse(safeJson(text));
  if (!parsed.success) {
    throw new Error(
      `fleet key ${key} does not hold what qscale wrote there: ${parsed.error.issues[0]?.message}`,
    );
  }
  return parsed.data;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
