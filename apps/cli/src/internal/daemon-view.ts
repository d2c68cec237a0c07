import type { QueueSnapshot } from '@qscale/contracts';
import type {
  DaemonState,
  DecisionRecord,
  FleetState,
  QueueHold,
  QueueState,
} from '@qscale/daemon';
import { COLUMNS, type QueueColumn, renderQueueTable } from '../commands/queues.js';
import { formatDuration, plural } from './format.js';

type GroupMember = NonNullable<QueueState['group']>['members'][number];

/** The member queues of worker groups, by name, with the group that serves each. */
function groupMembers(state: DaemonState): Map<string, { group: string; member: GroupMember }> {
  const members = new Map<string, { group: string; member: GroupMember }>();
  for (const queue of state.queues) {
    for (const member of queue.group?.members ?? []) {
      members.set(member.name, { group: queue.name, member });
    }
  }
  return members;
}

/**
 * The snapshots of the table's rows: each queue's, and under a worker group's row (its
 * combined figures) one row per member queue with that queue's own figures.
 */
export function daemonSnapshots(state: DaemonState): QueueSnapshot[] {
  return state.queues.flatMap((queue) => [
    ...(queue.snapshot ? [queue.snapshot] : []),
    ...(queue.group?.members.flatMap((member) => (member.snapshot ? [member.snapshot] : [])) ?? []),
  ]);
}

/** Columns that show what the daemon does with each queue, next to the queue's figures. */
export function daemonColumns(state: DaemonState): QueueColumn[] {
  const byName = new Map(state.queues.map((queue) => [queue.name, queue]));
  const of = (name: string): QueueState | undefined => byName.get(name);
  const members = groupMembers(state);
  return [
    {
      header: 'workers',
      cell: (snapshot) => {
        const served = members.get(snapshot.queue);
        if (served) return `in ${served.group}`;
        const workers = of(snapshot.queue)?.workers;
        if (!workers) return '-';
        const extra = [
          workers.starting > 0 ? `+${workers.starting} starting` : '',
          workers.stopping > 0 ? `-${workers.stopping} stopping` : '',
        ].filter(Boolean);
        return [String(workers.running), ...extra].join(' ');
      },
    },
    {
      header: 'target',
      cell: (snapshot) => {
        // A member queue: the workers its group needs for this queue's SLO (its term).
        const served = members.get(snapshot.queue);
        if (served) return served.member.need ? `needs ${served.member.need.workers}` : '-';
        return String(of(snapshot.queue)?.lastDecision?.to ?? '-');
      },
    },
    {
      header: 'held by',
      align: 'left',
      cell: (snapshot) => {
        const held = of(snapshot.queue)?.held;
        return held ? `${held.by.join(', ')} (asked ${held.recommended})` : '';
      },
    },
    {
      header: 'SLO',
      cell: (snapshot) => {
        const slo = members.get(snapshot.queue)?.member.slo ?? of(snapshot.queue)?.slo;
        return slo ? `p${slo.percentile} <= ${formatDuration(slo.pickupMs)}` : '-';
      },
    },
    {
      header: 'note',
      align: 'left',
      cell: (snapshot) => {
        const pool = of(snapshot.queue)?.pool;
        if (snapshot.error) return snapshot.error.code;
        const group = of(snapshot.queue)?.group;
        if (group) return `group: ${group.discipline}${weightsOf(group.weights)}`;
        if (pool?.health === 'degraded') return 'workers failing to start';
        if (pool?.health === 'backoff') return 'restart backoff';
        return snapshot.paused ? 'paused' : '';
      },
    },
  ];
}

function weightsOf(weights: Record<string, number> | null): string {
  if (!weights) return '';
  return ` ${Object.entries(weights)
    .map(([queue, weight]) => `${queue}=${weight}`)
    .join(' ')}`;
}

/** The columns of `qscale top` and `qscale status` when a daemon answers. */
export function daemonTableColumns(state: DaemonState): QueueColumn[] {
  const members = groupMembers(state);
  return [
    {
      ...COLUMNS.queue,
      // A member queue sits under its group's row.
      cell: (snapshot) => (members.has(snapshot.queue) ? `  └ ${snapshot.queue}` : snapshot.queue),
    },
    COLUMNS.pending,
    COLUMNS.active,
    COLUMNS.oldest,
    COLUMNS.arrival,
    COLUMNS.completion,
    COLUMNS.pickup,
    ...daemonColumns(state),
  ];
}

