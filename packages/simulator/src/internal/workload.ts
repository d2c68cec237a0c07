import type { Arrivals, Service } from '../trace.js';
import type { Random } from './rng.js';

/** Arrival times (ms, ascending) of one queue over [0, durationMs). */
export function arrivalTimes(
  arrivals: Arrivals,
  durationMs: number,
  interpolation: 'linear' | 'step',
  random: Random,
): Float64Array {
  if (arrivals.kind === 'replay') {
    return Float64Array.from(arrivals.timestampsMs.filter((t) => t < durationMs));
  }
  const points =
    typeof arrivals.rate === 'number' ? [{ atMs: 0, perSecond: arrivals.rate }] : arrivals.rate;
  const out: number[] = [];
  // Segments: before the first point its rate holds, after the last point too.
  const first = points[0] as { atMs: number; perSecond: number };
  const segments: { from: number; to: number; r0: number; r1: number }[] = [];
  if (first.atMs > 0)
    segments.push({ from: 0, to: first.atMs, r0: first.perSecond, r1: first.perSecond });
  for (let i = 0; i < points.length; i++) {
    const point = points[i] as { atMs: number; perSecond: number };
    const next = points[i + 1];
    const to = next ? next.atMs : durationMs;
    const r1 = next && interpolation === 'linear' ? next.perSecond : point.perSecond;
    if (to > point.atMs) segments.push({ from: point.atMs, to, r0: point.perSecond, r1 });
  }
  for (const { from, to, r0, r1 } of segments) {
    const end = Math.min(to, durationMs);
    const peak = Math.max(r0, r1);
    if (!(peak > 0) || end <= from) continue;
    const meanGapMs = 1_000 / peak;
    // Thinning (Lewis-Shedler): candidates at the peak rate, kept with probability r(t) / peak.
    for (
      let t = from + random.exponential(meanGapMs);
      t < end;
      t += random.exponential(meanGapMs)
    ) {
      const rate = r0 + ((r1 - r0) * (t - from)) / (to - from);
      if (r0 === r1 || random.uniform() * peak <= rate) out.push(t);
    }
  }
  return Float64Array.from(out);
}

/** One service time per job, ms. */
export function serviceTimes(service: Service, count: number, random: Random): Float64Array {
  const out = new Float64Array(count);
  switch (service.kind) {
    case 'constant':
      out.fill(service.ms);
      break;
    case 'exponential':
      for (let i = 0; i < count; i++) out[i] = random.exponential(service.meanMs);
      break;
    case 'lognormal': {
      // mean = exp(mu + sigma^2 / 2)
      const mu = Math.log(service.meanMs) - (service.sigma * service.sigma) / 2;
      for (let i = 0; i < count; i++) out[i] = Math.exp(mu + service.sigma * random.normal());
      break;
    }
  }
  return out;
}
