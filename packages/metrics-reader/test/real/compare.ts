/**
 * The comparison half of the real-client harness (see harness.ts for the criteria): every
 * figure of every tick against what the jobs recorded.
 */
import type { QueueSnapshot } from '@qscale/contracts';

export type CountFigure = 'pending' | 'active' | 'delayed';
export type Figure =
  | CountFigure
  | 'arrivalRate'
  | 'completionRate'
  | 'serviceTimeMean'
  | 'pickupP50'
  | 'pickupP95';
const COUNTS: readonly Figure[] = ['pending', 'active', 'delayed'];
export const FIGURES: readonly Figure[] = [
  'pending',
  'active',
  'delayed',
  'arrivalRate',
  'completionRate',
  'serviceTimeMean',
  'pickupP50',
  'pickupP95',
];

export interface TruthRecord {
  id: string;
  enqueuedAt: number;
  startedAt: number;
  finishedAt: number;
}

export interface FigureReport {
  figure: Figure;
  status: 'pass' | 'fail' | 'unknown';
  /** Ticks at which the figure was compared (non-null reads). */
  compared: number;
  /** Of those, ticks outside the criterion. */
  failed: number;
  /** At the last compared tick (or the last tick): what the reader said and the truth. */
  read: number | null;
  truth: number | null;
  /** Largest error over the compared ticks: relative for rates, ms for durations, jobs for counts. */
  worstError: number | null;
  /** Why the figure is unknown (status 'unknown'). */
  reason?: string;
  /** Counts: ticks at which the truth allowed more than one value during the read. */
  ambiguous?: number;
}

export interface TickCost {
  commands: number;
  receivedBytes: number;
  durationMs: number;
}

/** What the comparison needs to know of a system (a subset of `RealSystem`). */
export interface ComparedSystem {
  name: string;
  unknown?: Partial<Record<Figure, string>>;
  transitionSlackMs?: number;
  ratesSeededFromHistory?: boolean;
}

export interface Comparison {
  jobs: number;
  ticks: number;
  figures: Record<Figure, FigureReport>;
  costPerTick: TickCost;
  problems: string[];
}

export interface Tick {
  calledAt: number;
  returnedAt: number;
  snapshot: QueueSnapshot;
  cost: TickCost;
}

/** Offsets (ms) of a Poisson process of `rate`/s over `durationMs`, from a seeded generator. */
export interface CompareSettings {
  tickMs: number;
  settleMs: number;
  rateWindowMs: number;
  windowMs: number;
}

class FigureTally {
  compared = 0;
  failed = 0;
  read: number | null = null;
  truth: number | null = null;
  worst: number | null = null;
  nulls = 0;
  ambiguous = 0;

  record(read: number, truth: number, error: number, ok: boolean): void {
    this.compared++;
    if (!ok) this.failed++;
    this.read = read;
    this.truth = truth;
    if (this.worst === null || Math.abs(error) > Math.abs(this.worst)) this.worst = error;
  }
}

