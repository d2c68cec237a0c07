import { formatDuration } from '../format.js';
import type { DemoQueueResult, DemoResult } from './recorder.js';
import { costLines, describeSpan, heldLines } from './summary.js';

const WIDTH = 960;
const MARGIN = { left: 78, right: 24 };
const PLOT_WIDTH = WIDTH - MARGIN.left - MARGIN.right;
const PANEL_HEIGHT = 120;
const PANEL_GAP = 52;
const COLOR = {
  arrivals: '#6b7280',
  backlog: '#9333ea',
  recommended: '#ea580c',
  decided: '#2563eb',
  running: '#16a34a',
  pickup: '#0891b2',
  slo: '#dc2626',
  /** Spans held by the host's share (capacity), by the queue's bounds, by other policies. */
  holdHost: '#fca5a5',
  holdBounds: '#fde68a',
  holdOther: '#c4b5fd',
};

/** The shade of a hold span: the host's share first, as that is the one a user acts on. */
function holdColor(by: readonly string[]): string {
  if (by.includes('fair-share')) return COLOR.holdHost;
  if (by.includes('bounds')) return COLOR.holdBounds;
  return COLOR.holdOther;
}

interface Line {
  name: string;
  color: string;
  points: [number, number | null][];
  dashed?: boolean;
  /** Counts change in steps: drawn as steps, not slopes. */
  steps?: boolean;
}

interface Panel {
  title: string;
  unit: string;
  lines: Line[];
  /** Extra horizontal lines (an SLO, a bound), with their label. */
  marks?: { name: string; value: number; color: string; label: string }[];
  holds?: boolean;
  /** Whole numbers only on the axis. */
  integer?: boolean;
}

/**
 * The demo's chart as one SVG: per queue, arrivals, backlog, workers (the strategy's
 * recommendation, the decided count and the running workers, with the spans where a policy
 * held them below the recommendation shaded) and the p95 pickup wait per interval against the
 * SLO line. Scales with its container (viewBox, width 100%).
 */
