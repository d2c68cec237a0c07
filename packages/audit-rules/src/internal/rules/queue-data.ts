import { findSecrets, isSecretName, redactSecret } from '../patterns.js';
import type { SampledItem } from '../queue-sample.js';
import type { QueueDataContext, RawFinding } from '../types.js';
import { defineRule } from './define.js';
import { outcome } from './helpers.js';

const ENCRYPTED = /^eyJpdiI6/;

function where(context: QueueDataContext, item: SampledItem) {
  return { resource: `${context.ref} ${item.key} ${item.field}` };
}

/** The text of a Laravel payload's serialized command, when it is plaintext PHP serialize. */
function plaintextCommand(item: SampledItem): string | null {
  try {
    const parsed = JSON.parse(item.value) as { data?: { command?: unknown } };
    const command = parsed.data?.command;
    if (typeof command !== 'string' || ENCRYPTED.test(command)) return null;
    return command.startsWith('O:') ? command : null;
  } catch {
    return null;
  }
}

/** Secret-named keys of a JSON document whose values are non-empty strings. */
function secretKeys(json: string): string[] {
  const names: string[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) {
        if (typeof inner === 'string' && inner.length >= 6 && isSecretName(key)) names.push(key);
        else visit(inner);
      }
    }
  };
  try {
    visit(JSON.parse(json));
  } catch {
    return [];
  }
  return names;
}

/** Property names of a serialized PHP object whose values are strings, for secret names. */
function serializedSecretProps(command: string): string[] {
  const names = new Set<string>();
  for (const match of command.matchAll(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: PHP serialize() writes NUL bytes around member prefixes
    /s:\d+:"(?:\x00[^\x00"]{1,200}\x00)?([A-Za-z_][\w]*)";s:\d+:"([^"]*)"/g,
  )) {
    if (isSecretName(match[1] as string) && (match[2] ?? '').length > 0)
      names.add(match[1] as string);
  }
  return [...names];
}

export const rdq001 = defineRule({
  id: 'RDQ-001',
  title: 'Plaintext job payloads containing secrets',
  severity: 'high',
  target: 'queue-data',
  covers: ['S1:JOB-002'],
  cwe: ['CWE-312'],
  description:
    'Sampled Laravel/Horizon payloads whose data.command is plaintext PHP serialize (O:…, not the encrypted eyJpdiI6 envelope) and BullMQ job data, scanned with P-SECRETS and secret-named properties. Only class and property names are reported.',
  fix: 'Apply the JOB-002 fix (ShouldBeEncrypted / pass IDs), rotate the exposed secrets, then purge the affected jobs.',
  check: (context) => {
    const findings: RawFinding[] = [];
    for (const item of context.sample.items) {
      if (item.state === 'failed') continue;
      let text: string | null = null;
      let props: string[] = [];
      if (item.system === 'bullmq' && item.field === 'data') {
        text = item.value;
        props = secretKeys(item.value);
      } else if (item.system !== 'bullmq') {
        text = plaintextCommand(item);
        props = text ? serializedSecretProps(text) : [];
      }
      if (text === null) continue;
      // Secret-named properties are already listed by name; the pattern adds nothing there.
      const patterns = [
        ...new Set(
          findSecrets(text)
            .filter((s) => s.patternId !== 'php-serialized-secret-prop' || props.length === 0)
            .map((s) => `${s.patternId} ${redactSecret(s.match)}`),
        ),
      ];
      if (props.length === 0 && patterns.length === 0) continue;
      const what = [
        props.length > 0 ? `properties ${props.join(', ')}` : '',
        patterns.length > 0 ? `values ${patterns.join('; ')}` : '',
      ]
        .filter(Boolean)
        .join(' and ');
      findings.push({
        message: `${item.name ?? 'a job'} in ${item.key} carries ${what} in plaintext`,
        location: where(context, item),
        evidence:
          `${item.system} ${item.state} job ${item.name ?? ''}: ${props.map((p) => `${p}=<redacted>`).join(' ')}`.trim(),
        key: `${item.key}:${item.field}:${item.name ?? ''}`,
      });
    }
    return outcome(findings);
  },
});

