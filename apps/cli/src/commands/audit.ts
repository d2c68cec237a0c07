import { writeFile } from 'node:fs/promises';
import {
  AuditError,
  type AuditOptions,
  type AuditProgress,
  type AuditReport,
  auditExitCode,
  baselineFrom,
  formatJson,
  formatMarkdown,
  formatSarif,
  RULES,
  readBaseline,
  readManualAnswers,
  runAudit,
  type Severity,
} from '@qscale/audit-rules';
import { ConfigError, formatProblem, loadConfig } from '@qscale/daemon/config';
import { closest, UsageError } from '../internal/args.js';
import { plural } from '../internal/format.js';
import { type CliIo, EXIT, type ExitCode, line } from '../internal/io.js';
import type { AuditArgs } from '../specs/audit.js';

/** Trees with fewer PHP files than this finish before a progress line would help. */
const PROGRESS_MIN_FILES = 200;

type Format = 'markdown' | 'json' | 'sarif';

export async function run({ values }: AuditArgs, io: CliIo): Promise<ExitCode> {
  // The parser checked both against the declared choices (specs/audit.ts).
  const format = values.format as Format;
  const failOn = values['fail-on'] as Severity | 'none';
  if (!values.config && !values.redis && !values.path && !values.host) {
    throw new UsageError(
      'nothing to audit: give at least one of --config, --redis, --path, --host',
    );
  }

  checkRuleIds(values.disable);

  const options: AuditOptions = {
    includeTests: values['include-tests'],
    host: values.host,
    queueData: !values['no-queue-data'],
    onProgress: progressLine(io),
    ...(values.disable.length > 0 ? { disable: values.disable } : {}),
    ...(values['remote-sink'].length > 0 ? { remoteSinks: values['remote-sink'] } : {}),
    ...(values.escaper.length > 0 ? { escapers: values.escaper } : {}),
    ...(values.validator.length > 0 ? { validators: values.validator } : {}),
    ...(values.redactor.length > 0 ? { redactors: values.redactor } : {}),
  };
  try {
    if (values.config) {
      options.config = await loadConfig(values.config, { env: io.env });
      options.configPath = values.config;
    }
    if (values.path) options.path = values.path;
    if (values.redis) options.redis = redisTarget(values.redis, io);
    if (values.manual) options.manualAnswers = await readManualAnswers(values.manual);
    if (values.baseline) {
      options.baseline = await readBaseline(values.baseline);
      options.baselinePath = values.baseline;
    }
    const report = await runAudit(options);
    await emit(report, format, values.output, values['sarif-include-runtime'], io);
    if (values['write-baseline']) {
      const baseline = baselineFrom(report, 'accepted when the baseline was written; review');
      await writeFile(values['write-baseline'], `${JSON.stringify(baseline, null, 2)}\n`);
      line(
        io.stderr,
        `wrote ${plural(baseline.findings.length, 'finding')} to ${values['write-baseline']}`,
      );
    }
    return auditExitCode(report, {
      failOn,
      allowPartial: values['allow-partial'],
      failOnManual: values['fail-on-manual'],
    }) as ExitCode;
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const problem of error.problems) line(io.stderr, formatProblem(problem));
      line(io.stderr, `qscale audit: ${error.file}: ${plural(error.problems.length, 'problem')}`);
      return EXIT.usage;
    }
    if (error instanceof AuditError) {
      line(io.stderr, `qscale audit: ${error.message}`);
      return EXIT.usage;
    }
    throw error;
  }
}

/** `--disable` names rules by id; a typo would silently audit everything. */
function checkRuleIds(ids: readonly string[]): void {
  const known = RULES.map((rule) => rule.id);
  for (const id of ids) {
    if (known.includes(id)) continue;
    const near = closest(id, known);
    throw new UsageError(
      `--disable ${id}: no such rule${near ? ` (did you mean ${near}?)` : ''}; expected one of ${known.join(', ')}`,
    );
  }
}

/**
 * The Redis to audit. A password may come from QSCALE_AUDIT_REDIS_PASSWORD instead of the URL,
 * so it never sits in the process list.
 */
function redisTarget(url: string, io: CliIo): NonNullable<AuditOptions['redis']> {
  const password = io.env.QSCALE_AUDIT_REDIS_PASSWORD;
  const username = io.env.QSCALE_AUDIT_REDIS_USERNAME;
  return {
    url,
    ...(password ? { password } : {}),
    ...(username ? { username } : {}),
  };
}

async function emit(
  report: AuditReport,
  format: Format,
  output: string | undefined,
  includeRuntime: boolean,
  io: CliIo,
): Promise<void> {
  const text =
    format === 'json'
      ? formatJson(report)
      : format === 'sarif'
        ? formatSarif(report, { includeRuntime })
        : formatMarkdown(report);
  if (output === undefined) {
    io.stdout.write(text);
    return;
  }
  await writeFile(output, text);
  const { critical, high, medium, low, review, suppressed } = report.summary;
  line(
    io.stdout,
    `${output}: ${critical} critical, ${high} high, ${medium} medium, ${low} low, ${review} to review (origin unknown), ${suppressed} suppressed`,
  );
}

/** One line per quarter of the files indexed, on stderr (stdout may be the report). */
function progressLine(io: CliIo): (progress: AuditProgress) => void {
  let lastQuarter = -1;
  return (progress) => {
    if (progress.phase !== 'index' || progress.total < PROGRESS_MIN_FILES) return;
    const quarter = Math.floor((progress.done / progress.total) * 4);
    if (quarter === lastQuarter) return;
    lastQuarter = quarter;
    const failed = progress.failed ?? 0;
    const parsed = progress.done - failed;
    const unparsed = failed > 0 ? `, ${failed} could not be parsed in full` : '';
    line(
      io.stderr,
      `scanning: ${progress.done}/${progress.total} PHP files read, ${parsed} parsed${unparsed}`,
    );
  };
}