/** Header, host, queue table and recent decisions, as text. */
export function renderDaemon(state: DaemonState, url: string, decisions = 5): string {
  const lines: string[] = [];
  const uptime = formatDuration(state.now - state.startedAt);
  const last = state.lastTick ? `, last ${Math.round(state.lastTick.durationMs)}ms` : '';
  lines.push(
    `qscaled at ${url}: ${state.health.status}, up ${uptime}, tick ${formatDuration(state.tickMs)} (${state.ticks} ticks${last})${state.dryRun ? ', DRY RUN' : ''}`,
  );
  for (const reason of state.health.reasons) lines.push(`  ! ${reason}`);
  lines.push(hostLine(state));
  if (state.cluster) lines.push(...fleetLines(state.cluster));
  const snapshots = daemonSnapshots(state);
  lines.push(
    snapshots.length > 0
      ? renderQueueTable(snapshots, daemonTableColumns(state))
      : 'no queue read yet (the first tick has not finished)',
  );
  const held = state.queues.filter((queue) => queue.held);
  if (held.length > 0) {
    lines.push('held below the recommendation:');
    for (const queue of held) {
      const hold = queue.held as QueueHold;
      lines.push(
        `  ${queue.name} ${describeHold(hold, state.now - hold.since)}: ${hold.reason || 'no policy edit lowered it'}`,
      );
    }
  }
  // Changes and holds together, by their last tick (a daemon before holds has none).
  const recent = [...state.decisions, ...(state.holds ?? [])]
    .sort((a, b) => (a.until ?? a.at) - (b.until ?? b.at))
    .slice(-decisions);
  if (recent.length > 0) {
    lines.push('recent decisions:');
    for (const decision of recent) lines.push(`  ${describeDecision(decision)}`);
  }
  return lines.join('\n');
}

export function describeDecision(decision: DecisionRecord): string {
  const clock = new Date(decision.at).toTimeString().slice(0, 8);
  if (decision.direction === 'hold' && decision.held) {
    const forMs = (decision.until ?? decision.at) - decision.at;
    return `${clock} ${decision.queue} ${describeHold(decision.held, forMs)}: ${decision.held.reason}`;
  }
  const edits = decision.edits.map((edit) => `${edit.policy}: ${edit.why}`).join('; ');
  const asked = decision.held ? ` (asked ${decision.held.recommended})` : '';
  return `${clock} ${decision.queue} ${decision.direction} ${decision.from} -> ${decision.to}${asked}: ${decision.recommendation.reason}${memberNeeds(decision)}${edits ? ` [${edits}]` : ''}`;
}

/** A worker group's decision: what each member queue needed (its term), " (high 3, default 1)". */
function memberNeeds(decision: DecisionRecord): string {
  const { members } = decision.recommendation as { members?: { queue: string; workers: number }[] };
  if (!members || members.length === 0) return '';
  return ` (needs: ${members.map((member) => `${member.queue} ${member.workers}`).join(', ')})`;
}

/** "held at 1 (asked 70) by fair-share for 40s". */
export function describeHold(hold: QueueHold, forMs: number): string {
  const by = hold.by.length > 0 ? ` by ${hold.by.join(', ')}` : '';
  const lasting = forMs >= 1_000 ? ` for ${formatDuration(forMs)}` : '';
  return `held at ${hold.decided} (asked ${hold.recommended})${by}${lasting}`;
}

function hostLine(state: DaemonState): string {
  const { resources, capacity } = state;
  if (!resources) return 'host: not read yet';
  const cores = (value: number | null) => (value === null ? '?' : value.toFixed(2));
  const gib = (value: number | null) => (value === null ? '?' : (value / 2 ** 30).toFixed(1));
  const room = capacity
    ? `; room for ${plural(capacity.maxWorkers, 'worker')} (limited by ${capacity.limiter})`
    : '';
  return `host (${resources.source}): cpu ${cores(resources.cpu.usedCores)} of ${cores(resources.cpu.limitCores)} cores, memory ${gib(resources.memory.usedBytes)} of ${gib(resources.memory.limitBytes)} GiB${room}`;
}

/**
 * "fleet: host-b of 3 hosts, 6 workers; leader host-a (term 4)", then one line per member:
 * its live workers and how many it can hold.
 */
export function fleetLines(fleet: FleetState): string[] {
  const workers = fleet.members.reduce((sum, member) => sum + member.workers, 0);
  const leader =
    fleet.leader === null
      ? 'leader unknown (Redis cannot be read: workers kept as they are)'
      : `leader ${fleet.leader}${fleet.leader === fleet.id ? ' (this host)' : ''} (term ${fleet.term})`;
  return [
    `fleet: ${fleet.id} of ${plural(fleet.members.length, 'host')}, ${plural(workers, 'worker')}; ${leader}`,
    ...[...fleet.members]
      .sort((a, b) => a.id.localeCompare(b.id))
      .map(
        (member) =>
          `  ${member.id}${member.id === fleet.leader ? ' *' : ''}: ${plural(member.workers, 'worker')}, room for ${member.capacity}`,
      ),
  ];
}
