import { readdir } from 'node:fs/promises';
import { isLive, type ProcStat, readStat } from './proc.js';

/*
 * Why a /proc walk and not a cgroup per pool: a cgroup is the kernel's own answer (nothing
 * escapes it, `cgroup.kill` is atomic), but it needs a writable, delegated cgroup v2 tree
 * (root, or systemd's Delegate=), which containers, cgroup v1 and hybrid hosts do not give,
 * and Node cannot spawn straight into a cgroup (no clone3 CLONE_INTO_CGROUP): moving the
 * worker after spawn races with its first fork. The walk below works for any user on any
 * Linux with /proc. Its one blind spot is a process that leaves the session (setsid) and
 * loses its parent between two scans, the classic daemon double fork done in under
 * `scanMs`: it is known to nobody; systemd's cgroup or a container's PID namespace remains
 * the backstop for that one (see the README's limits).
 */

/** A process of a worker's tree, known by PID and start time: a reused PID is another process. */
export interface TreeMember {
  pid: number;
  startTicks: number;
  ppid: number;
  pgid: number;
  sid: number;
}

/** The worker whose tree is tracked. */
export interface TrackedRoot {
  pid: number;
  /** Null while unknown (a spawned worker's is read later; it is our child meanwhile). */
  startTicks: number | null;
  /** Spawned by us (its PID cannot be reused before its exit event), not adopted. */
  isChild: boolean;
  queue: string;
  worker: string;
}

/**
 * A full read of every process every this many scans, and after a pause this long: a PID
 * remembered as an outsider can only name a new process once it was free at some scan, unless
 * the PIDs wrapped around between two scans, which takes far longer than a second but not
 * than a pause of minutes (`treeScanMs: 0` walks only at stops).
 */
const FULL_SCAN_EVERY = 120;
const FULL_SCAN_AFTER_MS = 10_000;

/**
 * One worker's process tree: its descendants (remembered by PID and start time, so one
 * re-parented to init after its parent died is still known) and the process groups they are
 * in. Created by {@link ProcessTree.track}; updated by every scan.
 */
export class Family {
  readonly rootPid: number;
  /** Null while unknown: a spawned worker is our child, alive until its exit is handled. */
  readonly rootStartTicks: number | null;
  /** A spawned worker (true) cannot have its PID reused before its exit event; an adopted one can. */
  readonly rootIsChild: boolean;
  /** The worker's queue and id, for logs. */
  readonly queue: string;
  readonly worker: string;
  /** Set by {@link ProcessTree.rootExited}: only the worker's descendants are left. */
  rootExited = false;
  /**
   * Scans started before the exit still count the worker as the parent of what they read: a
   * child read before the exit was its child, and is the tree's.
   */
  exitedAfterScans = Number.POSITIVE_INFINITY;
  /** Live descendants at the last scan. */
  readonly members = new Map<number, TreeMember>();
  /**
   * Process groups of the live processes of the tree at the last scan (the root's own while it
   * lives). Every one of them lies inside a session the worker or a descendant created, so
   * signalling them reaches no outsider; and `kill(-pgid)` also reaches a child forked since
   * the scan (the kernel holds a fork back while a group signal is delivered).
   */
  groups: number[] = [];

  constructor(root: TrackedRoot) {
    this.rootPid = root.pid;
    this.queue = root.queue;
    this.worker = root.worker;
    this.rootStartTicks = root.startTicks;
    this.rootIsChild = root.isChild;
  }
}

/**
 * Finds the descendants of every tracked worker by walking /proc: parent links from the
 * worker and from every descendant already known, plus the sessions and process groups of
 * live known processes (a PID stays reserved while any process uses it as its group or
 * session id, so such a match can never be a recycled number). One walk serves every worker
 * of the supervisor; it runs every `scanMs` while any worker lives (so a child that outlives
 * its parent is seen before it is re-parented) and before every stop signal.
 *
 * A scan is incremental: processes found outside every tree are remembered by PID and not
 * read again (a process never becomes a descendant later); only new PIDs and known members
 * are read, plus everything every {@link FULL_SCAN_EVERY}th scan. All reads are asynchronous.
 */
