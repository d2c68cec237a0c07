import { findSecrets, oneLine, redactSecret } from '../patterns.js';
import { column, line, type PhpNode } from '../php/ast.js';
import type { FlatCommand, Operand } from '../php/command.js';
import type { PhpFile } from '../php/index-project.js';
import { buildFacts, keyOf, type ProjectFacts } from '../php/project-facts.js';
import {
  enclosingFunction,
  type ScopeInfo,
  type SinkCall,
  scopesOf,
  sinksIn,
  stringsIn,
} from '../php/scopes.js';
import type { CheckOutcome, ProjectContext, RawFinding, Severity } from '../types.js';

export function outcome(findings: RawFinding[], unknown?: string): CheckOutcome {
  return unknown === undefined ? { findings } : { findings, unknown };
}

/** A source line as evidence: one line, at most 160 characters, secrets redacted. */
export function snippet(text: string, lineNumber: number): string {
  const raw = text.split('\n')[lineNumber - 1] ?? '';
  return redactText(raw, 160);
}

/** Command-line credentials (P-ARGV-CRED): the value after the flag, when it is a literal. */
const ARGV_SECRET =
  /(\s-p|--password[= ]|\bPGPASSWORD=|\bMYSQL_PWD=|--requirepass\s+|redis-cli\s.*?\s-a\s+)("[^"]+"|'[^']+'|[^\s'"]+)/g;

function redactArgv(raw: string): string {
  return raw.replace(ARGV_SECRET, (whole, flag: string, value: string) => {
    const bare = value.replace(/^["']|["']$/g, '');
    if (/^(\$|\{\$)/.test(bare) || (flag === 's-p' && /^\d/.test(bare))) return whole;
    return `${flag}[${redactSecret(bare)}]`;
  });
}

export function redactText(text: string, max = 200): string {
  const raw = redactArgv(text);
  const secrets = findSecrets(raw);
  if (secrets.length === 0) return oneLine(raw, max);
  // Redact from the last match backwards so earlier offsets stay valid.
  let out = raw;
  for (const match of [...secrets].sort((a, b) => b.index - a.index)) {
    out = `${out.slice(0, match.index)}[${match.patternId}: ${redactSecret(match.match)}]${out.slice(match.index + match.match.length)}`;
  }
  return oneLine(out, max);
}

export function at(
  file: PhpFile,
  node: PhpNode | null,
  message: string,
  severity?: Severity,
): RawFinding {
  const startLine = line(node);
  const finding: RawFinding = {
    message,
    location: {
      path: file.path,
      startLine,
      startColumn: column(node),
      endLine: node?.loc?.end.line ?? startLine,
    },
    evidence: snippet(file.text, startLine),
  };
  if (severity) finding.severity = severity;
  return finding;
}

export function atLine(
  path: string,
  text: string,
  lineNumber: number,
  message: string,
  severity?: Severity,
): RawFinding {
  const finding: RawFinding = {
    message,
    location: { path, startLine: lineNumber, startColumn: 1, endLine: lineNumber },
    evidence: snippet(text, lineNumber),
  };
  if (severity) finding.severity = severity;
  return finding;
}

export function lineOf(text: string, index: number): number {
  let count = 1;
  for (let i = 0; i < index && i < text.length; i++) if (text.charCodeAt(i) === 10) count++;
  return count;
}

interface LaravelAnalysis {
  scopes: ScopeInfo[];
  facts: ProjectFacts;
  sinks: SinkCall[];
  strings: { info: ScopeInfo; command: FlatCommand }[];
}

const cache = new WeakMap<object, LaravelAnalysis>();

/** Scopes, shell sinks and string expressions of every PHP file, computed once per run. */
export function laravelAnalysis(context: ProjectContext): LaravelAnalysis {
  let analysis = cache.get(context.php);
  if (!analysis) {
    const scopes = context.php.files.flatMap((file) =>
      scopesOf(file, context.php, context.options),
    );
    const facts = buildFacts(scopes, context.php);
    analysis = {
      scopes,
      facts,
      sinks: scopes.flatMap(sinksIn).map((sink) => atCallers(sink, facts)),
      strings: scopes.flatMap((info) => stringsIn(info).map((command) => ({ info, command }))),
    };
    cache.set(context.php, analysis);
  }
  return analysis;
}

/**
 * Inside a wrapper that the project calls, a parameter reaching the sink is judged at each
 * call (with the caller's value), not here with "origin unknown".
 */
function atCallers(sink: SinkCall, facts: ProjectFacts): SinkCall {
  // In a closure, the parameters are those of the function it is written in (unless the
  // closure's own parameters hide them: its caller is whatever invokes the closure).
  const { info, shadowed } = enclosingFunction(sink.info);
  const key = keyOf(info);
  if (!key || !facts.called.has(key)) return sink;
  return {
    ...sink,
    commands: sink.commands.map((command) => ({
      ...command,
      operands: command.operands.filter((op) => op.param === undefined || shadowed.has(op.param)),
    })),
  };
}

/** Operands that make a command injectable: not escaped and not of trusted provenance. */
export function unsafeOperands(command: FlatCommand): Operand[] {
  return command.operands.filter(
    (op) =>
      !op.safe &&
      op.provenance !== 'trusted' &&
      !(op.quote === 'single' && /base64/.test(op.label)),
  );
}

/**
 * Judges an injection by where its operands come from: a user-controlled one makes it critical
 * and traced. Operands of unknown origin make a review item: high when one is a parameter of a
 * function the project never calls by name (an entry point whose caller is out of sight: an
 * action, a command, a public method), medium otherwise (a call's result, a file listing: the
 * many places where the origin is simply not modelled). Injections into the same sink function
 * are grouped.
 */
export function judgedByProvenance(
  finding: RawFinding,
  operands: readonly Operand[],
  sink: string,
): RawFinding {
  const traced = operands.some((op) => op.provenance === 'untrusted');
  const entryParameter = operands.some((op) => op.param !== undefined);
  finding.severity = traced ? 'critical' : entryParameter ? 'high' : 'medium';
  if (!traced) finding.confidence = 'review';
  finding.group = sink;
  return finding;
}

export function describeOperands(operands: readonly Operand[]): string {
  return operands
    .map(
      (op) =>
        `${op.label} (${op.provenance === 'untrusted' ? 'user-controlled' : 'origin unknown'})`,
    )
    .join(', ');
}

/** Non-PHP text files by kind, for rules that read scripts, Dockerfiles and compose files. */
export function textFiles(
  context: ProjectContext,
  kind: 'shell' | 'dockerfile' | 'compose' | 'ini',
): string[] {
  return context.tree.files.filter((path) => {
    const base = path.split('/').at(-1) ?? path;
    switch (kind) {
      case 'shell':
        return /\.(sh|bash)$/.test(base);
      case 'dockerfile':
        return /^Dockerfile/.test(base) || /\.dockerfile$/i.test(base);
      case 'compose':
        return /^(docker-)?compose[\w.-]*\.ya?ml$/.test(base);
      case 'ini':
        return /\.ini$/.test(base);
    }
    return false;
  });
}
