import { writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { isQscaleError, type Strategy } from '@qscale/contracts';
import {
  chartHtml,
  chartSvg,
  loadTrace,
  SCENARIO_NAMES,
  type SimulationResult,
  scenarios,
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

  const showProgress = trace.durationMs * strategies.length >= PROGRESS_MIN_SIMULATED_MS;
  const results: SimulationResult[] = strategies.map((strategy, i) => {
    const name = names[i] as string;
    if (showProgress)
      line(io.stderr, `simulating ${name} on ${trace.name} (${i + 1}/${strategies.length})`);
    let reported = 0;
    return simulate(trace, {
      strategy,
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
  const scenario = scenarios[name];
  if (!scenario) {
    throw new UsageError(
      `--scenario ${name}: unknown scenario; expected one of ${SCENARIO_NAMES.join(', ')}`,
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
  const list = SCENARIO_NAMES.map((name) => {
    const scenario = scenarios[name];
    return {
      name,
      summary: scenario?.summary ?? '',
      origin: scenario?.origin ?? 'qscale',
      steady: scenario?.steady ?? false,
      feasible: scenario?.feasible ?? true,
    };
  });
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
    })),
  };
}
