import { performance } from 'node:perf_hooks';

export interface Timing {
  runs: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

/** Runs `fn` `warmup` times unmeasured, then `runs` times measured, one after another. */
export async function measure(
  fn: () => unknown,
  { runs = 50, warmup = 5 }: { runs?: number; warmup?: number } = {},
): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  const at = (q: number) =>
    samples[Math.min(samples.length - 1, Math.ceil(q * samples.length) - 1)] ?? 0;
  return {
    runs,
    meanMs: samples.reduce((sum, value) => sum + value, 0) / samples.length,
    p50Ms: at(0.5),
    p95Ms: at(0.95),
    maxMs: samples.at(-1) ?? 0,
  };
}

/** A Markdown table from rows of equal keys, numbers rounded to `digits`. */
export function markdownTable(rows: Record<string, string | number>[], digits = 2): string {
  const first = rows[0];
  if (!first) return '';
  const headers = Object.keys(first);
  const cell = (value: string | number | undefined) =>
    typeof value === 'number' ? String(Number(value.toFixed(digits))) : (value ?? '');
  return [
    `| ${headers.join(' | ')} |`,
    `| ${headers.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${headers.map((header) => cell(row[header])).join(' | ')} |`),
  ].join('\n');
}

/** One line naming the machine, for the top of a results section. */
export function machine(): string {
  return `Node ${process.version}, ${process.platform}/${process.arch}`;
}
