import { hostname } from 'node:os';
import { z } from 'zod';
import { duration, text } from './fields.js';

// The `cluster` section: a fleet of hosts sharing its queues through the Redis they already
// use (src/fleet/). Self-contained: schema.ts only places it and calls resolveCluster.

/** Defaults of the `cluster` section. */
export const CLUSTER_DEFAULTS = {
  /** @defaultValue false */
  enabled: false,
  /** How long the leader's lease and each member's heartbeat live unrenewed. @defaultValue 10 s */
  leaseTtlMs: 10_000,
  /** Prefix of the fleet's Redis keys. @defaultValue `qscale:fleet` */
  keyPrefix: 'qscale:fleet',
} as const;

export interface ClusterConfig {
  enabled: boolean;
  /** This host's name in the fleet; the hostname unless set. */
  id: string;
  /** The leader's lease and members' heartbeats expire after this long unrenewed, ms. */
  leaseTtlMs: number;
  /** Prefix of the fleet's keys in the top-level `redis`. */
  keyPrefix: string;
}

const ID_EXPECTED = 'expected a host id of letters, digits, ".", "_", "-" or ":"';

export const clusterSchema = z.strictObject({
  enabled: z.boolean({ error: 'expected true or false' }).optional(),
  id: z
    .string({ error: ID_EXPECTED })
    .max(200, `${ID_EXPECTED}, at most 200 characters`)
    .regex(/^[A-Za-z0-9._:-]+$/, ID_EXPECTED)
    .optional(),
  leaseTtl: duration({ minMs: 1_000, maxMs: 300_000 }).optional(),
  keyPrefix: text('a key prefix for the fleet').optional(),
});

type Report = (path: (string | number)[], message: string) => void;

/**
 * Completes the section from the defaults. A lease shorter than two ticks would expire
 * between the renewals of a healthy leader: refused.
 */
export function resolveCluster(
  input: z.output<typeof clusterSchema> | undefined,
  tickMs: number,
  report: Report,
): ClusterConfig {
  const resolved: ClusterConfig = {
    enabled: input?.enabled ?? CLUSTER_DEFAULTS.enabled,
    id: input?.id ?? hostname(),
    leaseTtlMs: input?.leaseTtl ?? CLUSTER_DEFAULTS.leaseTtlMs,
    keyPrefix: input?.keyPrefix ?? CLUSTER_DEFAULTS.keyPrefix,
  };
  if (resolved.enabled && resolved.leaseTtlMs < 2 * tickMs) {
    report(
      ['cluster', 'leaseTtl'],
      `a lease of ${resolved.leaseTtlMs} ms is shorter than two ticks (tick is ${tickMs} ms): the leader could not renew it in time; set leaseTtl to at least ${2 * tickMs} ms`,
    );
  }
  return resolved;
}
