import {
  P_ARGV_CRED,
  P_DOCKER_DANGER,
  P_DOCKER_NAME_CMD,
  P_DUMP,
  P_GIT,
  P_GIT_CRED_URL,
  P_HOSTKEY,
  P_PIPE_SH,
  P_PKG,
  P_S3,
  P_SSH,
} from '../patterns.js';
import { line, type PhpNode } from '../php/ast.js';
import type { FlatCommand, Operand } from '../php/command.js';
import type { ScopeInfo } from '../php/scopes.js';
import type { ProjectContext, RawFinding } from '../types.js';
import { defineRule } from './define.js';
import {
  at,
  atLine,
  describeOperands,
  judgedByProvenance,
  laravelAnalysis,
  outcome,
  textFiles,
  unsafeOperands,
} from './helpers.js';

// Command-construction rules (JOB-006 family): each unsafe operand of a shell sink is owned by
// the most specific rule whose pattern the command matches, so one bug is one finding.

type Owner = 'JOB-015' | 'JOB-016' | 'JOB-010' | 'JOB-011' | 'JOB-014' | 'JOB-019' | 'JOB-006';

const REF_NAME = /(commit|sha|ref|branch|tag|rollback|image_?tag)/i;

function ownerOf(command: FlatCommand, operand: Operand): Owner {
  const text = command.text;
  if (P_DUMP.test(text)) return 'JOB-015';
  if (P_S3.test(text)) return 'JOB-016';
  if (
    (P_GIT.test(text) || /docker\s+(pull|tag|run)\b/.test(text)) &&
    REF_NAME.test(operand.label)
  ) {
    return 'JOB-010';
  }
  if (P_SSH.test(text)) return 'JOB-011';
  if (P_PKG.test(text)) return 'JOB-014';
  // The name position: right after `docker rm|exec|volume rm ...` and its flags.
  const before = text.slice(0, operand.offset);
  if (new RegExp(`${P_DOCKER_NAME_CMD.source}(\\s+-{1,2}[\\w-]+(=\\S+)?)*\\s+['"]?$`).test(before))
    return 'JOB-019';
  return 'JOB-006';
}

function sinkFindings(
  context: ProjectContext,
  owner: Owner,
  describe: (ops: string, sink: string) => string,
): RawFinding[] {
  const findings: RawFinding[] = [];
  for (const sink of laravelAnalysis(context).sinks) {
    for (const command of sink.commands) {
      const mine = unsafeOperands(command).filter((op) => ownerOf(command, op) === owner);
      if (mine.length === 0) continue;
      // By-design user commands (a stored `command` attribute run inside single quotes with
      // '\'' escaping) are JOB-027's manual item, not an injection.
      findings.push(
        judgedByProvenance(
          at(sink.info.file, command.node, describe(describeOperands(mine), sink.sink)),
          mine,
          sink.sink,
        ),
      );
    }
  }
  return findings;
}

export const job006 = defineRule({
  id: 'JOB-006',
  title: 'Shell command built by interpolation reaches a shell sink (PHP)',
  severity: 'critical',
  target: 'laravel-src',
  covers: ['S1:JOB-006', 'S1:JOB-012', 'S1:JOB-020', 'S2:no-shell'],
  cwe: ['CWE-78'],
  description:
    'An interpolated value that is neither escaped (escapeshellarg, a configured escaper, a cast) nor of trusted origin reaches exec/shell_exec/system/Process::run(string) or a remote-exec helper.',
  fix: 'Use argv arrays (Process::run([...])); otherwise escapeshellarg every operand and validate it against an allowlist.',
  check: (context) =>
    outcome(
      sinkFindings(
        context,
        'JOB-006',
        (ops, sink) => `${ops} interpolated unescaped into a command run by ${sink}`,
      ),
    ),
});

