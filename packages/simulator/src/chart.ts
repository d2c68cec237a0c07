import type { QueueSeries, SimulationResult } from './simulate.js';

/** Options of `chartSvg` and `chartHtml`. */
export interface ChartOptions {
  /** Width of the drawing in pixels. @defaultValue 960 */
  width?: number;
  /** Most points drawn per line; longer series are bucketed (peaks kept). @defaultValue 1000 */
  maxPoints?: number;
}

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563'];
const PANEL_HEIGHT = 150;
const PANEL_GAP = 34;
const MARGIN = { left: 64, right: 24, bottom: 40 };
const LEGEND_LINE = 16;

/**
 * An SVG chart of one or more runs of the same trace: per queue, three panels over time —
 * arrivals (jobs/s, the same for every run), backlog (pending jobs) and workers (running +
 * starting) — one colour per strategy, with its SLO attainment and worker-seconds in the
 * legend. Needs results made with `series: true` (the default).
 */
export function chartSvg(results: readonly SimulationResult[], options: ChartOptions = {}): string {
  const first = results[0];
  if (!first) return svg(400, 60, [text(20, 34, 'no simulation results to draw', 14)]);
  const width = options.width ?? 960;
  const maxPoints = options.maxPoints ?? 1_000;
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const queueHeight = 3 * PANEL_HEIGHT + 3 * PANEL_GAP + 56;
  const parts: string[] = [];
  const legendY = 22;
  const chartTop = legendY + 14 + results.length * LEGEND_LINE;
  parts.push(
    text(
      MARGIN.left,
      legendY,
      `${first.trace}: ${results.map((r) => r.strategy).join(' vs ')}`,
      15,
      {
        weight: 'bold',
      },
    ),
  );
  results.forEach((result, i) => {
    const x = MARGIN.left;
    const y = legendY + 8 + (i + 1) * LEGEND_LINE;
    const color = COLORS[i % COLORS.length] as string;
    parts.push(`<rect x="${x}" y="${y - 6}" width="14" height="4" fill="${color}"/>`);
    parts.push(
      text(
        x + 20,
        y,
        `${result.strategy}: ${(result.total.sloAttainment * 100).toFixed(2)}% SLO, ${Math.round(result.total.workerSeconds)} worker-s`,
        11,
      ),
    );
  });

  first.queues.forEach((queue, q) => {
    const top = chartTop + q * queueHeight;
    const seriesOf = (result: SimulationResult): QueueSeries | null =>
      result.queues[q]?.series ?? null;
    const base = seriesOf(first);
    if (!base || base.tMs.length === 0) {
      parts.push(text(MARGIN.left, top + 20, `queue ${queue.queue}: no time series recorded`, 12));
      return;
    }
    parts.push(text(MARGIN.left, top + 16, `queue ${queue.queue}`, 13, { weight: 'bold' }));
    const xScale = (t: number) => MARGIN.left + (t / first.durationMs) * plotWidth;
    const panels: { title: string; lines: { color: string; points: [number, number][] }[] }[] = [
      {
        title: 'arrivals (jobs/s)',
        lines: [{ color: '#6b7280', points: zip(base.tMs, base.arrivalRate) }],
      },
      {
        title: 'backlog (pending jobs)',
        lines: results.map((r, i) => ({
          color: COLORS[i % COLORS.length] as string,
          points: zip(seriesOf(r)?.tMs ?? [], seriesOf(r)?.pending ?? []),
        })),
      },
      {
        title: 'workers (running + starting)',
        lines: results.map((r, i) => ({
          color: COLORS[i % COLORS.length] as string,
          points: zip(seriesOf(r)?.tMs ?? [], seriesOf(r)?.workers ?? []),
        })),
      },
    ];
    panels.forEach((panel, p) => {
      const panelTop = top + 44 + p * (PANEL_HEIGHT + PANEL_GAP);
      const maxY = niceCeiling(
        Math.max(1, ...panel.lines.flatMap((line) => line.points.map(([, y]) => y))),
      );
      const yScale = (y: number) => panelTop + PANEL_HEIGHT - (y / maxY) * PANEL_HEIGHT;
      parts.push(text(MARGIN.left, panelTop - 6, panel.title, 11, { fill: '#374151' }));
      parts.push(
        `<rect x="${MARGIN.left}" y="${panelTop}" width="${plotWidth}" height="${PANEL_HEIGHT}" fill="#f9fafb" stroke="#d1d5db"/>`,
      );
      for (const tick of ticks(maxY)) {
        const y = yScale(tick);
        parts.push(
          `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${f(y)}" y2="${f(y)}" stroke="#e5e7eb"/>`,
        );
        parts.push(text(MARGIN.left - 6, y + 4, formatNumber(tick), 10, { anchor: 'end' }));
      }
      for (const tick of ticks(first.durationMs / 60_000)) {
        const x = xScale(tick * 60_000);
        parts.push(
          `<line x1="${f(x)}" x2="${f(x)}" y1="${panelTop}" y2="${panelTop + PANEL_HEIGHT}" stroke="#eef0f3"/>`,
        );
        if (p === panels.length - 1) {
          parts.push(
            text(x, panelTop + PANEL_HEIGHT + 14, `${formatNumber(tick)}m`, 10, {
              anchor: 'middle',
            }),
          );
        }
      }
      for (const line of panel.lines) {
        const points = bucket(line.points, maxPoints);
        if (points.length === 0) continue;
        const d = points
          .map(([t, y], i) => `${i === 0 ? 'M' : 'L'}${f(xScale(t))},${f(yScale(y))}`)
          .join('');
        parts.push(
          `<path d="${d}" fill="none" stroke="${line.color}" stroke-width="1.5" stroke-linejoin="round"/>`,
        );
      }
    });
    parts.push(
      text(MARGIN.left + plotWidth / 2, top + queueHeight - 6, 'time (minutes)', 10, {
        anchor: 'middle',
        fill: '#374151',
      }),
    );
  });
  const height = chartTop + first.queues.length * queueHeight + MARGIN.bottom - 30;
  return svg(width, height, parts);
}

