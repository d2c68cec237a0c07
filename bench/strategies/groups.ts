// Worker groups (issue 16): every group scenario run as one pool per group and, the same queues
// and jobs, as a pool per queue; five seeds each, through the simulator (the daemon's
// interfaces: member snapshots -> GroupScalingContext -> createGroupStrategy -> policy pipeline).
// Usage: tsx strategies/groups.ts [--strategy x,y] [--seeds N]
import { parseArgs } from 'node:util';
import {
  GROUP_SCENARIO_NAMES,
  groupScenarios,
  type SimulationResult,
  separatePools,
  simulate,
} from '@qscale/simulator';
import { machine, markdownTable } from '../lib/measure.js';

const { values } = parseArgs({
  options: {
    strategy: { type: 'string', default: 'predictive,erlang-drain,laravel-hybrid' },
    seeds: { type: 'string', default: '5' },
  },
});
const strategies = (values.strategy ?? '').split(',');
const seeds = Array.from({ length: Number(values.seeds) }, (_, i) => i + 1);
const pct = (share: number) => `${(share * 100).toFixed(2)} %`;
const mean = (runs: SimulationResult[], f: (r: SimulationResult) => number) =>
  runs.reduce((sum, r) => sum + f(r), 0) / runs.length;

const started = performance.now();
const rows: Record<string, string | number>[] = [];
const shares: Record<string, string | number>[] = [];
for (const name of GROUP_SCENARIO_NAMES) {
  const trace = groupScenarios[name]?.trace;
  if (!trace) throw new Error(`unknown group scenario ${name}`);
  for (const strategy of strategies) {
    const grouped = seeds.map((seed) => simulate(trace, { strategy, seed, series: false }));
    const separate = seeds.map((seed) =>
      simulate(separatePools(trace), { strategy, seed, series: false }),
    );
    const perQueue = (runs: SimulationResult[]) =>
      trace.queues
        .map((q, i) => {
          const average = mean(runs, (r) => r.queues[i]?.sloAttainment ?? 0);
          const worst = Math.min(...runs.map((r) => r.queues[i]?.sloAttainment ?? 0));
          return `${q.name} ${pct(average)} (worst ${pct(worst)})`;
        })
        .join('; ');
    const groupedWs = mean(grouped, (r) => r.total.workerSeconds);
    const separateWs = mean(separate, (r) => r.total.workerSeconds);
    const busy = mean(grouped, (r) => r.total.busySeconds);
    rows.push({
      scenario: name,
      strategy,
      'SLO met per queue, group': perQueue(grouped),
      'SLO met per queue, separate pools': perQueue(separate),
      'worker-s group': Math.round(groupedWs),
      'worker-s separate': Math.round(separateWs),
      'group / separate': (groupedWs / separateWs).toFixed(3),
      'busy-s': Math.round(busy),
      'peak workers group / separate': `${mean(grouped, (r) => r.groups[0]?.peakWorkers ?? 0).toFixed(1)} / ${mean(
        separate,
        (r) => r.queues.reduce((sum, q) => sum + q.peakWorkers, 0),
      ).toFixed(1)}`,
    });
    // What the decision records say about each member's share of the pool (seed 1).
    const first = grouped[0]?.groups[0];
    for (const member of first?.members ?? []) {
      shares.push({
        scenario: name,
        strategy,
        queue: member.queue,
        'share of pickups when backlogged': member.share.toFixed(3),
        'mean need (workers)': member.meanNeed.toFixed(2),
        'ticks its need set the pool': member.decidingTicks,
      });
    }
  }
}
const elapsedS = (performance.now() - started) / 1_000;
console.log(`${machine()}; ${seeds.length} seeds; ${elapsedS.toFixed(1)} s\n`);
console.log(markdownTable(rows));
console.log();
console.log(markdownTable(shares));
