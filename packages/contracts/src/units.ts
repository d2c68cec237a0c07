import { z } from 'zod';

// Units are part of the contract: durations in milliseconds end in `Ms`, rates are per
// second, sizes in bytes end in `Bytes`, timestamps are epoch milliseconds.

/** A timestamp: milliseconds since the Unix epoch. */
export const epochMsSchema = z.number().int().nonnegative();
/** A duration in milliseconds. */
export const durationMsSchema = z.number().nonnegative();
/** A count of jobs or workers. */
export const countSchema = z.number().int().nonnegative();
/** A rate in events (jobs) per second. */
export const ratePerSecondSchema = z.number().nonnegative();
/** A size in bytes. */
export const bytesSchema = z.number().nonnegative();
/** A share of CPU time in cores (1 = one core fully busy). */
export const coresSchema = z.number().nonnegative();
