// Every built-in strategy on every built-in scenario, five seeds each, through the simulator
// (the daemon's interfaces: snapshot -> ScalingContext -> strategy -> policy pipeline).
// Usage: tsx strategies/run.ts [--scenario a,b] [--strategy x,y] [--seeds N]
import { parseArgs } from 'node:util';
import { SCENARIO_NAMES, type SimulationResult, scenarios, simulate } from '@qscale/simulator';
import { STRATEGY_NAMES } from '@qscale/strategies';
import { machine, markdownTable } from '../lib/measure.js';
import { drainFigures } from './drain.js';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string' },
    strategy: { type: 'string' },
    seeds: { type: 'string', default: '5' },
    policies: { type: 'string' },
  },
});
const scenarioNames = values.scenario ? values.scenario.split(',') : [...SCENARIO_NAMES];
const strategyNames = values.strategy ? values.strategy.split(',') : [...STRATEGY_NAMES];
const seeds = Array.from({ length: Number(values.seeds) }, (_, i) => i + 1);
const BASELINES = ['laravel-hybrid', 'horizon', 'hpa'];
/** The simple reference predictive must not cost more than (issue 16). */
const REFERENCE = 'erlang-drain';

interface Row {
  attainment: number;
  worstAttainment: number;
  workerSeconds: number;
  busySeconds: number;
  p95WaitS: number;
  scaleEvents: number;
  /** Mean seconds to the minimum after a queue drained and stayed quiet; null: no such stretch. */
  scaleDownS: number | null;
  /** Scale-downs undone within a minute, per run. */
  flaps: number;
}

const started = performance.now();
const results = new Map<string, Map<string, Row>>();
for (const name of scenarioNames) {
  const scenario = scenarios[name];
  if (!scenario) throw new Error(`unknown scenario ${name}`);
  const byStrategy = new Map<string, Row>();
  for (const strategy of strategyNames) {
    const runs: SimulationResult[] = seeds.map((seed) =>
      simulate(scenario.trace, {
        strategy,
        seed,
        series: true,
        ...(values.policies && strategy === 'predictive'
          ? { policies: JSON.parse(values.policies) }
          : {}),
      }),
    );
    const mean = (f: (r: SimulationResult) => number) =>
      runs.reduce((sum, r) => sum + f(r), 0) / runs.length;
    byStrategy.set(strategy, {
      attainment: mean((r) => r.total.sloAttainment),
      worstAttainment: Math.min(...runs.map((r) => r.total.sloAttainment)),
      workerSeconds: mean((r) => r.total.workerSeconds),
      busySeconds: mean((r) => r.total.busySeconds),
      p95WaitS: mean((r) => Math.max(...r.queues.map((q) => q.waitMs.p95)) / 1_000),
      scaleEvents: mean((r) => r.total.scaleEvents),
      ...drainSummary(runs, scenario.trace.queues),
    });
    process.stderr.write('.');
  }
  results.set(name, byStrategy);
}
process.stderr.write('\n');
const elapsedS = (performance.now() - started) / 1_000;

function drainSummary(
  runs: SimulationResult[],
  queues: readonly { workers?: { min?: number | undefined } | undefined }[],
): { scaleDownS: number | null; flaps: number } {
  const scaleDowns: number[] = [];
  let flaps = 0;
  for (const run of runs) {
    run.queues.forEach((queue, i) => {
      if (!queue.series) return;
      const figures = drainFigures(queue.series, queues[i]?.workers?.min ?? 0);
      scaleDowns.push(...figures.scaleDownS);
      flaps += figures.flaps;
    });
  }
  const scaleDownS =
    scaleDowns.length > 0 ? scaleDowns.reduce((sum, s) => sum + s, 0) / scaleDowns.length : null;
  return { scaleDownS, flaps: flaps / runs.length };
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const rows: Record<string, string | number>[] = [];
for (const [name, byStrategy] of results) {
  for (const [strategy, row] of byStrategy) {
    rows.push({
      scenario: name,
      strategy,
      'SLO met (mean)': pct(row.attainment),
      'SLO met (worst seed)': pct(row.worstAttainment),
      'worker-s': Math.round(row.workerSeconds),
      'busy-s': Math.round(row.busySeconds),
      'worker/busy': row.workerSeconds / row.busySeconds,
      'p95 wait s': row.p95WaitS,
      'scale events': row.scaleEvents,
    });
  }
}

// predictive vs each baseline: D = dominates (attainment >= theirs, worker-s <= theirs);
// T = better trade-off (more attainment, more worker-s, and the baseline misses 99 %);
// x = neither.
const verdicts: Record<string, string | number>[] = [];
for (const [name, byStrategy] of results) {
  const p = byStrategy.get('predictive');
  if (!p) continue;
  const scenario = scenarios[name];
  const verdict: Record<string, string | number> = { scenario: name };
  for (const baseline of BASELINES) {
    const b = byStrategy.get(baseline);
    if (!b) continue;
    const attainmentOk = p.attainment >= b.attainment - 1e-9;
    const costOk = p.workerSeconds <= b.workerSeconds;
    verdict[baseline] =
      attainmentOk && costOk ? 'D' : p.attainment > b.attainment && b.attainment < 0.99 ? 'T' : 'x';
  }
  verdict['predictive >= 99 %'] = scenario?.feasible
    ? p.attainment >= 0.99
      ? 'yes'
      : 'NO'
    : 'n/a (infeasible)';
  verdict['worker/busy <= 1.35'] = scenario?.steady
    ? `${(p.workerSeconds / p.busySeconds).toFixed(3)} ${p.workerSeconds / p.busySeconds <= 1.35 ? 'yes' : 'NO'}`
    : '-';
  verdicts.push(verdict);
}

// predictive against the simple reference: cost ratio, attainment, scale-down after a drain.
const versus: Record<string, string | number>[] = [];
for (const [name, byStrategy] of results) {
  const p = byStrategy.get('predictive');
  const r = byStrategy.get(REFERENCE);
  if (!p || !r) continue;
  const seconds = (row: Row) => (row.scaleDownS === null ? '-' : row.scaleDownS.toFixed(1));
  versus.push({
    scenario: name,
    'predictive worker-s': Math.round(p.workerSeconds),
    'reference worker-s': Math.round(r.workerSeconds),
    'predictive / reference': (p.workerSeconds / r.workerSeconds).toFixed(3),
    'predictive SLO met': pct(p.attainment),
    'reference SLO met': pct(r.attainment),
    'predictive scale-down s': seconds(p),
    'reference scale-down s': seconds(r),
    'predictive flaps': p.flaps,
    'reference flaps': r.flaps,
  });
}

console.log(`${machine()}; ${seeds.length} seeds; ${elapsedS.toFixed(1)} s\n`);
console.log(markdownTable(verdicts));
console.log();
if (versus.length > 0) {
  console.log(markdownTable(versus));
  console.log();
}
console.log(markdownTable(rows, 2));