export function compare(
  system: ComparedSystem,
  ticks: Tick[],
  truth: TruthRecord[],
  produced: number,
  settings: CompareSettings,
): Comparison {
  const problems: string[] = [];
  if (truth.length !== produced)
    problems.push(`${truth.length} of ${produced} jobs recorded their truth before the deadline`);
  const slack = system.transitionSlackMs ?? 50;
  const tallies = Object.fromEntries(FIGURES.map((f) => [f, new FigureTally()])) as Record<
    Figure,
    FigureTally
  >;
  const firstReadAt = (ticks[0] as Tick).returnedAt;
  const miss = (figure: Figure, tick: number, text: string) =>
    problems.push(`${system.name} tick ${tick}: ${figure} ${text}`);

  ticks.forEach((tick, index) => {
    const { snapshot } = tick;
    if (snapshot.error)
      problems.push(
        `tick ${index}: snapshot error ${snapshot.error.code}: ${snapshot.error.message}`,
      );
    const settled = tick.returnedAt - firstReadAt >= settings.settleMs;
    if (process.env.QSCALE_REAL_DEBUG) {
      const { pending, active, delayed, arrivalRate, completionRate } = snapshot;
      process.stderr.write(
        `${system.name} tick ${index} +${tick.calledAt - firstReadAt} ms (${tick.returnedAt - tick.calledAt} ms): ${JSON.stringify({ pending, active, delayed, arrivalRate, completionRate, serviceTimeMs: snapshot.serviceTimeMs, pickupLatencyMs: snapshot.pickupLatencyMs })}\n`,
      );
    }
    const onNull = (figure: Figure, required: boolean) => {
      tallies[figure].nulls++;
      if (system.unknown?.[figure] === undefined && required)
        miss(figure, index, 'is null and the system declares no reason');
    };

    for (const figure of ['pending', 'active', 'delayed'] as const) {
      const value = snapshot[figure];
      if (value === null) {
        onNull(figure, true);
        continue;
      }
      const range = possibleCounts(figure, truth, tick.calledAt, tick.returnedAt, slack);
      const ok = range.some(([lo, hi]) => value >= lo && value <= hi);
      const values = new Set(range.flat());
      if (values.size > 1) tallies[figure].ambiguous++;
      const nearest = range.reduce((best, [lo, hi]) => {
        const error = value < lo ? value - lo : value > hi ? value - hi : 0;
        return Math.abs(error) < Math.abs(best) ? error : best;
      }, Number.POSITIVE_INFINITY);
      tallies[figure].record(value, range[0]?.[1] ?? 0, nearest, ok);
      if (!ok)
        miss(
          figure,
          index,
          `read ${value}, truth during the read ${[...new Set(range.map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`)))].join(' or ')}`,
        );
    }

    // Rates: the reader's window ends at the read.
    const windowStart = system.ratesSeededFromHistory
      ? tick.returnedAt - settings.rateWindowMs
      : Math.max(firstReadAt, tick.returnedAt - settings.rateWindowMs);
    const spanMs = tick.returnedAt - windowStart;
    const rates: [Figure, number | null, (r: TruthRecord) => number][] = [
      ['arrivalRate', snapshot.arrivalRate, (r) => r.enqueuedAt],
      ['completionRate', snapshot.completionRate, (r) => r.finishedAt],
    ];
    for (const [figure, value, instant] of rates) {
      if (!settled) continue;
      if (value === null) {
        onNull(figure, true);
        continue;
      }
      const count = truth.filter(
        (r) => instant(r) > windowStart && instant(r) <= tick.returnedAt,
      ).length;
      const expected = (count * 1000) / spanMs;
      const error = expected === 0 ? (value === 0 ? 0 : 1) : (value - expected) / expected;
      tallies[figure].record(value, round(expected, 3), round(error, 4), Math.abs(error) <= 0.1);
      if (Math.abs(error) > 0.1)
        miss(figure, index, `${value}/s, truth ${expected.toFixed(3)}/s (${pct(error)})`);
    }

    if (!settled) return;
    const windowFrom = tick.returnedAt - settings.windowMs;
    const runTimes = truth
      .filter((r) => r.finishedAt > windowFrom && r.finishedAt <= tick.calledAt)
      .map((r) => r.finishedAt - r.startedAt);
    const waits = truth
      .filter((r) => r.startedAt > windowFrom && r.startedAt <= tick.calledAt)
      .map((r) => r.startedAt - r.enqueuedAt);
    const durations: [Figure, number | null | undefined, number, number, number][] = [
      ['serviceTimeMean', snapshot.serviceTimeMs?.mean, mean(runTimes), 0.15, 50],
      ['pickupP50', snapshot.pickupLatencyMs?.p50, percentile(waits, 0.5), 0.25, 250],
      ['pickupP95', snapshot.pickupLatencyMs?.p95, percentile(waits, 0.95), 0.25, 250],
    ];
    for (const [figure, value, expected, relative, absolute] of durations) {
      if (value === null || value === undefined) {
        onNull(figure, true);
        continue;
      }
      const error = value - expected;
      const ok = Math.abs(error) <= Math.max(relative * expected, absolute);
      tallies[figure].record(value, round(expected, 1), round(error, 1), ok);
      if (!ok)
        miss(
          figure,
          index,
          `${value} ms, truth ${expected.toFixed(1)} ms (${error.toFixed(1)} ms)`,
        );
    }
  });

  const figures = Object.fromEntries(
    FIGURES.map((figure) => {
      const tally = tallies[figure];
      const reason = system.unknown?.[figure];
      const report: FigureReport = {
        figure,
        status:
          tally.compared === 0 ? (reason ? 'unknown' : 'fail') : tally.failed > 0 ? 'fail' : 'pass',
        compared: tally.compared,
        failed: tally.failed,
        read: tally.read,
        truth: tally.truth,
        worstError: tally.worst,
        ...(reason && tally.compared === 0 ? { reason } : {}),
        ...(COUNTS.includes(figure) ? { ambiguous: tally.ambiguous } : {}),
      };
      if (tally.compared === 0 && !reason)
        problems.push(`${system.name}: ${figure} was never compared (null at every tick)`);
      return [figure, report];
    }),
  ) as Record<Figure, FigureReport>;

  const costPerTick = {
    commands: round(mean(ticks.map((t) => t.cost.commands)), 1),
    receivedBytes: Math.round(mean(ticks.map((t) => t.cost.receivedBytes))),
    durationMs: round(mean(ticks.map((t) => t.cost.durationMs)), 2),
  };
  return { jobs: truth.length, ticks: ticks.length, figures, costPerTick, problems };
}

/**
 * The counts the truth allows at some instant in [from, to], as [lo, hi] ranges (one per
 * instant where the count may change). A job's transition happened in Redis within `slack` of
 * the instant it recorded: its enqueue after `enqueuedAt`, its pop before `startedAt`, its
 * bookkeeping after `finishedAt`.
 */
function possibleCounts(
  figure: CountFigure,
  truth: TruthRecord[],
  from: number,
  to: number,
  slack: number,
): [number, number][] {
  if (figure === 'delayed') return [[0, 0]];
  // [sure from, sure to, maybe from, maybe to]: present surely / possibly in [from, to).
  const intervals: [number, number, number, number][] = truth.map((r) =>
    figure === 'pending'
      ? [r.enqueuedAt + slack, r.startedAt - slack, r.enqueuedAt, r.startedAt]
      : [r.startedAt, r.finishedAt, r.startedAt - slack, r.finishedAt + slack],
  );
  const instants = new Set<number>([from, to]);
  for (const edges of intervals)
    for (const edge of edges) if (edge > from && edge < to) instants.add(edge);
  return [...instants].map((t) => {
    let lo = 0;
    let hi = 0;
    for (const [sureFrom, sureTo, maybeFrom, maybeTo] of intervals) {
      if (t >= sureFrom && t < sureTo) lo++;
      if (t >= maybeFrom && t < maybeTo) hi++;
    }
    return [lo, hi];
  });
}

export function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
}

function mean(values: number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function pct(ratio: number): string {
  return `${ratio >= 0 ? '+' : ''}${(ratio * 100).toFixed(1)} %`;
}