/**
 * A self-contained HTML page: the SVG chart and a table of each run's figures
 * (no scripts, no external files).
 */
export function chartHtml(
  results: readonly SimulationResult[],
  options: ChartOptions = {},
): string {
  const first = results[0];
  const title = first ? `qscale simulate: ${first.trace}` : 'qscale simulate';
  const rows = results
    .flatMap((result) =>
      result.queues.map(
        (q) =>
          `<tr><td>${escapeXml(result.strategy)}</td><td>${escapeXml(q.queue)}</td><td>${(q.sloAttainment * 100).toFixed(2)}%</td><td>${formatNumber(q.waitMs.p95 / 1_000)}</td><td>${Math.round(q.workerSeconds)}</td><td>${Math.round(q.busySeconds)}</td><td>${q.scaleUps + q.scaleDowns}</td></tr>`,
      ),
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeXml(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 24px; color: #111827; }
table { border-collapse: collapse; margin-top: 16px; }
th, td { border: 1px solid #d1d5db; padding: 4px 10px; text-align: right; }
th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align: left; }
</style>
</head>
<body>
<h1>${escapeXml(title)}</h1>
${chartSvg(results, options)}
<table>
<tr><th>strategy</th><th>queue</th><th>SLO met</th><th>p95 wait (s)</th><th>worker-s</th><th>busy-s</th><th>scale events</th></tr>
${rows}
</table>
</body>
</html>
`;
}

function zip(xs: readonly number[], ys: readonly number[]): [number, number][] {
  const n = Math.min(xs.length, ys.length);
  const out: [number, number][] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = [xs[i] as number, ys[i] as number];
  return out;
}

/** At most `max` points: each bucket keeps its time span and its highest value. */
function bucket(points: readonly [number, number][], max: number): [number, number][] {
  if (points.length <= max) return [...points];
  const size = Math.ceil(points.length / max);
  const out: [number, number][] = [];
  for (let i = 0; i < points.length; i += size) {
    let peak = Number.NEGATIVE_INFINITY;
    for (let j = i; j < Math.min(points.length, i + size); j++) {
      peak = Math.max(peak, (points[j] as [number, number])[1]);
    }
    out.push([(points[i] as [number, number])[0], peak]);
  }
  return out;
}

/** 1, 2 or 5 times a power of ten, at or above `value`. */
function niceCeiling(value: number): number {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/** About four round ticks from 0 to `max`. */
function ticks(max: number): number[] {
  if (!(max > 0)) return [0];
  const step = niceCeiling(max / 4);
  const out: number[] = [];
  for (let t = 0; t <= max + 1e-9; t += step) out.push(Number(t.toFixed(6)));
  return out;
}

function formatNumber(value: number): string {
  return Math.abs(value) >= 100 ? String(Math.round(value)) : String(Number(value.toFixed(2)));
}

function f(value: number): string {
  return value.toFixed(1);
}

function text(
  x: number,
  y: number,
  content: string,
  size: number,
  style: { anchor?: 'start' | 'middle' | 'end'; weight?: 'bold'; fill?: string } = {},
): string {
  return `<text x="${f(x)}" y="${f(y)}" font-size="${size}"${style.anchor ? ` text-anchor="${style.anchor}"` : ''}${style.weight ? ` font-weight="${style.weight}"` : ''} fill="${style.fill ?? '#111827'}">${escapeXml(content)}</text>`;
}

function svg(width: number, height: number, parts: string[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${f(height)}" viewBox="0 0 ${width} ${f(height)}" font-family="system-ui, -apple-system, Segoe UI, sans-serif">
<rect width="100%" height="100%" fill="#ffffff"/>
${parts.join('\n')}
</svg>
`;
}

function escapeXml(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}
