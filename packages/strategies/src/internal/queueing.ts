// Queueing theory used by the predictive strategy. Units: rates in jobs per second, times in
// milliseconds, loads in erlangs (busy slots), servers are worker slots (workers x concurrency).

/**
 * Little's Law: busy slots L = lambda x W, with lambda in jobs/s and W the mean service time.
 * Returns 0 for a rate or a time that is zero or negative (nothing to serve).
 */
export function littlesLawSlots(arrivalRate: number, serviceTimeMs: number): number {
  if (!(arrivalRate > 0) || !(serviceTimeMs > 0)) return 0;
  return (arrivalRate * serviceTimeMs) / 1_000;
}

/**
 * Erlang C: the probability that an arriving job has to wait, for `servers` slots and an
 * offered load `a` = lambda x S in erlangs. 1 when `servers <= a` (the queue is unstable).
 * Computed through the Erlang B recursion B(k) = a B(k-1) / (k + a B(k-1)), which is stable
 * for thousands of servers, then C = c B / (c - a (1 - B)).
 */
export function erlangC(servers: number, offeredLoad: number): number {
  if (!(offeredLoad > 0)) return 0;
  if (servers <= offeredLoad) return 1;
  let blocking = 1;
  for (let k = 1; k <= servers; k++)
    blocking = (offeredLoad * blocking) / (k + offeredLoad * blocking);
  return (servers * blocking) / (servers - offeredLoad * (1 - blocking));
}

export interface PercentileSizing {
  /** Jobs arriving per second. */
  arrivalRate: number;
  /** Mean service time of one job, in milliseconds. */
  serviceTimeMs: number;
  /** The wait the SLO allows, in milliseconds. */
  waitMs: number;
  /** Share of jobs (0-100) that must wait at most `waitMs`. */
  percentile: number;
  /**
   * Allen-Cunneen variability factor (Ca^2 + Cs^2) / 2: 1 for Poisson arrivals and exponential
   * service times; larger for heavier-tailed service, which slows the decay of the wait tail.
   */
  variability: number;
  /** Stop searching here (the most slots the queue could ever get). */
  maxServers: number;
}

/**
 * The smallest number of slots c > a with P(wait > t) = C(c, a) x exp(-(c - a) t / (S v))
 * <= 1 - percentile / 100: Erlang C for M/M/c, with the exponent divided by the Allen-Cunneen
 * factor v for general service times (M/G/c). Never below Little's Law (c > a). Returns
 * `maxServers` when even that many slots would not meet the target.
 */
export function slotsForPercentile(sizing: PercentileSizing): number {
  const load = littlesLawSlots(sizing.arrivalRate, sizing.serviceTimeMs);
  if (load === 0) return 0;
  const allowed = Math.max(1e-9, 1 - sizing.percentile / 100);
  const cap = Math.max(1, Math.ceil(sizing.maxServers));
  let blocking = 1;
  for (let servers = 1; servers <= cap; servers++) {
    blocking = (load * blocking) / (servers + load * blocking);
    if (servers <= load) continue;
    const waitProbability = (servers * blocking) / (servers - load * (1 - blocking));
    const decay = ((servers - load) * sizing.waitMs) / (sizing.serviceTimeMs * sizing.variability);
    if (waitProbability * Math.exp(-decay) <= allowed) return servers;
  }
  return cap;
}

/**
 * Squared coefficient of variation of a lognormal service time with the given mean and p95,
 * as used by the Allen-Cunneen factor. ln(p95 / mean) = 1.645 sigma - sigma^2 / 2, solved for
 * the smaller root; Cs^2 = exp(sigma^2) - 1. Returns 1 (exponential) when p95 / mean is not
 * informative, and never less than 0.
 */
export function serviceVariability(meanMs: number, p95Ms: number): number {
  if (!(meanMs > 0) || !(p95Ms > 0)) return 1;
  const ratio = Math.log(p95Ms / meanMs);
  const z = 1.6448536;
  // sigma^2 / 2 - z sigma + ratio = 0  ->  sigma = z - sqrt(z^2 - 2 ratio)
  const discriminant = z * z - 2 * ratio;
  const sigma = discriminant <= 0 ? z : z - Math.sqrt(discriminant);
  if (sigma <= 0) return 0;
  return Math.exp(sigma * sigma) - 1;
}
