// PHP front end on real applications: how many files each candidate parses fully, in part or not
// at all, its time per 1,000 files and its memory, and (for the front end qscale uses) how much
// of a file survives one injected unknown construct. Each candidate runs in its own process so
// its peak RSS is its own.
// Usage: tsx audit/frontend.ts <app dir>... (e.g. a Coolify and a Firefly III checkout)
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runAudit } from '@qscale/audit-rules';
import { Engine } from 'php-parser';
import { Language, Parser } from 'web-tree-sitter';
import { machine, markdownTable } from '../lib/measure.js';

const FRONT_ENDS = [
  'php-parser 8.3 strict (before)',
  'qscale (php-parser 8.5 tolerant)',
  'tree-sitter-php (wasm)',
];
const AST_MODULE = new URL('../../packages/audit-rules/dist/internal/php/ast.js', import.meta.url);

interface Counts {
  files: number;
  full: number;
  partial: number;
  failed: number;
  msPer1000: number;
  rssMiB: number;
  firstFailure?: string;
}

const { values, positionals } = parseArgs({
  options: { child: { type: 'string' } },
  allowPositionals: true,
});

/** PHP sources of an application, as `qscale audit` reads them (no Blade, no vendor). */
function phpFiles(dir: string): string[] {
  const out = execFileSync(
    'find',
    [
      dir,
      '-name',
      '*.php',
      '-not',
      '-name',
      '*.blade.php',
      '-not',
      '-path',
      '*/vendor/*',
      '-not',
      '-path',
      '*/node_modules/*',
    ],
    { encoding: 'utf8' },
  );
  return out.split('\n').filter(Boolean).sort();
}

type Classify = (code: string, file: string) => 'full' | 'partial' | 'failed';

async function frontEnd(name: string): Promise<Classify> {
  if (name.startsWith('php-parser 8.3')) {
    // What ast.ts did before: php-parser's default grammar (8.3), first error throws.
    const engine = new Engine({
      parser: { php8: true, extractDoc: false, suppressErrors: false },
      ast: { withPositions: true, withSource: false },
      lexer: { short_tags: true, asp_tags: false },
    });
    return (code, file) => {
      try {
        engine.parseCode(code, file);
        return 'full';
      } catch {
        return 'failed';
      }
    };
  }
  if (name.startsWith('qscale')) {
    const { parsePhpTolerant } = (await import(
      AST_MODULE.href
    )) as typeof import('../../packages/audit-rules/src/internal/php/ast.js');
    return (code, file) => {
      try {
        return parsePhpTolerant(code, file).errors.length === 0 ? 'full' : 'partial';
      } catch {
        return 'failed';
      }
    };
  }
  await Parser.init();
  const require = createRequire(import.meta.url);
  const language = await Language.load(require.resolve('tree-sitter-php/tree-sitter-php.wasm'));
  const parser = new Parser();
  parser.setLanguage(language);
  return (code) => {
    const tree = parser.parse(code);
    if (tree === null) return 'failed';
    const partial = tree.rootNode.hasError;
    tree.delete();
    return partial ? 'partial' : 'full';
  };
}

/** One candidate over one application, in this (child) process. */
async function measureChild(name: string, dir: string): Promise<Counts> {
  const files = phpFiles(dir);
  const texts = await Promise.all(files.map((file) => readFile(file, 'utf8')));
  const classify = await frontEnd(name);
  const counts: Counts = {
    files: files.length,
    full: 0,
    partial: 0,
    failed: 0,
    msPer1000: 0,
    rssMiB: 0,
  };
  // A first pass warms the JIT; the second is timed.
  for (const [i, text] of texts.entries()) classify(text, files[i] ?? '');
  const start = performance.now();
  texts.forEach((text, i) => {
    const kind = classify(text, files[i] ?? '');
    counts[kind]++;
    if (kind !== 'full' && counts.firstFailure === undefined)
      counts.firstFailure = (files[i] ?? '').slice(dir.length + 1);
  });
  counts.msPer1000 = ((performance.now() - start) / files.length) * 1000;
  counts.rssMiB = process.resourceUsage().maxRSS / 1024;
  return counts;
}

/**
 * Recovery: one statement in a syntax no PHP version has, put after a statement in the second
 * half of each file that parses; how many of the clean tree's calls (kind and position) remain.
 */
