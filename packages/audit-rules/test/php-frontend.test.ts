import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { auditExitCode, RULES, runAudit } from '../src/index.js';
import {
  findAll,
  methodCall,
  nameOf,
  type PhpNode,
  parsePhp,
  parsePhpTolerant,
  thisProperty,
} from '../src/internal/php/ast.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/php84/', import.meta.url));
const CONTROLLER = 'app/Http/Controllers/ImagesController.php';

const parse = (code: string): PhpNode => {
  const { ast, errors } = parsePhpTolerant(code, 'test.php');
  expect(errors).toEqual([]);
  return ast;
};

describe('PHP 8.4 and 8.5 syntax', () => {
  it('new Foo()->bar() is a method call on the new object', () => {
    const ast = parse('<?php\n$rows = new Builder($db)->where($id)->get();\n');
    const calls = findAll(ast, 'call').map((call) => methodCall(call));
    expect(calls.map((c) => c?.[1])).toEqual(['get', 'where']);
    const where = calls[1];
    expect(where?.[0]).toMatchObject({ kind: 'new', what: { kind: 'name', name: 'Builder' } });
    const created = where?.[0].arguments as PhpNode[] | undefined;
    expect(created?.map((a) => nameOf(a))).toEqual(['db']);
  });

  it('property hooks and asymmetric visibility keep the property, its hook bodies are walked', () => {
    const ast = parse(`<?php
class Server {
    public private(set) string $ip = '127.0.0.1';
    public string $user {
        get => strtolower($this->name);
        set(string $value) { $this->name = escapeshellarg($value); }
    }
}
`);
    const props = findAll(ast, 'property').map((p) => [nameOf(p.name), p.loc?.start.line]);
    expect(props).toEqual([
      ['ip', 3],
      ['user', 4],
    ]);
    const called = findAll(ast, 'call').map((c) => nameOf(c.what));
    expect(called).toEqual(['strtolower', 'escapeshellarg']);
    const assigned = findAll(ast, 'assign').map((a) => thisProperty(a.left as PhpNode));
    expect(assigned).toEqual(['name']);
  });

  it('the 8.5 pipe operator keeps its operands and first-class callables as calls', () => {
    const ast = parse('<?php\n$slug = $title |> trim(...) |> strtolower(...);\n');
    expect(findAll(ast, 'bin').every((bin) => bin.type === '|>')).toBe(true);
    expect(findAll(ast, 'call').map((c) => nameOf(c.what))).toEqual(['trim', 'strtolower']);
    expect(findAll(ast, 'variable').map((v) => nameOf(v))).toEqual(['slug', 'title']);
  });
});

describe('error tolerance', () => {
  it('a line in an unknown syntax costs that line; the rest of the file keeps its tree', () => {
    const { ast, errors } = parsePhpTolerant(
      `<?php
function a($x) {
    $y = $x with { sorted: true };
    exec($x);
}
function b($z) { shell_exec($z); }
`,
      'test.php',
    );
    expect(errors[0]).toMatchObject({
      line: 3,
      message: "syntax error, unexpected 'with', expecting ';'",
    });
    const sinks = findAll(ast, 'call').map((c) => [nameOf(c.what), c.loc?.start.line]);
    expect(sinks).toEqual(
      expect.arrayContaining([
        ['exec', 4],
        ['shell_exec', 6],
      ]),
    );
  });

  it('lines set aside next to each other are one stretch; separate ones stay separate', () => {
    const { ast, errors } = parsePhpTolerant(
      '<?php\n$a = 1 +;\n$b = 2 +;\n$x = 3;\n\n$c = [1 +];\n',
      'test.php',
    );
    expect(errors.map((e) => [e.line, e.endLine])).toEqual([
      [2, 3],
      [6, 6],
    ]);
    expect(findAll(ast, 'assign').map((a) => [nameOf(a.left), a.loc?.start.line])).toEqual([
      ['x', 4],
    ]);
  });

  it('an unclosed bracket reported at the end of the file sets aside the line that opened it', () => {
    const { ast, errors } = parsePhpTolerant('<?php\nexec($a);\nfoo(\n\n', 'test.php');
    expect(errors.map((e) => e.line)).toEqual([3]);
    expect(findAll(ast, 'call').map((c) => nameOf(c.what))).toEqual(['exec']);
  });

  it('an operand missing inside parentheses costs its line only', () => {
    const { ast, errors } = parsePhpTolerant(
      '<?php\n$c = (;\nexec($d);\n\n$e = (;\nsystem($f);\n',
      'test.php',
    );
    expect(errors.map((e) => [e.line, e.endLine, e.message])).toEqual([
      [2, 2, "syntax error, unexpected ';'"],
      [5, 5, "syntax error, unexpected ';'"],
    ]);
    const sinks = findAll(ast, 'call').map((c) => [nameOf(c.what), c.loc?.start.line]);
    expect(sinks).toEqual([
      ['exec', 3],
      ['system', 6],
    ]);
  });

  it('parsePhp still throws on the first error, naming its line', () => {
    expect(() => parsePhp('<?php\n$a = 1 +;\n', 'test.php')).toThrow(/^syntax error.* on line 2$/);
  });

  it('input the parser cannot read at all is refused with an error', () => {
    expect(() => parsePhpTolerant(`<?php\n${'('.repeat(5000)}`, 'deep.php')).toThrow(/call stack/);
  });
});

describe('audit of PHP 8.4 code (fixtures/php84)', () => {
  it('a controller written in PHP 8.4 and 8.5 syntax parses in full and its injection is traced', async () => {
    const report = await runAudit({ path: `${FIXTURES}complete` });
    expect(report.run.targets.find((t) => t.kind === 'laravel-src')?.status).toBe('scanned');
    expect(
      report.findings
        .filter((f) => f.ruleId === 'JOB-006')
        .map((f) => [f.location.path, f.location.startLine, f.severity, f.confidence]),
    ).toEqual([[CONTROLLER, 33, 'critical', 'traced']]);
    expect(auditExitCode(report)).toBe(1);
  });

  it('the same controller with one unknown construct: the finding after it still fires, the file is partial, exit 3', async () => {
    const source = await readFile(`${FIXTURES}partial/${CONTROLLER}`, 'utf8');
    expect(source).toContain('with { sorted: true }');
    const report = await runAudit({ path: `${FIXTURES}partial` });
    expect(
      report.findings
        .filter((f) => f.ruleId === 'JOB-006')
        .map((f) => [f.location.path, f.location.startLine, f.severity, f.confidence]),
    ).toEqual([[CONTROLLER, 34, 'critical', 'traced']]);
    const laravel = report.run.targets.find((t) => t.kind === 'laravel-src');
    expect(laravel).toMatchObject({
      status: 'partial',
      unparsed: 1,
      error: '1 PHP file(s) parsed only in part',
    });
    expect(report.notes.filter((n) => n.startsWith('partly parsed: '))).toEqual([
      `partly parsed: ${CONTROLLER}: parsed in part, line 24: syntax error, unexpected 'with', expecting ';'`,
    ]);
    const sourceRules = new Set(RULES.filter((r) => r.target === 'laravel-src').map((r) => r.id));
    const touched = report.hypotheses.filter((h) => h.checks.some((id) => sourceRules.has(id)));
    for (const h of touched) expect(h.status, h.id).not.toBe('pass');
    expect(auditExitCode(report)).toBe(3);
  });
});
