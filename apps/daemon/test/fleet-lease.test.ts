import {
  connectRedis,
  deleteKeys,
  startPrivateRedis,
  uniquePrefix,
  waitFor,
} from '@qscale/testkit';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { ClusterConfig } from '../src/config/cluster.js';
import { Fleet } from '../src/fleet/fleet.js';
import { acquireOrRenew, fencedSet, fleetKeys } from '../src/fleet/lease.js';

// The lease and its fencing against a real Redis: one holder at a time, terms that only grow,
// a deposed leader's writes refused, a silent member dropped when its heartbeat expires.

const redis = connectRedis();
const prefixes: string[] = [];
const clients: ReturnType<typeof connectRedis>[] = [];
afterEach(async () => {
  for (const prefix of prefixes.splice(0)) await deleteKeys(redis, `{${prefix}}:*`);
  for (const client of clients.splice(0)) client.disconnect();
});
afterAll(() => redis.quit());

function keysFor(label: string) {
  const prefix = uniquePrefix(label).slice(0, -1);
  prefixes.push(prefix);
  return { prefix, keys: fleetKeys(prefix) };
}

function client() {
  const made = connectRedis();
  clients.push(made);
  return made;
}

describe('fleet lease', () => {
  it('has one holder at a time; the others see it and its term', async () => {
    const { keys } = keysFor('lease-one');
    const first = await acquireOrRenew(redis, keys, 'a', 5_000);
    const second = await acquireOrRenew(redis, keys, 'b', 5_000);
    expect(first).toEqual({ leader: 'a', term: 1 });
    expect(second).toEqual({ leader: 'a', term: 1 });
    // Renewing keeps the term.
    expect(await acquireOrRenew(redis, keys, 'a', 5_000)).toEqual({ leader: 'a', term: 1 });
  });

  it("refuses a deposed leader's writes once another host took the lease", async () => {
    const { keys } = keysFor('lease-fence');
    const old = await acquireOrRenew(redis, keys, 'a', 5_000);
    expect(await fencedSet(redis, keys, old, keys.assignment, 'from a')).toBe(true);
    // a stalls past its lease (expired here at once); b takes over with a higher term.
    await redis.del(keys.leader);
    const next = await acquireOrRenew(redis, keys, 'b', 5_000);
    expect(next).toEqual({ leader: 'b', term: 2 });
    // a still believes it leads: its write is refused, b's goes through.
    expect(await fencedSet(redis, keys, old, keys.assignment, 'late from a')).toBe(false);
    expect(await redis.get(keys.assignment)).toBe('from a');
    expect(await fencedSet(redis, keys, next, keys.assignment, 'from b')).toBe(true);
    expect(await redis.get(keys.assignment)).toBe('from b');
  });

  it('refuses a write with the right holder but an earlier term', async () => {
    const { keys } = keysFor('lease-term');
    const first = await acquireOrRenew(redis, keys, 'a', 5_000);
    await redis.del(keys.leader);
    const again = await acquireOrRenew(redis, keys, 'a', 5_000);
    expect(again.term).toBeGreaterThan(first.term);
    expect(await fencedSet(redis, keys, first, keys.assignment, 'stale')).toBe(false);
    expect(await redis.exists(keys.assignment)).toBe(0);
  });
});

