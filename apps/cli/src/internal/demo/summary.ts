import type { StopSummary } from '@qscale/process-supervisor';
import Table from 'cli-table3';
import { formatDuration } from '../format.js';
import type { DemoQueueResult, DemoResult, HoldSpan } from './recorder.js';

/** Spans shown per queue in the summary; the chart shows them all. */
const SPANS_SHOWN = 3;

/** The demo's closing summary: the figures per queue, then what held the workers back. */
export function demoSummary(result: DemoResult, stopped: StopSummary | null): string {
  const table = new Table({
    head: [
      'queue',
      'jobs',
      'SLO met',
      'p95 pickup',
      'SLO',
      'worker-s',
      'busy-s',
      'scale up/down',
      'peak workers',
    ],
    colAligns: ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    style: { head: [], border: [], compact: true },
  });
  for (const queue of result.queues) {
    table.push([
      queue.queue,
      queue.jobs,
      `${(queue.sloAttainment * 100).toFixed(1)}%`,
      formatDuration(queue.waitMs.p95),
      `p${queue.slo.percentile} <= ${formatDuration(queue.slo.pickupMs)}`,
      Math.round(queue.workerSeconds),
      Math.round(queue.busySeconds),
      `${queue.scaleUps}/${queue.scaleDowns}`,
      queue.peakWorkers,
    ]);
  }
  const stop = stopped
    ? `stopped ${stopped.stopped} workers gracefully${stopped.escalated > 0 ? ` (${stopped.escalated} needed SIGKILL)` : ''}`
    : 'no workers to stop';
  return [
    `done in ${formatDuration(result.durationMs)}: ${result.total.jobs} jobs, ${(result.total.sloAttainment * 100).toFixed(1)}% picked up within their SLO; ${stop}`,
    table.toString(),
    'worker-s: seconds of worker processes alive; busy-s: seconds jobs ran (per unit of concurrency), the least the work needed',
    ...heldLines(result.queues),
    result.capacityNote,
    ...costLines(result.queues),
  ].join('\n');
}

/** What held each queue below its strategy's recommendation, longest first. */
export function heldLines(queues: readonly DemoQueueResult[]): string[] {
  const held = queues.filter((queue) => queue.holds.length > 0);
  if (held.length === 0) {
    return [
      "what held the workers back: nothing, every decision reached the strategy's recommendation",
    ];
  }
  const lines = ["what held the workers below the strategy's recommendation:"];
  for (const queue of held) {
    const total = queue.holds.reduce((sum, span) => sum + span.toMs - span.fromMs, 0);
    lines.push(
      `  ${queue.queue}: held for ${formatDuration(total)} in ${queue.holds.length} span${queue.holds.length === 1 ? '' : 's'}`,
    );
    const longest = [...queue.holds]
      .sort((a, b) => b.toMs - b.fromMs - (a.toMs - a.fromMs))
      .slice(0, SPANS_SHOWN);
    for (const span of longest) lines.push(`    ${describeSpan(span)}`);
    if (queue.holds.length > SPANS_SHOWN) {
      lines.push(`    and ${queue.holds.length - SPANS_SHOWN} shorter spans (all on the chart)`);
    }
  }
  return lines;
}

/** "by fair-share for 40s (0s-40s): asked up to 70, allowed 1: <reason>". */
export function describeSpan(span: HoldSpan): string {
  const allowed =
    span.allowedMin === span.allowedMax
      ? `${span.allowedMin}`
      : `${span.allowedMin}-${span.allowedMax}`;
  const by = span.by.length > 0 ? span.by.join(' + ') : 'no policy edit';
  return `by ${by} for ${formatDuration(span.toMs - span.fromMs)} (${seconds(span.fromMs)}-${seconds(span.toMs)}): asked up to ${span.askedMax}, allowed ${allowed}; ${span.reason}`;
}

/** The per-worker cost the daemon used for each queue, and where it came from. */
export function costLines(queues: readonly DemoQueueResult[]): string[] {
  const costs = queues.flatMap((queue) =>
    queue.cost
      ? [
          `${queue.queue} ${queue.cost.cpuCoresPerWorker.toFixed(3)} cores (${queue.cost.cpuFrom}), ${Math.round(queue.cost.memoryBytesPerWorker / 2 ** 20)} MiB (${queue.cost.memoryFrom})`,
        ]
      : [],
  );
  return costs.length > 0 ? [`cost of one worker: ${costs.join('; ')}`] : [];
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1_000)}s`;
}
