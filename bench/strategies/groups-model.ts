// The group sizing model against the simulation (issue 16): for each discipline and load mix,
// the pool size `groupSteadyState` gives (N), then a fixed pool of N and of N - 1 workers in the
// simulator for an hour of Poisson arrivals and exponential jobs; per member, the share of jobs
// that waited longer than its SLO (the target is 5 %, p95).
// Usage: tsx strategies/groups-model.ts
import type { GroupDiscipline } from '@qscale/contracts';
import { simulate } from '@qscale/simulator';
import { groupSteadyState } from '@qscale/strategies';
import { machine, markdownTable } from '../lib/measure.js';

interface Member {
  name: string;
  rate: number;
  serviceMs: number;
  pickupMs: number;
}
const MIXES: Member[][] = [
  [
    { name: 'a', rate: 1.5, serviceMs: 500, pickupMs: 2_000 },
    { name: 'b', rate: 4, serviceMs: 1_000, pickupMs: 20_000 },
  ],
  [
    { name: 'a', rate: 4, serviceMs: 1_000, pickupMs: 5_000 },
    { name: 'b', rate: 2, serviceMs: 2_000, pickupMs: 10_000 },
  ],
  [
    { name: 'a', rate: 6, serviceMs: 500, pickupMs: 1_000 },
    { name: 'b', rate: 3, serviceMs: 1_000, pickupMs: 5_000 },
    { name: 'c', rate: 0.5, serviceMs: 4_000, pickupMs: 60_000 },
  ],
];

function disciplines(members: number): GroupDiscipline[] {
  return [
    { kind: 'priority' },
    { kind: 'weighted', weights: Array.from({ length: members }, (_, i) => members - i) },
    { kind: 'round-robin' },
  ];
}

function missed(mix: Member[], discipline: GroupDiscipline, workers: number): number[] {
  const result = simulate(
    {
      name: 'model-check',
      durationMs: 3_600_000,
      queues: mix.map((m) => ({
        name: m.name,
        arrivals: { kind: 'poisson', rate: m.rate },
        service: { kind: 'exponential', meanMs: m.serviceMs },
        slo: { pickupMs: m.pickupMs, percentile: 95 },
      })),
      groups: [
        {
          name: 'pool',
          queues: mix.map((m) => m.name),
          discipline,
          workers: { min: workers, max: workers, initial: workers },
        },
      ],
    },
    { strategy: 'fixed', strategyOptions: { workers }, series: false },
  );
  return result.queues.map((q) => 1 - q.sloAttainment);
}

const started = performance.now();
const rows: Record<string, string | number>[] = [];
for (const mix of MIXES) {
  for (const discipline of disciplines(mix.length)) {
    const model = groupSteadyState(
      discipline,
      mix.map((m) => ({
        arrivalRate: m.rate,
        serviceTimeMs: m.serviceMs,
        pickupMs: m.pickupMs,
        percentile: 95,
      })),
    );
    const pct = (values: number[]) => values.map((v) => `${(v * 100).toFixed(2)}`).join(' / ');
    const atN = missed(mix, discipline, model.workers);
    const below = missed(mix, discipline, model.workers - 1);
    rows.push({
      mix: mix
        .map((m) => `${m.name} ${m.rate}/s x ${m.serviceMs} ms, ${m.pickupMs / 1_000} s`)
        .join('; '),
      discipline:
        discipline.kind === 'weighted'
          ? `weighted ${discipline.weights.join(':')}`
          : discipline.kind,
      'N (model)': model.workers,
      'model miss % at N': pct(model.perMember.map((p) => p.predictedMiss)),
      'simulated miss % at N': pct(atN),
      'simulated miss % at N-1': pct(below),
      'every member within 5 % at N': atN.every((v) => v <= 0.05) ? 'yes' : 'NO',
    });
  }
}
const elapsedS = (performance.now() - started) / 1_000;
console.log(`${machine()}; ${elapsedS.toFixed(1)} s\n`);
console.log(markdownTable(rows));
