import ts from 'typescript';
import { isSecretName } from '../patterns.js';
import type { ProjectContext, RawFinding, Severity } from '../types.js';
import { defineRule } from './define.js';
import { outcome, snippet } from './helpers.js';

// Node rules read TypeScript/JavaScript with the TypeScript compiler API: one syntax tree per
// file (no type checker, no project code executed), imports tracked to know which `exec` is
// child_process's.

const SOURCE = /\.(ts|tsx|mts|cts|js|jsx|mjs|cjs)$/;

interface NodeFile {
  path: string;
  text: string;
  source: ts.SourceFile;
  /** Local name -> `module#export` (`node:child_process#exec`, `bullmq#Queue`, `child_process#*`). */
  bindings: Map<string, string>;
  /** Identifiers bound to string literals by `const x = '...'`. */
  constants: Set<string>;
  /** Variable -> its initializer's text, to follow one assignment back. */
  initializers: Map<string, string>;
  /** Variables holding `new Queue(...)` from bullmq/bull. */
  queues: Set<string>;
}

const cache = new WeakMap<object, NodeFile[]>();

async function nodeFiles(context: ProjectContext): Promise<NodeFile[]> {
  const cached = cache.get(context.tree);
  if (cached) return cached;
  const files: NodeFile[] = [];
  for (const path of context.tree.files) {
    if (!SOURCE.test(path) || path.endsWith('.d.ts')) continue;
    const text = await context.tree.read(path);
    if (text === null) continue;
    const kind = /\.tsx$|\.jsx$/.test(path)
      ? ts.ScriptKind.TSX
      : /\.(js|mjs|cjs)$/.test(path)
        ? ts.ScriptKind.JS
        : ts.ScriptKind.TS;
    const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, kind);
    files.push({ path, text, source, ...bindingsOf(source) });
  }
  cache.set(context.tree, files);
  return files;
}

function moduleName(spec: string): string {
  return spec.replace(/^node:/, '');
}

