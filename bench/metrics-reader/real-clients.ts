/**
 * metrics-reader against the real clients (issue 12): every system in
 * packages/metrics-reader/test/real/systems.ts run through the accuracy harness (Poisson
 * arrivals, one real worker, a snapshot every 2 s as the daemon takes it), one after the other.
 *
 *   npx pnpm@10.34.8 --filter @qscale/bench run real-clients [system ...]
 *
 * Environment: RATE (jobs/s, default 3), SERVICE_MS (200), DURATION_MS (45000), SEED (12).
 * Prints the Markdown table for bench/RESULTS.md ("metrics-reader: real clients"): for each
 * system, whether the counts were exact at every tick, the worst rate errors, run time and
 * pickups read vs true (at the last tick compared), and the reader's mean cost per tick.
 */
import { loadavg } from 'node:os';
import {
  type AccuracyResult,
  type FigureReport,
  runAccuracy,
} from '../../packages/metrics-reader/test/real/harness.js';
import { SYSTEMS } from '../../packages/metrics-reader/test/real/systems.js';
import { machine, markdownTable } from '../lib/measure.js';

const RATE = Number(process.env.RATE ?? 3);
const SERVICE_MS = Number(process.env.SERVICE_MS ?? 200);
const DURATION_MS = Number(process.env.DURATION_MS ?? 45_000);
const SEED = Number(process.env.SEED ?? 12);

const wanted = process.argv.slice(2);
const unknownNames = wanted.filter((name) => !SYSTEMS.some((system) => system.name === name));
if (unknownNames.length > 0) {
  throw new Error(
    `unknown system ${unknownNames.join(', ')}; known: ${SYSTEMS.map((s) => s.name).join(', ')}`,
  );
}

/** "yes", "unknown (why)", or "no (k of n ticks off, worst ±e)". */
function exact(report: FigureReport): string {
  if (report.status === 'unknown') return 'unknown';
  const ambiguous = report.ambiguous ? `, ${report.ambiguous} within the slack` : '';
  if (report.status === 'pass') return `yes (${report.compared} ticks${ambiguous})`;
  if (report.compared === 0) return 'null, no reason';
  return `no: ${report.failed}/${report.compared} off (worst ${signed(report.worstError ?? 0)})`;
}

function rateError(report: FigureReport): string {
  if (report.status === 'unknown') return 'unknown';
  if (report.compared === 0) return 'null, no reason';
  const worst = `${signed((report.worstError ?? 0) * 100, 1)} %`;
  return report.failed > 0 ? `${worst} (${report.failed}/${report.compared} over 10 %)` : worst;
}

function readVsTrue(report: FigureReport): string {
  if (report.status === 'unknown') return 'unknown';
  if (report.compared === 0) return 'null, no reason';
  const text = `${report.read} / ${report.truth}`;
  return report.failed > 0 ? `${text} (${report.failed}/${report.compared} off)` : text;
}

function signed(value: number, digits = 0): string {
  return `${value > 0 ? '+' : ''}${value.toFixed(digits)}`;
}

function row(result: AccuracyResult): Record<string, string | number> {
  const f = result.figures;
  return {
    system: result.system,
    version: result.version,
    jobs: result.jobs,
    'pending exact': exact(f.pending),
    'active exact': exact(f.active),
    'delayed exact': exact(f.delayed),
    'arrival rate error (worst)': rateError(f.arrivalRate),
    'completion rate error (worst)': rateError(f.completionRate),
    'mean run ms read / true': readVsTrue(f.serviceTimeMean),
    'pickup p50 ms read / true': readVsTrue(f.pickupP50),
    'pickup p95 ms read / true': readVsTrue(f.pickupP95),
    'commands / tick': result.costPerTick.commands,
    'bytes / tick': result.costPerTick.receivedBytes,
    'ms / tick': result.costPerTick.durationMs,
    problems: result.problems.length,
  };
}

const results: AccuracyResult[] = [];
const loadBefore = loadavg().map((value) => value.toFixed(2));
for (const system of SYSTEMS.filter((s) => wanted.length === 0 || wanted.includes(s.name))) {
  process.stderr.write(`running ${system.name} for ${DURATION_MS} ms...\n`);
  results.push(
    await runAccuracy(system, {
      rate: RATE,
      serviceMs: SERVICE_MS,
      durationMs: DURATION_MS,
      seed: SEED,
    }),
  );
}
const loadAfter = loadavg().map((value) => value.toFixed(2));

console.log(
  `Poisson arrivals at ${RATE}/s for ${DURATION_MS / 1000} s (seed ${SEED}), jobs of ${SERVICE_MS} ms, one worker, a snapshot every 2 s with the daemon's reader options. Counts: exact when equal to the truth at some instant of the read, at every tick ("within the slack": ticks at which a job's transition fell within the system's slack of the read, so the truth allowed two values). Rates: worst error over the ticks after 30 s. Run time and pickups: read / true at the last tick (truth over the same jobs).`,
);
console.log(
  `Machine: ${machine()}; load average (1/5/15 min) ${loadBefore.join(' ')} before, ${loadAfter.join(' ')} after.`,
);
console.log('');
console.log(markdownTable(results.map(row)));
for (const result of results) {
  for (const problem of result.problems) console.log(`- ${result.system}: ${problem}`);
  for (const report of Object.values(result.figures)) {
    if (report.reason)
      console.log(`- ${result.system}: ${report.figure} unknown: ${report.reason}`);
  }
}
