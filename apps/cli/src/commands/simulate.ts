import { writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { isQscaleError, type Strategy } from '@qscale/contracts';
import {
  chartHtml,
  chartSvg,
  GROUP_SCENARIO_NAMES,
  groupScenarios,
  loadTrace,
  SCENARIO_NAMES,
  type Scenario,
  type SimulationResult,
  scenarios,
  separatePools,
  simulate,
  type Trace,
} from '@qscale/simulator';
import { loadStrategy, STRATEGY_NAMES } from '@qscale/strategies';
import Table from 'cli-table3';
import { closest, UsageError } from '../internal/args.js';
import { formatDuration } from '../internal/format.js';
import { type CliIo, EXIT, type ExitCode, line } from '../internal/io.js';
import type { SimulateArgs } from '../specs/simulate.js';

/** Runs simulating at least this much time in total report their progress on stderr. */
const PROGRESS_MIN_SIMULATED_MS = 6 * 3_600_000;

export async function run({ values }: SimulateArgs, io: CliIo): Promise<ExitCode> {
  if (values.list) {
    listScenarios(io, values.json);
    return EXIT.ok;
  }
  if ((values.scenario === undefined) === (values.trace === undefined)) {
    throw new UsageError(
      'give exactly one of --scenario NAME or --trace FILE (qscale simulate --list shows the scenarios)',
    );
  }
  const seed = values.seed;
  const chart = values.chart;
  if (chart !== undefined && !['.svg', '.html'].includes(extname(chart).toLowerCase())) {
    throw new UsageError(`--chart ${chart}: expected a file name ending in .svg or .html`);
  }
  const trace =
    values.scenario !== undefined
      ? scenarioTrace(values.scenario)
      : await loadTrace(values.trace as string);
  const asked = [
    { name: values.strategy, flag: '--strategy' },
    ...values.compare.map((name) => ({ name, flag: '--compare' })),
  ].filter(({ name }, i, all) => all.findIndex((other) => other.name === name) === i);
  const names = asked.map(({ name }) => name);
  const strategies = await Promise.all(asked.map(({ name, flag }) => resolveStrategy(name, flag)));

  const grouped = (trace.groups ?? []).length > 0;
  if (values.separate && !grouped) {
    throw new UsageError(
      `--separate: trace "${trace.name}" has no worker groups to run as separate pools`,
    );
  }
  // With --separate, each strategy runs twice: the groups as they are, then a pool per queue.
  const runs = strategies.flatMap((strategy, i) => {
    const name = names[i] as string;
    const asIs = { strategy, name, trace };
    if (!values.separate) return [asIs];
    return [asIs, { strategy, name: `${name} (separate pools)`, trace: separatePools(trace) }];
  });
  const showProgress = trace.durationMs * runs.length >= PROGRESS_MIN_SIMULATED_MS;
  const results: SimulationResult[] = runs.map((run, i) => {
    const { name } = run;
    if (showProgress)
      line(io.stderr, `simulating ${name} on ${trace.name} (${i + 1}/${runs.length})`);
    let reported = 0;
    const result = simulate(run.trace, {
      strategy: run.strategy,
      seed,
      series: chart !== undefined,
      onProgress: (done) => {
        const quarter = Math.floor(done * 4);
        if (!showProgress || quarter <= reported || quarter >= 4) return;
        reported = quarter;
        line(
          io.stderr,
          `  ${name}: ${quarter * 25}% of ${formatDuration(trace.durationMs)} simulated`,
        );
      },
    });
    return { ...result, strategy: name };
  });

  if (chart !== undefined) {
    const content =
      extname(chart).toLowerCase() === '.html' ? chartHtml(results) : chartSvg(results);
    await writeFile(chart, content);
  }
  if (values.json) {
    line(io.stdout, JSON.stringify(toJson(trace, seed, results, chart), null, 2));
    return EXIT.ok;
  }
  printReport(io, trace, seed, results);
  if (chart !== undefined) line(io.stdout, `chart written to ${chart}`);
  return EXIT.ok;
}

function scenarioTrace(name: string): Trace {
  const scenario = scenarios[name] ?? groupScenarios[name];
  if (!scenario) {
    throw new UsageError(
      `--scenario ${name}: unknown scenario; expected one of ${[...SCENARIO_NAMES, ...GROUP_SCENARIO_NAMES].join(', ')}`,
    );
  }
  return scenario.trace;
}

/**
 * A built-in strategy by its exact name, or a strategy package / file resolved from the
 * current folder. Nothing is guessed: `hybrid` is not `laravel-hybrid`, it is suggested.
 */
async function resolveStrategy(name: string, flag: string): Promise<string | Strategy<unknown>> {
  if ((STRATEGY_NAMES as readonly string[]).includes(name)) return name;
  try {
    return await loadStrategy(name, { fromDir: process.cwd() });
  } catch (error) {
    if (!isQscaleError(error, 'STRATEGY_NOT_FOUND')) throw error;
    const near = closest(name, STRATEGY_NAMES);
    const builtIn = `not a built-in strategy${near ? ` (did you mean ${near}?)` : ''}; expected one of ${STRATEGY_NAMES.join(', ')}`;
    // A bare word nobody installed is almost always a mistyped built-in name: say only that.
    const notInstalled = /is not installed/.test(error.message);
    throw new UsageError(
      notInstalled
        ? `${flag} ${name}: ${builtIn}, or an installed strategy package, or a ./file.js`
        : `${flag} ${name}: ${builtIn}; as a strategy package or file: ${error.message}`,
    );
  }
}

function listScenarios(io: CliIo, json: boolean): void {
  const describe = (scenario: Scenario, groups: boolean) => ({
    name: scenario.name,
    summary: scenario.summary,
    origin: scenario.origin,
    steady: scenario.steady,
    feasible: scenario.feasible,
    groups,
  });
  const list = [
    ...SCENARIO_NAMES.map((name) => describe(scenarios[name] as Scenario, false)),
    ...GROUP_SCENARIO_NAMES.map((name) => describe(groupScenarios[name] as Scenario, true)),
  ];
  if (json) {
    line(io.stdout, JSON.stringify(list, null, 2));
    return;
  }
  const width = Math.max(...list.map((s) => s.name.length));
  for (const s of list) line(io.stdout, `${s.name.padEnd(width)}  ${s.summary}`);
}

const percent = (share: number) => `${(share * 100).toFixed(2)}%`;
const seconds = (ms: number) => `${(ms / 1_000).toFixed(1)}s`;

function printReport(io: CliIo, trace: Trace, seed: number, results: SimulationResult[]): void {
  const tick = formatDuration(trace.tickMs ?? 2_000);
  line(
    io.stdout,
    `${trace.name}: ${formatDuration(trace.durationMs)} simulated, tick ${tick}, seed ${seed}`,
  );
  if (trace.description) line(io.stdout, trace.description);
  const queueNames = results[0]?.queues.map((q) => q.queue) ?? [];
  for (const [index, queueName] of queueNames.entries()) {
    const queueTrace = trace.queues[index];
    const slo = queueTrace?.slo ?? { pickupMs: 30_000, percentile: 95 };
    line(io.stdout);
    line(
      io.stdout,
      `queue ${queueName} (SLO: p${slo.percentile} pickup <= ${formatDuration(slo.pickupMs)})`,
    );
    const table = newTable(results);
    const row = (label: string, cell: (q: SimulationResult['queues'][number]) => string) => {
      table.push([label, ...results.map((r) => (r.queues[index] ? cell(r.queues[index]) : '-'))]);
    };
    row('jobs', (q) => String(q.jobs));
    row('picked up within SLO', (q) => percent(q.sloAttainment));
    row(
      'wait p50 / p95 / p99',
      (q) => `${seconds(q.waitMs.p50)} / ${seconds(q.waitMs.p95)} / ${seconds(q.waitMs.p99)}`,
    );
    row('worst wait', (q) => seconds(q.waitMs.max));
    row('worker-seconds', (q) => String(Math.round(q.workerSeconds)));
    row('busy-seconds (least possible)', (q) => String(Math.round(q.busySeconds)));
    row('worker / busy', (q) =>
      q.busySeconds > 0 ? (q.workerSeconds / q.busySeconds).toFixed(2) : '-',
    );
    row('scale-ups / downs', (q) => `${q.scaleUps} / ${q.scaleDowns}`);
    row('peak workers', (q) => String(q.peakWorkers));
    line(io.stdout, table.toString());
  }
  printGroups(io, trace, results);
  if (queueNames.length > 1) {
    line(io.stdout);
    line(io.stdout, 'all queues');
    const table = newTable(results);
    table.push(['picked up within SLO', ...results.map((r) => percent(r.total.sloAttainment))]);
    table.push([
      'worker-seconds',
      ...results.map((r) => String(Math.round(r.total.workerSeconds))),
    ]);
    table.push(['scale events', ...results.map((r) => String(r.total.scaleEvents))]);
    line(io.stdout, table.toString());
  }
}

/**
 * Per worker group: the pool's cost, and from the decision records what each member needed of
 * it (mean need, ticks its need set the pool's size, its share of the pickups when backlogged).
 * A member queue's worker-seconds above are its share of the pool's, by busy time.
 */
function printGroups(io: CliIo, trace: Trace, results: SimulationResult[]): void {
  for (const group of trace.groups ?? []) {
    line(io.stdout);
    line(
      io.stdout,
      `group ${group.name} (${group.discipline.kind}: ${group.queues.join(', ')}; a member's worker-seconds above are its share of the pool's)`,
    );
    const table = newTable(results);
    const find = (r: SimulationResult) => r.groups.find((g) => g.group === group.name);
    const row = (label: string, cell: (g: SimulationResult['groups'][number]) => string) => {
      table.push([label, ...results.map((r) => (find(r) ? cell(find(r) as never) : '-'))]);
    };
    row('worker-seconds', (g) => String(Math.round(g.workerSeconds)));
    row('worker / busy', (g) =>
      g.busySeconds > 0 ? (g.workerSeconds / g.busySeconds).toFixed(2) : '-',
    );
    row('peak workers', (g) => String(g.peakWorkers));
    row('scale-ups / downs', (g) => `${g.scaleUps} / ${g.scaleDowns}`);
    for (const [k, queue] of group.queues.entries()) {
      row(`${queue}: mean need / ticks deciding`, (g) => {
        const member = g.members[k];
        return member ? `${member.meanNeed.toFixed(1)} / ${member.decidingTicks}` : '-';
      });
    }
    line(io.stdout, table.toString());
  }
}

/** A side-by-side table, one column per strategy, without rules between rows. */
function newTable(results: SimulationResult[]): InstanceType<typeof Table> {
  return new Table({
    head: ['', ...results.map((r) => r.strategy)],
    style: { head: [], border: [] },
    colAligns: ['left', ...results.map(() => 'right' as const)],
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
}

function toJson(
  trace: Trace,
  seed: number,
  results: SimulationResult[],
  chart: string | undefined,
) {
  return {
    trace: trace.name,
    durationMs: trace.durationMs,
    seed,
    chart: chart ?? null,
    runs: results.map((result) => ({
      strategy: result.strategy,
      total: result.total,
      queues: result.queues.map(({ series: _series, ...queue }) => queue),
      groups: result.groups,
    })),
  };
}