export class ProcessTree {
  readonly #scanMs: number;
  readonly #onError: (error: unknown) => void;
  readonly #onFound: (family: Family, member: TreeMember) => void;
  readonly #families = new Set<Family>();
  /** PIDs read at an earlier scan and found in no tree, with their start ticks. */
  readonly #outside = new Map<number, number>();
  #timer: NodeJS.Timeout | null = null;
  #current: Promise<void> | null = null;
  #next: Promise<void> | null = null;
  #nextVerifies = false;
  #scans = 0;
  #lastScanAt = Number.NEGATIVE_INFINITY;
  /** Figures of the last scan, for the benchmark and debugging. */
  lastScan = { listed: 0, read: 0, full: false, verified: false, durationMs: 0 };

  constructor(options: {
    scanMs: number;
    onError: (error: unknown) => void;
    /** A new descendant was found (for a debug log). */
    onFound?: (family: Family, member: TreeMember) => void;
  }) {
    this.#scanMs = options.scanMs;
    this.#onError = options.onError;
    this.#onFound = options.onFound ?? (() => {});
  }

  /** Starts tracking the tree of the worker `pid` (spawned, or adopted with its start time). */
  track(root: TrackedRoot): Family {
    const family = new Family(root);
    this.#outside.delete(root.pid);
    this.#families.add(family);
    this.#arm();
    return family;
  }

  /** The worker of `family` has exited (and been reaped): its PID no longer names it. */
  rootExited(family: Family): void {
    family.rootExited = true;
    family.exitedAfterScans = Math.min(family.exitedAfterScans, this.#scans);
  }

  /** Stops tracking a tree (its worker exited and its leftovers were killed). */
  untrack(family: Family): void {
    this.#families.delete(family);
    if (this.#families.size === 0 && this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
  }

  /**
   * Resolves after a scan that started after this call (concurrent callers share scans).
   * `verify` (before a signal) reads every known descendant again, for its start time and its
   * current group; a periodic scan trusts a known PID that is still listed (and the group it had
   * when last read), and reads only PIDs it has not seen.
   */
  scan(options: { verify?: boolean } = {}): Promise<void> {
    const verify = options.verify ?? false;
    if (!this.#current) {
      this.#current = this.#run(verify).finally(() => {
        this.#current = null;
      });
      return this.#current;
    }
    this.#nextVerifies ||= verify;
    this.#next ??= this.#current.then(() => {
      const verifies = this.#nextVerifies;
      this.#next = null;
      this.#nextVerifies = false;
      return this.scan({ verify: verifies });
    });
    return this.#next;
  }

  #arm(): void {
    if (this.#timer || this.#scanMs <= 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.scan().then(() => {
        if (this.#families.size > 0) this.#arm();
      });
    }, this.#scanMs);
    // Periodic scans never keep the daemon alive; stops await their own scans.
    this.#timer.unref();
  }

  /** One walk of /proc. Never rejects: a failure is reported and the next scan tries again. */
  async #run(verify: boolean): Promise<void> {
    const started = performance.now();
    try {
      const scan = this.#scans++;
      const full = scan % FULL_SCAN_EVERY === 0 || started - this.#lastScanAt > FULL_SCAN_AFTER_MS;
      this.#lastScanAt = started;
      const listed = await listPids();
      for (const pid of this.#outside.keys()) if (!listed.has(pid)) this.#outside.delete(pid);
      const ownChildren = new Set<number>();
      for (const family of this.#families) {
        if (family.rootIsChild && scan < family.exitedAfterScans) ownChildren.add(family.rootPid);
      }
      const known = new Set<number>();
      for (const family of this.#families) for (const pid of family.members.keys()) known.add(pid);
      const toRead: number[] = [];
      for (const pid of listed) {
        if (pid === process.pid || ownChildren.has(pid)) continue;
        if (!full && this.#outside.has(pid)) continue;
        if (!full && !verify && known.has(pid)) continue;
        toRead.push(pid);
      }
      const stats = new Map<number, ProcStat>();
      await Promise.all(
        toRead.map(async (pid) => {
          const stat = await readStat(pid);
          if (stat) stats.set(pid, stat);
        }),
      );
      const trusted = full || verify ? new Set<number>() : listed;
      const claimed = updateAll(this.#families, stats, trusted, scan, this.#onFound);
      for (const [pid, stat] of stats) {
        if (!claimed.has(pid)) this.#outside.set(pid, stat.startTicks);
      }
      this.lastScan = {
        listed: listed.size,
        read: toRead.length,
        full,
        verified: full || verify,
        durationMs: performance.now() - started,
      };
    } catch (error) {
      this.#onError(error);
    }
  }
}

async function listPids(): Promise<Set<number>> {
  const pids = new Set<number>();
  for (const name of await readdir('/proc')) {
    const first = name.charCodeAt(0);
    if (first >= 48 && first <= 57) pids.add(Number(name));
  }
  return pids;
}

/** Never a tree's group or session: the kernel's, init's, or this process's own. */
function isForeign(id: number): boolean {
  return id <= 1 || id === process.pid;
}

interface Reach {
  family: Family;
  groups: Set<number>;
}

/** Which tree a live PID, a session and a group belong to, during one scan. */
interface Owners {
  claimed: Set<number>;
  byPid: Map<number, Reach>;
  bySession: Map<number, Reach>;
  byGroup: Map<number, Reach>;
}

/**
 * Brings the trees up to date from one scan's reads: first drops members that died (or whose
 * PID now names another process) from every tree, then adds, until nothing changes, every
 * unclaimed live process whose parent is a live process of a tree or whose session or group
 * is one of theirs. Returns the PIDs that belong to a tree.
 */
function updateAll(
  families: Iterable<Family>,
  stats: Map<number, ProcStat>,
  trusted: Set<number>,
  scan: number,
  onFound: (family: Family, member: TreeMember) => void,
): Set<number> {
  const owners: Owners = {
    claimed: new Set(),
    byPid: new Map(),
    bySession: new Map(),
    byGroup: new Map(),
  };
  const reaches: Reach[] = [];
  for (const family of families) reaches.push(refresh(family, stats, trusted, scan, owners));
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, stat] of stats) {
      if (owners.claimed.has(pid) || pid <= 1 || stat.state === 'Z' || stat.state === 'X') continue;
      const reach =
        owners.byPid.get(stat.ppid) ??
        owners.bySession.get(stat.sid) ??
        owners.byGroup.get(stat.pgid);
      if (!reach) continue;
      const member = {
        pid,
        startTicks: stat.startTicks,
        ppid: stat.ppid,
        pgid: stat.pgid,
        sid: stat.sid,
      };
      reach.family.members.set(pid, member);
      onFound(reach.family, member);
      include(reach, owners, pid, stat.pgid, stat.sid);
      grew = true;
    }
  }
  for (const reach of reaches) reach.family.groups = [...reach.groups];
  return owners.claimed;
}