const SQL_BINDING = /SQL: [^\n]*?(token|password|secret|api_key)["`]?\s*=\s*'?[A-Za-z0-9]{16,}/i;

export const rdq002 = defineRule({
  id: 'RDQ-002',
  title: 'Failed-job records that leak secrets',
  severity: 'high',
  target: 'queue-data',
  covers: ['S1:JOB-005', 'S1:JOB-025'],
  cwe: ['CWE-209', 'CWE-532'],
  description:
    "Horizon failed jobs' exception field and BullMQ failedReason/stacktrace scanned with P-SECRETS (DSNs, bot tokens in Guzzle 'for https://…' URIs, git tokens) and SQL bindings of QueryException messages.",
  fix: 'Redact exception messages, prune failed jobs, rotate the leaked secrets.',
  check: (context) => {
    const findings: RawFinding[] = [];
    for (const item of context.sample.items) {
      if (item.state !== 'failed') continue;
      const secrets = findSecrets(item.value);
      const sql = SQL_BINDING.exec(item.value);
      if (secrets.length === 0 && !sql) continue;
      const kinds = [...new Set(secrets.map((s) => s.patternId))];
      if (sql) kinds.push(`SQL binding of ${sql[1]}`);
      findings.push({
        message:
          `failed job ${item.name ?? ''} in ${item.key} keeps ${kinds.join(', ')} in its ${item.field}`.replace(
            '  ',
            ' ',
          ),
        location: where(context, item),
        evidence:
          secrets.map((s) => `${s.patternId}: ${redactSecret(s.match)}`).join('; ') ||
          'SQL binding value redacted',
        key: `${item.key}:${item.field}`,
      });
    }
    return outcome(findings);
  },
});

export const rdq003 = defineRule({
  id: 'RDQ-003',
  title: 'Oversized payloads',
  severity: 'low',
  target: 'queue-data',
  covers: ['S1:JOB-003'],
  cwe: ['CWE-770'],
  description:
    'Sampled payload sizes (list items, zset members, BullMQ data): low above payloadWarnBytes (256 KiB), high above payloadHighBytes (1 MiB).',
  fix: 'Apply the JOB-003 fix; BullMQ sizeLimit.',
  check: (context) => {
    const findings: RawFinding[] = [];
    for (const item of context.sample.items) {
      if (item.field !== 'data' && item.system === 'bullmq') continue;
      if (item.field === 'exception') continue;
      if (item.sizeBytes <= context.options.payloadWarnBytes) continue;
      const high = item.sizeBytes > context.options.payloadHighBytes;
      findings.push({
        message: `${item.name ?? 'a job'} payload in ${item.key} is ${item.sizeBytes} bytes (limit ${high ? context.options.payloadHighBytes : context.options.payloadWarnBytes})`,
        severity: high ? 'high' : 'low',
        location: where(context, item),
        key: `${item.key}:${item.field}`,
      });
    }
    return outcome(findings);
  },
});

export const rdq004 = defineRule({
  id: 'RDQ-004',
  title: 'Unexpected job classes or encryption downgrade (injection indicator)',
  severity: 'critical',
  target: 'queue-data',
  covers: ['S1:JOB-001', 'S1:JOB-002', 'S1:JOB-022'],
  cwe: ['CWE-502'],
  description:
    "Laravel payload classes absent from the scanned project's queued-class inventory and from the vendor allowlist, and classes known to be ShouldBeEncrypted appearing with a plaintext O: command (workers unserialize any O: payload).",
  fix: 'Lock down Redis (RDS-001/002/007), separate prefixes/DBs per application, investigate the origin of the job.',
  check: (context) => {
    if (!context.knownClasses)
      return outcome([], 'no Laravel project was scanned to compare job classes with (use --path)');
    const findings: RawFinding[] = [];
    const reported = new Set<string>();
    for (const item of context.sample.items) {
      if (item.system === 'bullmq' || (item.field !== 'payload' && !item.field.startsWith('[')))
        continue;
      const name = item.name;
      if (!name) continue;
      const vendor = context.options.vendorClassPrefixes.some((prefix) => name.startsWith(prefix));
      const plaintext = plaintextCommand(item) !== null;
      if (!vendor && !context.knownClasses.has(name) && !reported.has(`${item.key}:${name}`)) {
        reported.add(`${item.key}:${name}`);
        findings.push({
          message: `${name} in ${item.key} is not a queued class of the scanned project`,
          location: where(context, item),
          key: `${item.key}:${name}:unknown`,
        });
      }
      if (
        plaintext &&
        context.encryptedClasses?.has(name) &&
        !reported.has(`${item.key}:${name}:downgrade`)
      ) {
        reported.add(`${item.key}:${name}:downgrade`);
        findings.push({
          message: `${name} implements ShouldBeEncrypted but a plaintext payload of it sits in ${item.key}`,
          location: where(context, item),
          key: `${item.key}:${name}:downgrade`,
        });
      }
    }
    return outcome(findings);
  },
});
