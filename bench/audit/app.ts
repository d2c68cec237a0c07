// The source audit with its defaults on one application's tree (a git clone of a real Laravel
// application), as `qscale audit --path` without the report rendering: prints time, peak RSS
// and the counts, and writes the JSON report for reading the findings by hand. `--dist` audits
// with another build of @qscale/audit-rules (e.g. a before/after comparison).
// Usage: tsx audit/app.ts <tree> <report.json> [--dist /path/to/audit-rules/dist/index.js]
import { writeFile } from 'node:fs/promises';
import { resourceUsage } from 'node:process';
import { parseArgs } from 'node:util';
import * as current from '@qscale/audit-rules';

const { values, positionals } = parseArgs({
  options: { dist: { type: 'string' } },
  allowPositionals: true,
});
const [path, out] = positionals;
if (!path || !out) throw new Error('usage: tsx audit/app.ts <tree> <report.json> [--dist …]');
const { runAudit, formatJson } = (
  values.dist ? await import(values.dist) : current
) as typeof current;
const started = performance.now();
const report = await runAudit({ path, hostCores: 2 });
const seconds = (performance.now() - started) / 1000;
await writeFile(out, formatJson(report));
const open = report.findings.filter((f) => f.status === 'open');
const severe = open.filter((f) => f.severity === 'critical' || f.severity === 'high');
process.stdout.write(
  `${JSON.stringify({
    path,
    seconds: Number(seconds.toFixed(1)),
    peakRssMB: Math.round(resourceUsage().maxRSS / 1024),
    open: open.length,
    criticalHigh: severe.length,
    criticalHighTraced: severe.filter((f) => f.confidence === 'traced').length,
    targets: report.run.targets.map((t) => `${t.kind} ${t.status}`),
  })}\n`,
);
for (const f of severe) {
  process.stdout.write(
    `${f.ruleId} ${f.severity} ${f.confidence} ${f.location.path}:${f.location.startLine} ${f.message}\n`,
  );
}