function bindingsOf(
  source: ts.SourceFile,
): Pick<NodeFile, 'bindings' | 'constants' | 'initializers' | 'queues'> {
  const bindings = new Map<string, string>();
  const constants = new Set<string>();
  const initializers = new Map<string, string>();
  const queues = new Set<string>();
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const mod = moduleName(node.moduleSpecifier.text);
      const clause = node.importClause;
      if (clause?.name) bindings.set(clause.name.text, `${mod}#default`);
      const named = clause?.namedBindings;
      if (named && ts.isNamespaceImport(named)) bindings.set(named.name.text, `${mod}#*`);
      if (named && ts.isNamedImports(named)) {
        for (const element of named.elements)
          bindings.set(element.name.text, `${mod}#${(element.propertyName ?? element.name).text}`);
      }
    }
    if (ts.isVariableDeclaration(node) && node.initializer) {
      const init = node.initializer;
      if (
        ts.isIdentifier(node.name) &&
        (ts.isStringLiteral(init) || ts.isNoSubstitutionTemplateLiteral(init))
      )
        constants.add(node.name.text);
      if (ts.isIdentifier(node.name)) {
        initializers.set(node.name.text, init.getText(source));
        if (
          ts.isNewExpression(init) &&
          ts.isIdentifier(init.expression) &&
          /^bull(mq)?#Queue$/.test(bindings.get(init.expression.text) ?? '')
        ) {
          queues.add(node.name.text);
        }
      } else if (ts.isObjectBindingPattern(node.name) && !requireOf(init)) {
        for (const element of node.name.elements) {
          if (ts.isIdentifier(element.name))
            initializers.set(element.name.text, `${init.getText(source)}.${element.name.text}`);
        }
      }
      const required = requireOf(init);
      if (required) {
        if (ts.isIdentifier(node.name)) bindings.set(node.name.text, `${required}#*`);
        else if (ts.isObjectBindingPattern(node.name)) {
          for (const element of node.name.elements) {
            if (!ts.isIdentifier(element.name)) continue;
            const imported =
              element.propertyName && ts.isIdentifier(element.propertyName)
                ? element.propertyName.text
                : element.name.text;
            bindings.set(element.name.text, `${required}#${imported}`);
          }
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return { bindings, constants, initializers, queues };
}

function requireOf(node: ts.Expression): string | null {
  if (
    ts.isCallExpression(node) &&
    ts.isIdentifier(node.expression) &&
    node.expression.text === 'require'
  ) {
    const arg = node.arguments[0];
    if (arg && ts.isStringLiteral(arg)) return moduleName(arg.text);
  }
  return null;
}

/** `exec(...)` or `cp.exec(...)`: the `module#export` it resolves to, else null. */
function callee(file: NodeFile, call: ts.CallExpression | ts.NewExpression): string | null {
  const expr = call.expression;
  if (ts.isIdentifier(expr)) return file.bindings.get(expr.text) ?? null;
  if (ts.isPropertyAccessExpression(expr) && ts.isIdentifier(expr.expression)) {
    const base = file.bindings.get(expr.expression.text);
    if (base?.endsWith('#*') || base?.endsWith('#default'))
      return `${base.split('#')[0]}#${expr.name.text}`;
  }
  return null;
}

function forEachCall(
  file: NodeFile,
  visit: (call: ts.CallExpression | ts.NewExpression) => void,
): void {
  const walk = (node: ts.Node): void => {
    if (ts.isCallExpression(node) || ts.isNewExpression(node)) visit(node);
    ts.forEachChild(node, walk);
  };
  walk(file.source);
}

function finding(file: NodeFile, node: ts.Node, message: string, severity?: Severity): RawFinding {
  const start = file.source.getLineAndCharacterOfPosition(node.getStart(file.source));
  const end = file.source.getLineAndCharacterOfPosition(node.getEnd());
  const result: RawFinding = {
    message,
    location: {
      path: file.path,
      startLine: start.line + 1,
      startColumn: start.character + 1,
      endLine: end.line + 1,
      endColumn: end.character + 1,
    },
    evidence: snippet(file.text, start.line + 1),
  };
  if (severity) result.severity = severity;
  return result;
}

/** A whole command line built at run time: template with substitutions, concatenation, or a variable. */
function dynamicCommand(file: NodeFile, arg: ts.Expression | undefined): boolean {
  if (!arg) return false;
  if (ts.isStringLiteral(arg) || ts.isNoSubstitutionTemplateLiteral(arg)) return false;
  if (ts.isIdentifier(arg)) return !file.constants.has(arg.text);
  return (
    ts.isTemplateExpression(arg) ||
    ts.isBinaryExpression(arg) ||
    ts.isCallExpression(arg) ||
    ts.isPropertyAccessExpression(arg) ||
    ts.isElementAccessExpression(arg)
  );
}

/** The expression, or a variable it uses (followed up to three assignments back), reads job or request data. */
function isTainted(file: NodeFile, node: ts.Node, depth = 0): boolean {
  const text = node.getText(file.source);
  if (TAINT.test(text)) return true;
  if (depth >= 3) return false;
  for (const name of text.match(/[A-Za-z_$][\w$]*/g) ?? []) {
    const init = file.initializers.get(name);
    if (
      init &&
      (TAINT.test(init) ||
        (depth < 2 &&
          [...(init.match(/[A-Za-z_$][\w$]*/g) ?? [])].some(
            (inner) => inner !== name && TAINT.test(file.initializers.get(inner) ?? ''),
          )))
    )
      return true;
  }
  return false;
}

const TAINT =
  /\b(job\.data|jobData|req\.(body|query|params)|request\.(body|query)|ctx\.request|payload)\b/;
const CHILD = new Set(['child_process']);

export const node001 = defineRule({
  id: 'NODE-001',
  title: 'child_process.exec/execSync with a non-literal command',
  severity: 'high',
  target: 'node-src',
  covers: ['S1:JOB-006', 'S2:no-shell'],
  cwe: ['CWE-78'],
  description:
    'exec/execSync imported from child_process whose command is a template with substitutions, a concatenation or a non-constant variable (critical when it mentions job data or a request).',
  fix: 'execFile/spawn with an argv array and shell:false, allowlist validation, and -- before positional arguments.',
  check: async (context) => {
    const findings: RawFinding[] = [];
    for (const file of await nodeFiles(context)) {
      forEachCall(file, (call) => {
        const target = callee(file, call);
        if (!target || !CHILD.has(target.split('#')[0] as string)) return;
        const name = target.split('#')[1];
        if (name !== 'exec' && name !== 'execSync') return;
        const arg = call.arguments?.[0];
        if (!dynamicCommand(file, arg)) return;
        const tainted = arg !== undefined && isTainted(file, arg);
        findings.push(
          finding(
            file,
            call,
            `${name}() runs a shell on a command built at run time${tainted ? ' from job or request data' : ''}`,
            tainted ? 'critical' : 'high',
          ),
        );
      });
    }
    return outcome(findings);
  },
});

function shellOption(options: ts.Expression | undefined): ts.Node | null {
  if (!options || !ts.isObjectLiteralExpression(options)) return null;
  for (const prop of options.properties) {
    if (ts.isPropertyAssignment(prop) && prop.name.getText() === 'shell') {
      return prop.initializer.kind === ts.SyntaxKind.FalseKeyword ? null : prop;
    }
    if (ts.isShorthandPropertyAssignment(prop) && prop.name.text === 'shell') return prop;
  }
  return null;
}

export const node002 = defineRule({
  id: 'NODE-002',
  title: 'shell:true, sh -c <variable>, or execa command strings',
  severity: 'high',
  target: 'node-src',
  covers: ['S1:JOB-006', 'S2:no-shell'],
  cwe: ['CWE-78', 'CWE-88'],
  description:
    "(a) spawn/execFile/execa with a truthy shell option; (b) spawn('sh'|'bash', ['-c', <non-literal>]); (c) execaCommand(`…${x}…`), which splits on spaces (argument injection, medium).",
  fix: 'Argv arrays and shell:false; parseCommandString only on trusted strings.',
  check: async (context) => {
    const findings: RawFinding[] = [];
    for (const file of await nodeFiles(context)) {
      forEachCall(file, (call) => {
        const target = callee(file, call);
        if (!target) return;
        const [mod, name] = target.split('#') as [string, string];
        const list = call.arguments ?? ts.factory.createNodeArray();
        const spawnLike =
          (CHILD.has(mod) && /^(spawn|spawnSync|execFile|execFileSync|fork)$/.test(name)) ||
          (mod === 'execa' && /^(execa|execaSync|execaNode|default)$/.test(name));
        if (spawnLike) {
          const options = [...list].reverse().find((a) => ts.isObjectLiteralExpression(a));
          if (shellOption(options))
            findings.push(
              finding(
                file,
                call,
                `${name}() with the shell option: the arguments are parsed by a shell`,
              ),
            );
          const program = list[0];
          const argv = list[1];
          if (
            program &&
            ts.isStringLiteral(program) &&
            /^(\/bin\/)?(ba|da|z)?sh$/.test(program.text) &&
            argv &&
            ts.isArrayLiteralExpression(argv)
          ) {
            const flag = argv.elements[0];
            const script = argv.elements[1];
            if (
              flag &&
              ts.isStringLiteral(flag) &&
              flag.text === '-c' &&
              script &&
              !ts.isStringLiteral(script) &&
              !ts.isNoSubstitutionTemplateLiteral(script)
            ) {
              findings.push(
                finding(file, call, `${program.text} -c with a script built at run time`),
              );
            }
          }
        }
        if (
          mod === 'execa' &&
          /^execaCommand(Sync)?$/.test(name) &&
          dynamicCommand(file, list[0])
        ) {
          findings.push(
            finding(
              file,
              call,
              `${name}() splits a command built at run time on spaces (argument injection)`,
              'medium',
            ),
          );
        }
      });
    }
    return outcome(findings);
  },
});

const BULL_CLASSES = /^(Queue|Worker|QueueEvents|FlowProducer)$/;

function property(obj: ts.Expression | undefined, name: string): ts.Expression | null | undefined {
  if (!obj || !ts.isObjectLiteralExpression(obj)) return undefined;
  for (const prop of obj.properties) {
    if (ts.isPropertyAssignment(prop) && prop.name.getText().replace(/['"]/g, '') === name)
      return prop.initializer;
    if (ts.isShorthandPropertyAssignment(prop) && prop.name.text === name) return prop.name;
    if (ts.isSpreadAssignment(prop)) return null;
  }
  return undefined;
}

function remoteHost(value: string): boolean {
  return !/^(localhost|127\.|::1|\[::1\]|redis$|\/)/.test(value) && value !== '';
}

export const node003 = defineRule({
  id: 'NODE-003',
  title: 'BullMQ/Redis client configuration insecure or unbounded',
  severity: 'medium',
  target: 'node-src',
  covers: ['S1:JOB-022', 'S1:JOB-024', 'S1:JOB-025', 'S1:JOB-003'],
  cwe: ['CWE-306', 'CWE-770'],
  description:
    'new Queue/Worker/QueueEvents/FlowProducer without connection (defaults to localhost:6379); Queue defaultJobOptions without removeOnComplete/removeOnFail or with attempts > 10 and no backoff; ioredis/redis clients to a literal non-local host without password (high) or TLS.',
  fix: 'Auth plus TLS to remote Redis, bounded retention ({age, count}), backoff, sizeLimit.',
  check: async (context) => {
    const findings: RawFinding[] = [];
    for (const file of await nodeFiles(context)) {
      forEachCall(file, (call) => {
        const target = callee(file, call);
        if (!target) return;
        const [mod, name] = target.split('#') as [string, string];
        const list = call.arguments ?? ts.factory.createNodeArray();
        if (
          (mod === 'bullmq' || mod === 'bull') &&
          ts.isNewExpression(call) &&
          BULL_CLASSES.test(name)
        ) {
          const options = list[name === 'FlowProducer' ? 0 : 1];
          const connection = property(options, 'connection');
          if (connection === undefined && !(options && !ts.isObjectLiteralExpression(options))) {
            findings.push(
              finding(
                file,
                call,
                `new ${name}() without a connection falls back to an unauthenticated localhost:6379`,
              ),
            );
          }
          if (name === 'Queue') {
            const defaults = property(options, 'defaultJobOptions');
            if (
              defaults === undefined ||
              (defaults &&
                ts.isObjectLiteralExpression(defaults) &&
                (property(defaults, 'removeOnFail') === undefined ||
                  property(defaults, 'removeOnComplete') === undefined))
            ) {
              findings.push(
                finding(
                  file,
                  call,
                  'finished jobs are kept forever (no removeOnComplete/removeOnFail): payloads and stack traces accumulate in Redis',
                  'low',
                ),
              );
            }
            const attempts =
              defaults && ts.isObjectLiteralExpression(defaults)
                ? property(defaults, 'attempts')
                : undefined;
            if (
              attempts &&
              ts.isNumericLiteral(attempts) &&
              Number(attempts.text) > 10 &&
              property(defaults as ts.Expression, 'backoff') === undefined
            ) {
              findings.push(
                finding(
                  file,
                  attempts,
                  `attempts ${attempts.text} without backoff hammers the failing dependency`,
                ),
              );
            }
          }
        }
        const isClient =
          (mod === 'ioredis' && ts.isNewExpression(call)) ||
          (mod === 'redis' && name === 'createClient');
        if (!isClient) return;
        const first = list[0];
        if (first && (ts.isStringLiteral(first) || ts.isNoSubstitutionTemplateLiteral(first))) {
          try {
            const url = new URL(first.text);
            if (remoteHost(url.hostname) && !url.password)
              findings.push(
                finding(file, call, `Redis client to ${url.hostname} without a password`, 'high'),
              );
            else if (remoteHost(url.hostname) && url.protocol !== 'rediss:')
              findings.push(finding(file, call, `Redis client to ${url.hostname} without TLS`));
          } catch {
            // Not a URL (a host name or a path): judged by the options below.
          }
        }
        const options = [...list].find((a) => ts.isObjectLiteralExpression(a));
        const host = property(options, 'host');
        if (host && ts.isStringLiteral(host) && remoteHost(host.text)) {
          if (property(options, 'password') === undefined)
            findings.push(
              finding(file, call, `Redis client to ${host.text} without a password`, 'high'),
            );
          else if (property(options, 'tls') === undefined)
            findings.push(finding(file, call, `Redis client to ${host.text} without TLS`));
        }
      });
    }
    return outcome(findings);
  },
});

export const node004 = defineRule({
  id: 'NODE-004',
  title: 'Request data or secrets placed into job data',
  severity: 'medium',
  target: 'node-src',
  covers: ['S1:JOB-001', 'S1:JOB-002'],
  cwe: ['CWE-312', 'CWE-20'],
  description:
    'queue.add(name, data) / addBulk / createJob(data) where data contains req.body, req.query or ctx.request.body (medium), or has keys named like secrets (high): BullMQ stores data as plain JSON in Redis.',
  fix: 'Pass IDs, validate with a schema (zod .parse()), encrypt sensitive fields in the application.',
  check: async (context) => {
    const findings: RawFinding[] = [];
    for (const file of await nodeFiles(context)) {
      forEachCall(file, (call) => {
        if (!ts.isCallExpression(call) || !ts.isPropertyAccessExpression(call.expression)) return;
        const method = call.expression.name.text;
        const owner = call.expression.expression.getText(file.source);
        const dataIndex =
          method === 'add' ? 1 : method === 'createJob' ? 0 : method === 'addBulk' ? 0 : -1;
        if (dataIndex < 0 || !(file.queues.has(owner) || /queue/i.test(owner))) return;
        const data = call.arguments[dataIndex];
        if (!data) return;
        const text = data.getText(file.source);
        if (/\.parse\(|safeParse\(/.test(text)) return;
        const secretKeys: string[] = [];
        const visit = (node: ts.Node): void => {
          if (
            (ts.isPropertyAssignment(node) || ts.isShorthandPropertyAssignment(node)) &&
            isSecretName(node.name.getText(file.source))
          ) {
            secretKeys.push(node.name.getText(file.source));
          }
          ts.forEachChild(node, visit);
        };
        visit(data);
        if (secretKeys.length > 0) {
          findings.push(
            finding(
              file,
              call,
              `job data carries ${secretKeys.join(', ')} in plaintext JSON`,
              'high',
            ),
          );
        } else if (/\b(req|request)\.(body|query|params)\b|ctx\.request\.body/.test(text)) {
          findings.push(finding(file, call, 'raw request data is put into the job unvalidated'));
        }
      });
    }
    return outcome(findings);
  },
});

/** Node source files that were parsed, for the report's scope section. */
export async function countNodeFiles(context: ProjectContext): Promise<number> {
  return (await nodeFiles(context)).length;
}