export function demoChartSvg(result: DemoResult): string {
  const parts: string[] = [];
  let top = 12;
  for (const queue of result.queues) {
    parts.push(text(MARGIN.left, top + 16, `queue ${queue.queue}`, 15, 'bold'));
    top += 40;
    for (const panel of panelsOf(queue)) {
      parts.push(...drawPanel(panel, queue, result.durationMs, top));
      top += PANEL_HEIGHT + PANEL_GAP;
    }
    top += 8;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 ${WIDTH} ${top}" preserveAspectRatio="xMinYMin meet" font-family="system-ui, -apple-system, Segoe UI, sans-serif" role="img" aria-label="qscale demo chart">
<rect width="${WIDTH}" height="${top}" fill="#ffffff"/>
${parts.join('\n')}
</svg>
`;
}

/** A single offline HTML page: the results and what held the workers back first, then the chart. */
export function demoChartHtml(result: DemoResult): string {
  const rows = result.queues
    .map(
      (q) =>
        `<tr><td>${escapeXml(q.queue)}</td><td>${q.jobs}</td><td>${(q.sloAttainment * 100).toFixed(1)}%</td><td>${seconds(q.waitMs.p95)}</td><td>p${q.slo.percentile} &lt;= ${seconds(q.slo.pickupMs)}</td><td>${Math.round(q.workerSeconds)}</td><td>${Math.round(q.busySeconds)}</td><td>${q.scaleUps}/${q.scaleDowns}</td><td>${q.peakWorkers}</td><td>${escapeXml(heldCell(q))}</td></tr>`,
    )
    .join('\n');
  const held = heldHtml(result.queues);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>qscale demo</title>
<style>
body { font-family: system-ui, sans-serif; margin: 16px auto; padding: 0 16px; max-width: 1200px; color: #111827; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 14px; }
th, td { border: 1px solid #d1d5db; padding: 4px 8px; text-align: right; }
th:first-child, td:first-child, th:last-child, td:last-child { text-align: left; }
td:not(:last-child) { white-space: nowrap; }
ul { font-size: 14px; padding-left: 20px; }
svg { width: 100%; height: auto; display: block; }
.legend span { display: inline-block; margin-right: 14px; font-size: 13px; }
.legend i { display: inline-block; width: 18px; height: 4px; margin-right: 4px; vertical-align: middle; }
</style>
</head>
<body>
<h1>qscale demo: real Redis, real BullMQ workers</h1>
<p>done in ${escapeXml(formatDuration(result.durationMs))}: ${result.total.jobs} jobs, <strong>${(result.total.sloAttainment * 100).toFixed(1)}%</strong> picked up within their SLO; ${Math.round(result.total.workerSeconds)} worker-s for ${Math.round(result.total.busySeconds)} busy-s.</p>
<table id="results">
<tr><th>queue</th><th>jobs</th><th>SLO met</th><th>p95 pickup</th><th>SLO</th><th>worker-s</th><th>busy-s</th><th>scale up/down</th><th>peak workers</th><th>held below the recommendation</th></tr>
${rows}
</table>
<ul id="held">
${held}
<li>${escapeXml(result.capacityNote)}</li>
${costLines(result.queues)
  .map((entry) => `<li>${escapeXml(entry)}</li>`)
  .join('\n')}
</ul>
<p class="legend"><span><i style="background:${COLOR.recommended}"></i>recommended by the strategy</span><span><i style="background:${COLOR.decided}"></i>decided</span><span><i style="background:${COLOR.running}"></i>running</span><span><i style="background:${COLOR.holdHost}"></i>held by the host's share (fair-share)</span><span><i style="background:${COLOR.holdBounds}"></i>held by the queue's bounds</span><span><i style="background:${COLOR.holdOther}"></i>held by another policy</span><span><i style="background:${COLOR.slo}"></i>SLO</span></p>
${demoChartSvg(result)}
<p>worker-s: seconds of worker processes alive; busy-s: seconds jobs ran (per unit of concurrency), the least the work needed. Pickup: the p95 wait per ${seconds(5_000)} interval, of the jobs picked up in it and those still waiting at its end.</p>
</body>
</html>
`;
}

/** What held each queue below its recommendation, as nested lists (every span). */
function heldHtml(queues: readonly DemoQueueResult[]): string {
  const held = queues.filter((queue) => queue.holds.length > 0);
  if (held.length === 0) return `<li>${escapeXml(heldLines(queues)[0] ?? '')}</li>`;
  return held
    .map((queue) => {
      const spans = queue.holds
        .map((span) => `<li>${escapeXml(describeSpan(span))}</li>`)
        .join('\n');
      return `<li><strong>${escapeXml(queue.queue)}</strong>: held below the strategy's recommendation for ${escapeXml(heldCell(queue))}<ul>\n${spans}\n</ul></li>`;
    })
    .join('\n');
}

function heldCell(queue: DemoQueueResult): string {
  if (queue.holds.length === 0) return 'never';
  const total = queue.holds.reduce((sum, span) => sum + span.toMs - span.fromMs, 0);
  const by = [...new Set(queue.holds.flatMap((span) => span.by))].join(', ');
  const asked = Math.max(...queue.holds.map((span) => span.askedMax));
  return `${formatDuration(total)} by ${by} (asked up to ${asked})`;
}

function panelsOf(queue: DemoQueueResult): Panel[] {
  const s = queue.series;
  const zip = (values: readonly (number | null)[]): [number, number | null][] =>
    s.tMs.map((t, i) => [t, values[i] ?? null]);
  return [
    {
      title: 'arrivals',
      unit: 'jobs/s',
      lines: [{ name: 'arrivals', color: COLOR.arrivals, points: zip(s.arrivalRate) }],
    },
    {
      title: 'backlog (jobs waiting)',
      unit: 'jobs',
      integer: true,
      lines: [{ name: 'backlog', color: COLOR.backlog, points: zip(s.pending) }],
    },
    {
      title: 'workers: recommended, decided, running',
      unit: 'workers',
      integer: true,
      holds: true,
      lines: [
        {
          name: 'recommended',
          color: COLOR.recommended,
          points: zip(s.recommended),
          dashed: true,
          steps: true,
        },
        { name: 'decided', color: COLOR.decided, points: zip(s.decided), steps: true },
        { name: 'running', color: COLOR.running, points: zip(s.running), steps: true },
      ],
      marks: [
        {
          name: 'max',
          value: queue.bounds.max,
          color: '#9ca3af',
          label: `max ${queue.bounds.max}`,
        },
      ],
    },
    {
      title: `pickup wait, p95 per ${seconds(5_000)} interval`,
      unit: 'seconds',
      lines: [
        {
          name: 'pickup-p95',
          color: COLOR.pickup,
          points: queue.pickupP95.map((point) => [
            point.tMs,
            point.p95Ms === null ? null : point.p95Ms / 1_000,
          ]),
        },
      ],
      marks: [
        {
          name: 'slo',
          value: queue.slo.pickupMs / 1_000,
          color: COLOR.slo,
          label: `SLO p${queue.slo.percentile} ${seconds(queue.slo.pickupMs)}`,
        },
      ],
    },
  ];
}

function drawPanel(
  panel: Panel,
  queue: DemoQueueResult,
  durationMs: number,
  top: number,
): string[] {
  const parts: string[] = [];
  const spanMs = Math.max(1_000, durationMs);
  const x = (tMs: number) => MARGIN.left + (Math.min(tMs, spanMs) / spanMs) * PLOT_WIDTH;
  const values = [
    ...panel.lines.flatMap((line) => line.points.flatMap(([, v]) => (v === null ? [] : [v]))),
    ...(panel.marks ?? []).map((mark) => mark.value * 1.1),
  ];
  const maxY = niceCeiling(Math.max(1, ...values));
  const y = (value: number) => top + PANEL_HEIGHT - (value / maxY) * PANEL_HEIGHT;
  parts.push(text(MARGIN.left, top - 8, `${panel.title} (${panel.unit})`, 12, 'bold', '#374151'));
  parts.push(
    `<rect x="${MARGIN.left}" y="${top}" width="${PLOT_WIDTH}" height="${PANEL_HEIGHT}" fill="#f9fafb" stroke="#d1d5db"/>`,
  );
  if (panel.holds) {
    for (const span of queue.holds) {
      const x1 = x(span.fromMs);
      const width = Math.max(2, x(span.toMs) - x1);
      parts.push(
        `<rect class="hold" data-by="${escapeXml(span.by.join(' '))}" x="${f(x1)}" y="${top}" width="${f(width)}" height="${PANEL_HEIGHT}" fill="${holdColor(span.by)}" fill-opacity="0.55"><title>${escapeXml(`held ${describeSpan(span)}`)}</title></rect>`,
      );
    }
  }
  for (const tick of ticks(maxY, panel.integer ?? false)) {
    parts.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + PLOT_WIDTH}" y1="${f(y(tick))}" y2="${f(y(tick))}" stroke="#e5e7eb"/>`,
    );
    parts.push(
      text(MARGIN.left - 6, y(tick) + 4, formatNumber(tick), 10, undefined, '#111827', 'end'),
    );
  }
  const middle = top + PANEL_HEIGHT / 2;
  parts.push(
    `<text x="18" y="${f(middle)}" font-size="11" fill="#374151" text-anchor="middle" transform="rotate(-90 18 ${f(middle)})">${escapeXml(panel.unit)}</text>`,
  );
  for (const tick of ticks(spanMs / 1_000, true)) {
    const at = x(tick * 1_000);
    parts.push(
      `<line x1="${f(at)}" x2="${f(at)}" y1="${top}" y2="${top + PANEL_HEIGHT}" stroke="#eef0f3"/>`,
    );
    parts.push(
      text(
        at,
        top + PANEL_HEIGHT + 14,
        `${formatNumber(tick)} s`,
        10,
        undefined,
        '#111827',
        'middle',
      ),
    );
  }
  parts.push(
    text(
      MARGIN.left + PLOT_WIDTH,
      top + PANEL_HEIGHT + 28,
      'time since the demo started (s)',
      10,
      undefined,
      '#6b7280',
      'end',
    ),
  );
  for (const mark of panel.marks ?? []) {
    const at = y(mark.value);
    parts.push(
      `<line class="${mark.name}" x1="${MARGIN.left}" x2="${MARGIN.left + PLOT_WIDTH}" y1="${f(at)}" y2="${f(at)}" stroke="${mark.color}" stroke-width="1.5" stroke-dasharray="6 4"/>`,
    );
    parts.push(
      text(MARGIN.left + PLOT_WIDTH - 4, at - 4, mark.label, 10, undefined, mark.color, 'end'),
    );
  }
  let legendX = MARGIN.left + PLOT_WIDTH;
  for (const line of [...panel.lines].reverse()) {
    const d = pathOf(line, x, y);
    if (d) {
      parts.push(
        `<path class="${line.name}" d="${d}" fill="none" stroke="${line.color}" stroke-width="1.8" stroke-linejoin="round"${line.dashed ? ' stroke-dasharray="5 3"' : ''}/>`,
      );
    }
    if (panel.lines.length > 1) {
      parts.push(text(legendX, top - 8, line.name, 11, 'bold', line.color, 'end'));
      legendX -= line.name.length * 7 + 14;
    }
  }
  return parts;
}

