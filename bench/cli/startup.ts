// Start time of the built `qscale` binary: each command line is spawned N times, one after
// another, and timed from spawn to exit (what a user waits for). `node -e 0` is the floor: a
// Node process that does nothing. Usage: tsx cli/startup.ts [--runs N] [--bin PATH]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { machine, markdownTable, measure } from '../lib/measure.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '30' },
    bin: {
      type: 'string',
      default: fileURLToPath(new URL('../../apps/cli/dist/bin.js', import.meta.url)),
    },
  },
});
const runs = Number(values.runs);
const bin = values.bin;
const scratch = mkdtempSync(join(tmpdir(), 'qscale-bench-startup-'));

const cases: [string, string[]][] = [
  ['node -e 0 (the floor)', ['-e', '0']],
  ['qscale --version', [bin, '--version']],
  ['qscale --help', [bin, '--help']],
  ['qscale validate --help', [bin, 'validate', '--help']],
  // A command that loads configuration code (`@qscale/daemon/config`, not the whole daemon).
  ['qscale init --force', [bin, 'init', '--force', '--config', join(scratch, 'qscale.yml')]],
];

const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');
const loadBefore = load();
const rows: Record<string, string | number>[] = [];
for (const [name, args] of cases) {
  const timing = await measure(
    () => {
      const result = spawnSync(process.execPath, args, { stdio: 'ignore' });
      if (result.status !== 0) throw new Error(`${name} exited ${result.status}`);
    },
    { runs, warmup: 3 },
  );
  rows.push({
    command: name,
    runs: timing.runs,
    'p50 ms': timing.p50Ms,
    'p95 ms': timing.p95Ms,
    'mean ms': timing.meanMs,
    'max ms': timing.maxMs,
  });
}
rmSync(scratch, { recursive: true, force: true });
console.log(`bin: ${bin}`);
console.log(
  `Machine: ${machine()}; load average (1/5/15 min) ${loadBefore} before, ${load()} after.`,
);
console.log('');
console.log(markdownTable(rows, 0));