export const job010 = defineRule({
  id: 'JOB-010',
  title: 'Rollback/redeploy ref (commit, tag, image tag) not validated',
  severity: 'critical',
  target: 'laravel-src',
  covers: ['S1:JOB-010'],
  cwe: ['CWE-78', 'CWE-88'],
  description:
    'A git or docker pull/tag/run command interpolates a ref-like variable without escapeshellarg or a ref validator; a ref starting with "-" is also option injection.',
  fix: 'Validate refs (^[0-9a-f]{7,40}$ or an allowlisted branch/tag), escapeshellarg them and put -- / --end-of-options before them.',
  check: (context) =>
    outcome(
      sinkFindings(
        context,
        'JOB-010',
        (ops) =>
          `git/docker ref ${ops} reaches the command unescaped and unvalidated (option or command injection)`,
      ),
    ),
});

export const job011 = defineRule({
  id: 'JOB-011',
  title: 'SSH/SCP command builder interpolates user, host, port or paths',
  severity: 'critical',
  target: 'laravel-src',
  covers: ['S1:JOB-011', 'S1:JOB-012'],
  cwe: ['CWE-78'],
  description:
    'An ssh/scp/rsync command interpolates user, host, port, key or path operands without escaping.',
  fix: 'escapeshellarg user, host and port; validate IP/hostname/user on write; prefer argv arrays.',
  check: (context) =>
    outcome(
      sinkFindings(context, 'JOB-011', (ops) => `ssh/scp operand ${ops} is interpolated unescaped`),
    ),
});

export const job014 = defineRule({
  id: 'JOB-014',
  title: 'Package/provisioning command with an unvalidated name',
  severity: 'critical',
  target: 'laravel-src',
  covers: ['S1:JOB-014'],
  cwe: ['CWE-78', 'CWE-88'],
  description:
    'apt/dnf/yum/apk/pacman install commands with interpolated package names that are neither allowlisted nor escaped.',
  fix: "Allowlist ^[a-zA-Z0-9._+:-]+$ without a leading '-', escapeshellarg, and pass -- before names.",
  check: (context) =>
    outcome(
      sinkFindings(
        context,
        'JOB-014',
        (ops) => `package operand ${ops} reaches the package manager unescaped`,
      ),
    ),
});

export const job015 = defineRule({
  id: 'JOB-015',
  title: 'Backup/restore dump command with injectable DB name, user or path',
  severity: 'critical',
  target: 'laravel-src',
  covers: ['S1:JOB-015', 'S1:JOB-017'],
  cwe: ['CWE-78'],
  description:
    'pg_dump/mysqldump/mongodump/... commands whose database, user or path operands are interpolated without escaping.',
  fix: 'escapeshellarg every operand and validate identifiers against an allowlist pattern.',
  check: (context) =>
    outcome(
      sinkFindings(
        context,
        'JOB-015',
        (ops) => `dump/restore operand ${ops} is interpolated unescaped (CVE-2025-66209 pattern)`,
      ),
    ),
});

export const job016 = defineRule({
  id: 'JOB-016',
  title: 'Object-storage credentials unescaped or on the command line',
  severity: 'high',
  target: 'laravel-src',
  covers: ['S1:JOB-016'],
  cwe: ['CWE-78', 'CWE-214'],
  description:
    'mc alias set / aws configure set / s3cmd with interpolated key, secret or endpoint: unescaped is injectable (critical); escaped still puts credentials in argv (medium).',
  fix: 'Escape every operand and pass credentials through the environment or a 0600 credentials file.',
  check: (context) => {
    const findings = sinkFindings(
      context,
      'JOB-016',
      (ops) =>
        `storage credential operand ${ops} is interpolated unescaped: a crafted secret injects commands`,
    );
    for (const sink of laravelAnalysis(context).sinks) {
      for (const command of sink.commands) {
        if (!P_S3.test(command.text) || unsafeOperands(command).length > 0) continue;
        if (command.operands.length === 0) continue;
        findings.push(
          at(
            sink.info.file,
            command.node,
            'storage credentials are escaped but still passed on the command line (visible in /proc/*/cmdline and command logs)',
            'medium',
          ),
        );
      }
    }
    return outcome(findings);
  },
});

