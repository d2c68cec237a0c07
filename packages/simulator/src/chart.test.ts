import { describe, expect, it } from 'vitest';
import { chartHtml, chartSvg } from './chart.js';
import { simulate } from './simulate.js';
import type { TraceInput } from './trace.js';

const trace: TraceInput = {
  name: 'spike <&> test',
  durationMs: 600_000,
  queues: [
    {
      name: 'emails',
      arrivals: {
        kind: 'poisson',
        interpolation: 'step',
        rate: [
          { atMs: 0, perSecond: 2 },
          { atMs: 200_000, perSecond: 20 },
          { atMs: 300_000, perSecond: 2 },
        ],
      },
      service: { kind: 'exponential', meanMs: 500 },
      workers: { min: 0, max: 20, initial: 2 },
    },
  ],
};

const results = ['predictive', 'hpa'].map((strategy) => simulate(trace, { strategy, seed: 1 }));

describe('chartSvg', () => {
  const svg = chartSvg(results);

  it('draws arrivals once, then backlog and workers for each strategy', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<path /g)).toHaveLength(1 + 2 + 2);
    for (const title of [
      'arrivals (jobs/s)',
      'backlog (pending jobs)',
      'workers (running + starting)',
    ]) {
      expect(svg).toContain(title);
    }
  });

  it('names each strategy with its SLO attainment and cost, and escapes text', () => {
    const predictive = results[0];
    expect(svg).toContain(
      `predictive: ${((predictive?.total.sloAttainment ?? 0) * 100).toFixed(2)}% SLO, ${Math.round(predictive?.total.workerSeconds ?? 0)} worker-s`,
    );
    expect(svg).toContain('spike &lt;&amp;&gt; test: predictive vs hpa');
    expect(svg).not.toContain('spike <&>');
  });

  it('keeps long series to the point budget', () => {
    const small = chartSvg(results, { maxPoints: 50 });
    const longest = Math.max(...(small.match(/d="[^"]*"/g) ?? []).map((d) => d.split('L').length));
    expect(longest).toBeLessThanOrEqual(50);
  });
});

describe('chartHtml', () => {
  it('is one self-contained page: the chart and a table of the runs', () => {
    const html = chartHtml(results);
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/<script|<link|src=/);
    expect(html.match(/<tr><td>/g)).toHaveLength(2);
    expect(html).toContain('<td>hpa</td><td>emails</td>');
  });
});
