import type { Logger, SnapshotError } from '@qscale/contracts';
import { keySlot, SLOTS } from './cluster-layout.js';
import {
  type Command,
  Connection,
  classifyRedisError,
  commandOf,
  type RedisLink,
  type Reply,
  type Sendable,
} from './connection.js';
import type { ResolvedOptions, ResolvedRedis } from './options.js';
import { parseRedisUrl, redactedUrl } from './redis-url.js';

/** A reply redirected more often than this keeps the redirection as its error. */
const MAX_REDIRECTIONS = 3;

/**
 * A Redis Cluster behind the same interface as one connection. A tick's commands are grouped
 * by the master that owns each key's slot: one pipeline per master, all sent at once, so a
 * tick costs one round trip of wall time (plus one when a slot moved). Queues whose keys share
 * a hash tag (`{bull}`, `{default}`) are read from one master in one pipeline. MOVED updates
 * the slot map (and reloads it, from `CLUSTER SLOTS`, before the next tick); ASK sends
 * `ASKING` and the command to the importing node for that reply only.
 */
export class ClusterConnection implements RedisLink {
  readonly label: string;
  private readonly nodes = new Map<string, Connection>();
  /** Owner ("host:port") of each slot; empty until the map is read. */
  private owners: (string | undefined)[] = [];
  private stale = true;
  private readonly seed: string;

  constructor(
    private readonly redis: ResolvedRedis,
    private readonly options: ResolvedOptions,
    private readonly logger: Logger,
  ) {
    this.label = redactedUrl(redis);
    const url = parseRedisUrl(redis.url ?? '');
    this.seed = url ? `${url.host}:${url.port}` : '127.0.0.1:6379';
  }

  get receivedBytes(): number {
    let total = 0;
    for (const node of this.nodes.values()) total += node.receivedBytes;
    return total;
  }

  async exec(commands: readonly Sendable[]): Promise<Reply[]> {
    if (commands.length === 0) return [];
    if (this.stale) await this.loadSlots();
    const replies: Reply[] = new Array(commands.length);
    let pending = commands.map((command, index) => ({
      index,
      command,
      node: this.ownerOf(command),
    }));
    for (let round = 0; pending.length > 0; round++) {
      const byNode = new Map<string, { index: number; command: Sendable; asking: boolean }[]>();
      for (const item of pending) {
        const list = byNode.get(item.node) ?? [];
        list.push({ index: item.index, command: item.command, asking: 'asking' in item });
        byNode.set(item.node, list);
      }
      const redirected: { index: number; command: Sendable; node: string; asking?: true }[] = [];
      await Promise.all(
        [...byNode].map(async ([node, items]) => {
          const sent: Sendable[] = [];
          for (const item of items) {
            if (item.asking) sent.push(['asking']);
            sent.push(item.command);
          }
          let answers: Reply[];
          try {
            answers = await this.node(node).exec(sent);
          } catch (error) {
            // That master's queues fail; the others are read. Its slots may have moved.
            this.stale = true;
            for (const item of items) replies[item.index] = error;
            return;
          }
          let at = 0;
          for (const item of items) {
            if (item.asking) at++;
            const answer = answers[at++];
            replies[item.index] = answer;
            const moved = redirection(answer);
            if (!moved || round >= MAX_REDIRECTIONS) continue;
            if (moved.kind === 'MOVED') {
              this.owners[moved.slot] = moved.node;
              this.stale = true;
              redirected.push({ index: item.index, command: item.command, node: moved.node });
            } else {
              redirected.push({
                index: item.index,
                command: item.command,
                node: moved.node,
                asking: true,
              });
            }
          }
        }),
      );
      pending = redirected;
    }
    return replies;
  }

  async call(command: Command): Promise<unknown> {
    const [reply] = await this.exec([command]);
    if (reply instanceof Error) throw reply;
    return reply;
  }

  /** Every master, for SCAN (keys live on the master that owns their slot). */
  async scanTargets(): Promise<RedisLink[]> {
    await this.loadSlots();
    const masters = new Set(this.owners.filter((owner): owner is string => owner !== undefined));
    return [...masters].map((owner) => this.node(owner));
  }

  describe(error: Error): SnapshotError {
    return { code: classifyRedisError(error), message: `Redis at ${this.label}: ${error.message}` };
  }

  async close(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((node) => node.close()));
  }

  private ownerOf(sendable: Sendable): string {
    const key = keyOf(commandOf(sendable));
    return (key === null ? undefined : this.owners[keySlot(key)]) ?? this.seed;
  }

  private node(address: string): Connection {
    let node = this.nodes.get(address);
    if (!node) {
      const scheme = parseRedisUrl(this.redis.url ?? '')?.tls ? 'rediss' : 'redis';
      node = new Connection(
        { ...this.redis, url: `${scheme}://${address}`, db: null, cluster: false },
        this.options,
        this.logger,
      );
      this.nodes.set(address, node);
    }
    return node;
  }

  /** Reads the slot map from the first node that answers: the seed, then every known one. */
  private async loadSlots(): Promise<void> {
    const candidates = [this.seed, ...new Set(this.owners.filter((o): o is string => !!o))];
    const reasons: string[] = [];
    for (const address of new Set(candidates)) {
      try {
        const reply = await this.node(address).call(['cluster', 'slots']);
        this.owners = slotOwners(reply, address);
        this.stale = false;
        return;
      } catch (error) {
        reasons.push(`${address}: ${(error as Error).message}`);
      }
    }
    throw new Error(`could not read the cluster slot map (${reasons.join('; ')})`);
  }
}

/** `CLUSTER SLOTS`: `[start, end, [host, port, id, ...], replicas...]` per range. */
function slotOwners(reply: unknown, asked: string): (string | undefined)[] {
  if (!Array.isArray(reply)) throw new Error('CLUSTER SLOTS gave no slot ranges');
  const owners: (string | undefined)[] = new Array(SLOTS);
  const askedHost = asked.slice(0, asked.lastIndexOf(':'));
  for (const range of reply as unknown[][]) {
    const [start, end, master] = range as [number, number, unknown[]];
    // An empty host means "the node you asked" (cluster-preferred-endpoint-type unknown-endpoint).
    const host = String(master[0] ?? '') || askedHost;
    const owner = `${host}:${Number(master[1])}`;
    for (let slot = Number(start); slot <= Number(end); slot++) owners[slot] = owner;
  }
  return owners;
}

function redirection(reply: Reply): { kind: 'MOVED' | 'ASK'; slot: number; node: string } | null {
  if (!(reply instanceof Error)) return null;
  const match = /^(MOVED|ASK) (\d+) (\S+)$/.exec(reply.message);
  if (!match) return null;
  return { kind: match[1] as 'MOVED' | 'ASK', slot: Number(match[2]), node: match[3] as string };
}

/** The key a reader command reads (the reader only sends single-key reads), or null. */
export function keyOf(command: Command): string | null {
  const name = command[0].toLowerCase();
  if (name === 'memory' || name === 'xinfo' || name === 'object') {
    return command[2] === undefined ? null : String(command[2]);
  }
  if (KEYLESS.has(name)) return null;
  return command[1] === undefined ? null : String(command[1]);
}

const KEYLESS = new Set(['scan', 'ping', 'role', 'info', 'cluster', 'client', 'auth', 'select']);