/** The SVG path of a line; a null value breaks it. */
function pathOf(line: Line, x: (t: number) => number, y: (v: number) => number): string {
  let d = '';
  let previous: [number, number] | null = null;
  for (const [t, value] of line.points) {
    if (value === null) {
      previous = null;
      continue;
    }
    const point: [number, number] = [x(t), y(value)];
    if (previous === null) d += `M${f(point[0])},${f(point[1])}`;
    else if (line.steps) d += `H${f(point[0])}V${f(point[1])}`;
    else d += `L${f(point[0])},${f(point[1])}`;
    previous = point;
  }
  return d;
}

/** 1, 2 or 5 times a power of ten, at or above `value`. */
function niceCeiling(value: number): number {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/** About four round ticks from 0 to `max` (whole numbers only when `integer`). */
function ticks(max: number, integer: boolean): number[] {
  if (!(max > 0)) return [0];
  const step = integer ? Math.max(1, niceCeiling(max / 4)) : niceCeiling(max / 4);
  const out: number[] = [];
  for (let t = 0; t <= max + 1e-9; t += step) out.push(Number(t.toFixed(6)));
  return out;
}

function formatNumber(value: number): string {
  return Math.abs(value) >= 100 ? String(Math.round(value)) : String(Number(value.toFixed(2)));
}

function seconds(ms: number): string {
  return `${formatNumber(ms / 1_000)} s`;
}

function f(value: number): string {
  return value.toFixed(1);
}

function text(
  x: number,
  y: number,
  content: string,
  size: number,
  weight?: 'bold',
  fill = '#111827',
  anchor?: 'middle' | 'end',
): string {
  return `<text x="${f(x)}" y="${f(y)}" font-size="${size}"${anchor ? ` text-anchor="${anchor}"` : ''}${weight ? ` font-weight="${weight}"` : ''} fill="${fill}">${escapeXml(content)}</text>`;
}

function escapeXml(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}