export const job019 = defineRule({
  id: 'JOB-019',
  title: 'Container/volume/network identifier not validated or escaped',
  severity: 'high',
  target: 'laravel-src',
  covers: ['S1:JOB-019', 'S1:JOB-020'],
  cwe: ['CWE-78'],
  description:
    'docker rm/stop/exec/logs/volume rm/network ... with a name or id operand that is neither escaped nor validated.',
  fix: 'Validate names on write (container/volume/network patterns) and escapeshellarg them on use.',
  check: (context) =>
    outcome(
      sinkFindings(
        context,
        'JOB-019',
        (ops) => `docker resource name ${ops} is interpolated unescaped (CVE-2026-34168 pattern)`,
      ),
    ),
});

export const job006q = defineRule({
  id: 'JOB-006Q',
  title: 'Double quotes, escapeshellcmd or addslashes used as "escaping"',
  severity: 'high',
  target: 'laravel-src',
  covers: ['S1:JOB-006', 'S1:JOB-008', 'S1:JOB-027'],
  cwe: ['CWE-78'],
  description:
    'A value reaching a shell sink is wrapped in double quotes (where $(), backticks and $VAR still expand), escapeshellcmd (still allows arbitrary arguments) or addslashes.',
  fix: "Single-quote with '\\'' escaping (what escapeshellarg does) or use argv arrays.",
  check: (context) => {
    const findings: RawFinding[] = [];
    for (const sink of laravelAnalysis(context).sinks) {
      for (const command of sink.commands) {
        const weak = command.operands.filter(
          (op) =>
            !op.safe &&
            op.provenance !== 'trusted' &&
            (op.quote === 'double' || op.weakEscape !== null),
        );
        if (weak.length === 0) continue;
        const how = weak
          .map((op) =>
            `${op.label} ${op.weakEscape ? `via ${op.weakEscape}` : ''}${op.quote === 'double' ? ' inside double quotes' : ''}`.trim(),
          )
          .join(', ');
        findings.push(
          judgedByProvenance(
            at(sink.info.file, command.node, `${how}: not shell escaping`),
            weak,
            sink.sink,
          ),
        );
      }
    }
    return outcome(findings);
  },
});