async function recovery(
  dir: string,
): Promise<{ files: number; calls: number; kept: number; refused: number }> {
  const { parsePhpTolerant, findAll } = (await import(
    AST_MODULE.href
  )) as typeof import('../../packages/audit-rules/src/internal/php/ast.js');
  const out = { files: 0, calls: 0, kept: 0, refused: 0 };
  for (const file of phpFiles(dir)) {
    const text = await readFile(file, 'utf8');
    const clean = parsePhpTolerant(text, file);
    if (clean.errors.length > 0) continue;
    const lines = text.split('\n');
    const at = lines.findIndex((l, i) => i > lines.length / 2 && /^\s{8}\S.*;\s*$/.test(l));
    if (at < 0) continue;
    lines.splice(at + 1, 0, '        $rows = $query with { sorted: true } (;');
    const injected = at + 2;
    const key = (line: number, col: number | undefined) => `${line}:${col}`;
    const before = findAll(clean.ast, ['call', 'new']).map((n) =>
      key(n.loc?.start.line ?? 0, n.loc?.start.column),
    );
    out.files++;
    out.calls += before.length;
    try {
      const after = new Set(
        findAll(parsePhpTolerant(lines.join('\n'), file).ast, ['call', 'new'])
          .filter((n) => (n.loc?.start.line ?? 0) !== injected)
          .map((n) => {
            const line = n.loc?.start.line ?? 0;
            return key(line > injected ? line - 1 : line, n.loc?.start.column);
          }),
      );
      out.kept += before.filter((k) => after.has(k)).length;
    } catch {
      out.refused++;
    }
  }
  return out;
}

async function endToEnd(dir: string) {
  const start = performance.now();
  const report = await runAudit({ path: dir });
  const laravel = report.run.targets.find((t) => t.kind === 'laravel-src');
  return {
    seconds: (performance.now() - start) / 1000,
    status: laravel?.status ?? 'none',
    error: laravel?.error ?? '',
    notes: report.notes.filter((n) => /^(not|partly) parsed: /.test(n)),
    rssMiB: process.resourceUsage().maxRSS / 1024,
  };
}

if (values.child !== undefined) {
  const [dir] = positionals;
  if (dir === undefined) throw new Error('--child needs an app directory');
  const result =
    values.child === 'audit'
      ? await endToEnd(dir)
      : values.child === 'recovery'
        ? await recovery(dir)
        : await measureChild(values.child, dir);
  process.stdout.write(JSON.stringify(result));
} else {
  if (positionals.length === 0) throw new Error('usage: tsx audit/frontend.ts <app dir>...');
  const self = fileURLToPath(import.meta.url);
  const child = (what: string, dir: string): unknown =>
    JSON.parse(
      execFileSync(process.execPath, ['--import', 'tsx', self, '--child', what, dir], {
        encoding: 'utf8',
        maxBuffer: 64 << 20,
      }),
    );
  const load = loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');
  const rows: Record<string, string | number>[] = [];
  const audits: string[] = [];
  for (const dir of positionals) {
    for (const name of FRONT_ENDS) {
      const c = child(name, dir) as Counts;
      rows.push({
        app: basename(dir),
        'front end': name,
        files: c.files,
        full: c.full,
        'in part': c.partial,
        'not at all': c.failed,
        'ms / 1,000 files': c.msPer1000,
        'peak RSS MiB': c.rssMiB,
        'first not full': c.firstFailure ?? '',
      });
    }
    const r = child('recovery', dir) as Awaited<ReturnType<typeof recovery>>;
    audits.push(
      `- ${basename(dir)}, one unknown statement injected into each of ${r.files} files: ${r.kept} of ${r.calls} calls kept (${((100 * r.kept) / Math.max(1, r.calls)).toFixed(1)} %), ${r.refused} files refused.`,
    );
    const a = child('audit', dir) as Awaited<ReturnType<typeof endToEnd>>;
    audits.push(
      `- ${basename(dir)}, \`runAudit({ path })\`: ${a.seconds.toFixed(1)} s, peak RSS ${a.rssMiB.toFixed(0)} MiB, laravel-src ${a.status}${a.error ? ` (${a.error})` : ''}${a.notes.length ? `; ${a.notes.join('; ')}` : ''}.`,
    );
  }
  console.log(`## audit: PHP front end

Command: \`npx pnpm@10.34.8 --filter @qscale/bench exec tsx audit/frontend.ts <app dir>...\` (after \`npm run build\`).
Machine: ${machine()}; load average at start ${load} (1/5/15 min).

${markdownTable(rows, 1)}

${audits.join('\n')}`);
}