describe('fleet membership', () => {
  // Expiry is simulated by deleting keys: a lease or heartbeat must not lapse on its own while
  // a slow machine runs the test (with 1 s, a stall of a second between two syncs would let
  // another host take the lease, or drop a member, and the shares asserted would differ).
  const cluster = (prefix: string, id: string): ClusterConfig => ({
    enabled: true,
    id,
    leaseTtlMs: 60_000,
    keyPrefix: prefix,
  });
  const counts = (running: number) => ({
    q: { running, starting: 0, stopping: 0, concurrency: 1 },
  });

  it('the leader splits its total across members; a silent member loses its share', async () => {
    const { prefix } = keysFor('fleet-members');
    const logger = { debug() {}, info() {}, warn() {}, error() {} };
    const fleets = ['a', 'b', 'c'].map(
      (id) => new Fleet({ cluster: cluster(prefix, id), logger, client: client() }),
    );
    const [a, b, c] = fleets as [Fleet, Fleet, Fleet];
    for (const fleet of fleets) expect(await fleet.sync(16, counts(0))).toBe(true);
    expect(a.isLeader).toBe(true);
    expect(b.isLeader || c.isLeader).toBe(false);
    // The leader sees all three (b and c heart-beat after its first sync: once more).
    await a.sync(16, counts(0));
    expect(
      a
        .state()
        .members.map((member) => member.id)
        .sort(),
    ).toEqual(['a', 'b', 'c']);
    expect(await a.publish([{ name: 'q', total: 6, max: 6 }], Date.now())).toBe(true);
    for (const fleet of fleets) {
      await fleet.sync(16, counts(0));
      expect(fleet.share('q')).toBe(2);
      fleet.markApplied();
    }
    // c goes silent: its heartbeat key expires (what its TTL does; deleted here, no waiting).
    await redis.del(fleetKeys(prefix).member('c'));
    await b.sync(16, counts(2));
    await a.sync(16, counts(2));
    expect(await a.publish([{ name: 'q', total: 6, max: 6 }], Date.now())).toBe(true);
    await a.sync(16, counts(2));
    expect(a.share('q')).toBe(3);
    expect(
      a
        .state()
        .members.map((member) => member.id)
        .sort(),
    ).toEqual(['a', 'b']);
    await b.sync(16, counts(2));
    expect(b.share('q')).toBe(3);
    expect(b.state().leader).toBe('a');
    for (const fleet of fleets) await fleet.close();
  });

  it('writes a new assignment only when a share or total changes', async () => {
    const { prefix } = keysFor('fleet-seq');
    const logger = { debug() {}, info() {}, warn() {}, error() {} };
    const fleets = ['c', 'a', 'b'].map(
      (id) => new Fleet({ cluster: cluster(prefix, id), logger, client: client() }),
    );
    const [leader] = fleets as [Fleet];
    for (const fleet of [...fleets, leader]) await fleet.sync(16, counts(0));
    const seqOf = async () =>
      JSON.parse((await redis.get(fleetKeys(prefix).assignment)) ?? '{}').seq as number;
    expect(await leader.publish([{ name: 'q', total: 3, max: 6 }], Date.now())).toBe(true);
    const first = await seqOf();
    // Every host reconciles and reports; the same total again changes nothing.
    for (const fleet of fleets) {
      await fleet.sync(16, counts(1));
      fleet.markApplied();
    }
    for (const fleet of [...fleets, leader]) await fleet.sync(16, counts(1));
    expect(await leader.publish([{ name: 'q', total: 3, max: 6 }], Date.now())).toBe(true);
    expect(await seqOf()).toBe(first);
    expect(await leader.publish([{ name: 'q', total: 6, max: 6 }], Date.now())).toBe(true);
    expect(await seqOf()).toBe(first + 1);
    for (const fleet of fleets) await fleet.close();
  });

  it("a deposed leader's assignment is refused and the one in force stays", async () => {
    const { prefix } = keysFor('fleet-deposed');
    const logger = { debug() {}, info() {}, warn() {}, error() {} };
    const a = new Fleet({ cluster: cluster(prefix, 'a'), logger, client: client() });
    const b = new Fleet({ cluster: cluster(prefix, 'b'), logger, client: client() });
    await a.sync(16, counts(0));
    await b.sync(16, counts(0));
    await a.sync(16, counts(0));
    expect(await a.publish([{ name: 'q', total: 4, max: 4 }], Date.now())).toBe(true);
    // a's lease lapses and b takes it before a writes again.
    const keys = fleetKeys(prefix);
    await redis.del(keys.leader);
    await b.sync(16, counts(0));
    expect(b.isLeader).toBe(true);
    const before = await redis.get(keys.assignment);
    expect(await a.publish([{ name: 'q', total: 1, max: 4 }], Date.now())).toBe(false);
    expect(await redis.get(keys.assignment)).toBe(before);
    expect(a.isLeader).toBe(false);
    await a.close();
    await b.close();
  });

  it('a host that loses Redis keeps the assignment it read and changes nothing until Redis is back', async () => {
    const server = await startPrivateRedis();
    const settings = {
      url: server.url,
      username: null,
      password: null,
      db: null,
      tls: null,
      sentinel: null,
      cluster: false,
    };
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (msg: string) => warnings.push(msg), error() {} };
    const fleet = new Fleet({ cluster: cluster('lost', 'a'), redis: settings, logger });
    try {
      expect(await fleet.sync(16, counts(0))).toBe(true);
      expect(await fleet.publish([{ name: 'q', total: 3, max: 6 }], Date.now())).toBe(true);
      expect(fleet.share('q')).toBe(3);
      await server.stop();
      expect(await fleet.sync(16, counts(3))).toBe(false);
      // Its share stays what it read; the daemon applies nothing while sync fails.
      expect(fleet.share('q')).toBe(3);
      expect(fleet.isLeader).toBe(false);
      expect(fleet.state()).toMatchObject({ leader: null, term: null });
      expect(warnings).toEqual(['fleet: cannot reach Redis; keeping the workers as they are']);
      await server.start();
      // Back: it reads again (ioredis reconnects on its own) and leads once more.
      await waitFor(() => fleet.sync(16, counts(3)), { timeoutMs: 20_000, what: 'Redis back' });
      expect(fleet.isLeader).toBe(true);
    } finally {
      await fleet.close();
      await server.stop();
    }
  });
});