function include(reach: Reach, owners: Owners, pid: number, pgid: number, sid: number): void {
  owners.claimed.add(pid);
  owners.byPid.set(pid, reach);
  if (!isForeign(pgid)) {
    reach.groups.add(pgid);
    if (!owners.byGroup.has(pgid)) owners.byGroup.set(pgid, reach);
  }
  if (!isForeign(sid) && !owners.bySession.has(sid)) owners.bySession.set(sid, reach);
}

/** The root (while it lives) and the members still alive, with their groups and sessions. */
function refresh(
  family: Family,
  stats: Map<number, ProcStat>,
  trusted: Set<number>,
  scan: number,
  owners: Owners,
): Reach {
  const reach: Reach = { family, groups: new Set() };
  if (scan < family.exitedAfterScans) {
    if (family.rootIsChild) {
      // Spawned detached: the worker leads its own session and group.
      include(reach, owners, family.rootPid, family.rootPid, family.rootPid);
    } else {
      const stat = stats.get(family.rootPid) ?? null;
      if (isLive(stat) && stat.startTicks === family.rootStartTicks) {
        include(reach, owners, family.rootPid, stat.pgid, stat.sid);
      }
    }
  }
  for (const [pid, member] of family.members) {
    const stat = stats.get(pid) ?? null;
    if (stat === null && trusted.has(pid)) {
      // Not read again (a periodic scan): still listed, so still taken by this process, or by
      // its zombie; the next verified scan reads it.
      include(reach, owners, pid, member.pgid, member.sid);
      continue;
    }
    if (!isLive(stat) || stat.startTicks !== member.startTicks) {
      family.members.delete(pid);
      continue;
    }
    Object.assign(member, { ppid: stat.ppid, pgid: stat.pgid, sid: stat.sid });
    include(reach, owners, pid, stat.pgid, stat.sid);
  }
  return reach;
}