/** Text-pattern rules over every PHP string expression plus scripts of the given kinds. */
function textPattern(
  context: ProjectContext,
  test: (text: string) => boolean,
  message: (text: string) => string,
  kinds: ('shell' | 'dockerfile' | 'compose')[],
): Promise<RawFinding[]> {
  const findings: RawFinding[] = [];
  const seen = new Set<string>();
  for (const { info, command } of laravelAnalysis(context).strings) {
    if (!test(command.text)) continue;
    const key = `${info.file.path}:${line(command.node)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    findings.push(at(info.file, command.node, message(command.text)));
  }
  return scanTextFiles(context, kinds, test, message).then((more) => [...findings, ...more]);
}

async function scanTextFiles(
  context: ProjectContext,
  kinds: ('shell' | 'dockerfile' | 'compose')[],
  test: (text: string) => boolean,
  message: (text: string) => string,
): Promise<RawFinding[]> {
  const findings: RawFinding[] = [];
  for (const kind of kinds) {
    for (const path of textFiles(context, kind)) {
      const text = await context.tree.read(path);
      if (text === null) continue;
      const lines = text.split('\n');
      for (const [index, raw] of lines.entries()) {
        if (/^\s*#/.test(raw) && kind !== 'dockerfile') continue;
        if (test(raw)) findings.push(atLine(path, text, index + 1, message(raw)));
      }
    }
  }
  return findings;
}

export const job007h = defineRule({
  id: 'JOB-007H',
  title: 'SSH host-key verification disabled',
  severity: 'medium',
  target: 'laravel-src',
  covers: ['S1:JOB-007', 'S1:JOB-011'],
  cwe: ['CWE-295'],
  description:
    'StrictHostKeyChecking=no or UserKnownHostsFile=/dev/null in PHP strings, GIT_SSH_COMMAND or shell scripts.',
  fix: 'Pin host keys per server (StrictHostKeyChecking=yes with a managed known_hosts), or accept-new with a stored record.',
  check: async (context) =>
    outcome(
      await textPattern(
        context,
        (t) => P_HOSTKEY.test(t),
        () => 'SSH host-key verification is disabled (machine-in-the-middle on every connection)',
        ['shell'],
      ),
    ),
});

export const job013 = defineRule({
  id: 'JOB-013',
  title: 'Download-and-execute installer (curl … | sh)',
  severity: 'medium',
  target: 'laravel-src',
  covers: ['S1:JOB-013', 'S1:JOB-014'],
  cwe: ['CWE-494'],
  description: 'curl/wget output piped into a shell, in PHP strings, shell scripts or Dockerfiles.',
  fix: 'Pin versions and verify checksums or signatures; prefer signed package repositories (signed-by=).',
  check: async (context) =>
    outcome(
      await textPattern(
        context,
        (t) => P_PIPE_SH.test(t),
        () => 'a downloaded script is piped straight into a shell without verification',
        ['shell', 'dockerfile'],
      ),
    ),
});

export const job020 = defineRule({
  id: 'JOB-020',
  title: 'Dangerous container flags in orchestration commands',
  severity: 'high',
  target: 'laravel-src',
  covers: ['S1:JOB-020', 'S1:JOB-023'],
  cwe: ['CWE-250'],
  description:
    'docker.sock mounts, --privileged, --pid/--network host, --cap-add SYS_ADMIN/ALL in command strings and compose files (docker socket access equals root on the host).',
  fix: 'Avoid these flags; use a socket proxy with an allowlist, rootless Docker, read-only mounts; document accepted exceptions with a suppression.',
  check: async (context) => {
    const compose = (t: string) =>
      P_DOCKER_DANGER.test(t) ||
      /^\s*(privileged:\s*true|pid:\s*["']?host|network_mode:\s*["']?host)/.test(t);
    const strings = await textPattern(
      context,
      (t) => P_DOCKER_DANGER.test(t),
      (t) => `container started with ${P_DOCKER_DANGER.exec(t)?.[0] ?? 'a dangerous flag'}`,
      ['shell'],
    );
    const files = await scanTextFiles(
      context,
      ['compose'],
      compose,
      (t) => `compose service uses ${t.trim()}`,
    );
    // A flag written into the product's own command or compose file is a design decision
    // (a deployment tool needs the socket): a review item, to accept once with a reason.
    // In PHP it is a flag the application gives the containers it orchestrates (medium, one
    // finding per flag with its places); in the compose files and scripts that deploy the
    // application itself, its own workers get root on their host (high).
    const review = [...strings, ...files].map((finding): RawFinding => {
      if (!/\.php$/.test(finding.location.path ?? '')) return { ...finding, confidence: 'review' };
      const flag = /container started with (.+)$/.exec(finding.message)?.[1] ?? finding.message;
      return { ...finding, confidence: 'review', severity: 'medium', group: `flag ${flag}` };
    });
    return outcome(review);
  },
});

export const job021 = defineRule({
  id: 'JOB-021',
  title: 'Containers started without resource limits',
  severity: 'low',
  target: 'laravel-src',
  covers: ['S1:JOB-021'],
  cwe: ['CWE-770'],
  description:
    'docker run commands without --memory/--cpus/--pids-limit (short-lived --rm helpers excepted).',
  fix: 'Set per-plan default limits and a pids limit; monitor usage.',
  check: async (context) =>
    outcome(
      await textPattern(
        context,
        (t) =>
          /\bdocker\s+run\b/.test(t) &&
          !/--rm\b/.test(t) &&
          !/--memory|--cpus|--pids-limit|-m\s/.test(t),
        () =>
          'docker run without --memory, --cpus or --pids-limit: one tenant container can starve the host',
        ['shell'],
      ),
    ),
});

export const job008 = defineRule({
  id: 'JOB-008',
  title: 'Secrets passed as Docker build args or baked into images',
  severity: 'high',
  target: 'laravel-src',
  covers: ['S1:JOB-008'],
  cwe: ['CWE-532', 'CWE-538'],
  description:
    "--build-arg NAME=… where NAME is secret-like, and Dockerfile ARG/ENV with secret-like names (Docker's SecretsUsedInArgOrEnv).",
  fix: 'Use BuildKit secrets: --secret id=X,env=X and RUN --mount=type=secret.',
  check: async (context) => {
    const buildArg = /--build-arg\s+['"]?(\w*(SECRET|TOKEN|PASS|KEY|DSN)\w*)=/gi;
    // `SECRETS_HASH`, `TOKEN_SHA256`: a digest of secrets (a cache key), not the secret.
    const digest = /_(HASH|DIGEST|CHECKSUM|SHA\d*|FINGERPRINT)$/i;
    const strings = await textPattern(
      context,
      (t) => [...t.matchAll(buildArg)].some((m) => !digest.test(m[1] ?? '')),
      () => 'a secret is passed as a docker build arg: it stays in the image history',
      ['shell'],
    );
    const dockerfile =
      /^\s*(ARG|ENV)\s+\w*(SECRET|TOKEN|PASSWORD|PASSWD|API_KEY|PRIVATE_KEY|ACCESS_KEY|DSN)\w*/i;
    const files = await scanTextFiles(
      context,
      ['dockerfile'],
      (t) => dockerfile.test(t),
      (t) => `${t.trim().split(/\s+/)[0]} with a secret name is kept in the image metadata`,
    );
    return outcome([...strings, ...files]);
  },
});

export const job007 = defineRule({
  id: 'JOB-007',
  title: 'Git credentials embedded in clone/fetch URLs or argv',
  severity: 'medium',
  target: 'laravel-src',
  covers: ['S1:JOB-007'],
  cwe: ['CWE-522', 'CWE-214'],
  description:
    'A credential URL (user:token@, x-access-token:) flows into a git command, or a private key is written with echo … | base64 -d > ~/.ssh/id_*, without post-clone scrubbing.',
  fix: 'Use -c http.extraHeader, a credential helper or GIT_ASKPASS; scrub remotes and delete .git before building images; hide such commands from logs.',
  check: (context) => {
    const findings: RawFinding[] = [];
    // Same function: a credential URL built in one string and a git command in another.
    const byScope = new Map<
      ScopeInfo,
      { info: ScopeInfo; texts: { text: string; node: PhpNode }[] }
    >();
    for (const { info, command } of laravelAnalysis(context).strings) {
      const entry = byScope.get(info) ?? { info, texts: [] };
      entry.texts.push({ text: command.text, node: command.node });
      byScope.set(info, entry);
    }
    for (const { info, texts } of byScope.values()) {
      const credential = texts.find((t) => P_GIT_CRED_URL.test(t.text));
      const git = texts.some((t) => P_GIT.test(t.text));
      const key = texts.find((t) => /base64\s+-d\s*>\s*\S*\.ssh\/id_/.test(t.text));
      const hit = credential && git ? credential : key;
      if (!hit) continue;
      if (/git\s+remote\s+set-url|config\s+--unset|rm\s+-rf\s+\S*\.git\b/.test(info.file.text))
        continue;
      findings.push(
        at(
          info.file,
          hit.node,
          hit === key
            ? 'a private key is written into ~/.ssh through the command line'
            : 'git credentials travel in the clone URL (argv, process list) and stay in .git/config (no scrubbing found)',
        ),
      );
    }
    return outcome(findings);
  },
});

export const job015c = defineRule({
  id: 'JOB-015C',
  title: 'Database credentials on the command line',
  severity: 'medium',
  target: 'laravel-src',
  covers: ['S1:JOB-015', 'S1:JOB-016', 'S1:JOB-009'],
  cwe: ['CWE-214'],
  description:
    'Dump or DB-client invocations with -p<password>, --password=, PGPASSWORD=, MYSQL_PWD=, credential URLs or --requirepass: argv is readable through /proc/*/cmdline and ends up in command logs.',
  fix: 'Pass credentials through the environment, --env-file, 0600 option files or stdin.',
  check: async (context) => {
    const test = (t: string) => (P_DUMP.test(t) || /redis-server/.test(t)) && P_ARGV_CRED.test(t);
    const findings = await textPattern(
      context,
      test,
      () => 'a database password is passed on the command line',
      ['shell', 'compose'],
    );
    // `$VAR` references expand inside the target container: still argv, but lower risk.
    for (const finding of findings) {
      if (/(-p|--password[= ]|--requirepass\s+)\$\{?[A-Z_]+/.test(finding.evidence ?? ''))
        finding.severity = 'low';
    }
    return outcome(findings);
  },
});
