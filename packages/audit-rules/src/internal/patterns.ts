import { createHash } from 'node:crypto';

// Shared pattern definitions of the catalogue (§0.3). Every regex here is linear enough to
// run over whole files: bounded repetitions, no nested quantifiers over the same characters.

/** P-SECRET-NAME: identifiers that name a secret, minus ids, counts and the like. */
const SECRET_NAME =
  /(secret|token|passw(or)?d|passwd|pwd|api[_-]?key|private[_-]?key|credential|webhook(?:_?url)?(?![a-z_])|dsn|access[_-]?key|bearer|authorization)/i;
const NOT_SECRET_SUFFIX =
  /(Id|Ids|Count|Length|Type|Name|At|Ttl|UrlId|_id|_ids|_count|_at|_type|_name|_ttl|_length)$/;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name) && !NOT_SECRET_SUFFIX.test(name);
}

export interface SecretPattern {
  id: string;
  regex: RegExp;
}

/** P-SECRETS: the secret pattern library (gitleaks, detect-secrets and the catalogue's own). */
export const SECRET_PATTERNS: readonly SecretPattern[] = [
  { id: 'aws-access-key', regex: /\b((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b/g },
  {
    id: 'private-key',
    regex:
      /-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----[\s\S-]{64,}?KEY(?: BLOCK)?-----/gi,
  },
  { id: 'github-token', regex: /\b(?:ghp|ghu|ghs)_[0-9a-zA-Z]{36}\b/g },
  { id: 'gitlab-pat', regex: /\bglpat-[\w-]{20}/g },
  {
    id: 'slack-webhook',
    regex:
      /(?:https?:\/\/)?hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9+/]{43,56}/g,
  },
  { id: 'stripe', regex: /\b(?:sk|rk)_(?:test|live|prod)_[a-zA-Z0-9]{10,99}/g },
  { id: 'telegram-bot', regex: /api\.telegram\.org\/bot[0-9]{5,16}:A[a-zA-Z0-9_-]{34}/g },
  {
    id: 'jwt',
    regex: /\bey[a-zA-Z0-9]{17,}\.ey[a-zA-Z0-9/\\_-]{17,}\.(?:[a-zA-Z0-9/\\_-]{10,}={0,2})?/g,
  },
  { id: 'bearer', regex: /Bearer\s+[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+/g },
  {
    id: 'url-credentials',
    regex:
      /\b(?:https?|postgres(?:ql)?|mysql|mongodb(?:\+srv)?|rediss?|mariadb|amqps?|ftp|sftp|ssh|ldaps?|s3):\/\/[^:/\s'"@]+:([^@\s'"]+)@/gi,
  },
  { id: 'git-token-in-url', regex: /(?:x-access-token|oauth2|gitlab-ci-token):[^@\s'"]+@/g },
  { id: 'laravel-app-key', regex: /base64:[A-Za-z0-9+/]{43}=/g },
  {
    id: 'discord-webhook',
    regex: /https:\/\/discord(?:app)?\.com\/api\/webhooks\/\d+\/[\w-]+/g,
  },
  {
    id: 'php-serialized-secret-prop',
    // s:N:"<\0Class\0>name";s:N:"value" — private/protected members carry NUL-delimited prefixes.
    regex:
      // biome-ignore lint/suspicious/noControlCharactersInRegex: PHP serialize() writes NUL bytes around member prefixes
      /s:\d+:"(?:\x00[^\x00"]{1,200}\x00)?(?:token|secret|password|webhookurl|apikey|api_key|privatekey|dsn)";s:\d+:"[^"]+"/gi,
  },
];

/** Values that are obviously not live secrets: placeholders, redaction markers, variables. */
const PLACEHOLDER =
  /^(?:<[^>]*>|\*+|x+|\.\.\.|…|changeme|change-me|secret|pass|passwd|password|pw|pwd|null|none|example|your[_-]?\w*|\$\{[^}]*\}|\$[A-Za-z_]+|%[a-z_]+%|\{\{[^}]*\}\})$/i;
const REDACTED_MARKER = /<REDACTED>|\[REDACTED\]|\*\*\*\*/i;

export interface SecretMatch {
  patternId: string;
  /** The full matched text (never printed: pass it to `redactSecret`). */
  match: string;
  /** Offset of the match in the scanned text. */
  index: number;
}

/** Runs P-SECRETS over `text`; skips placeholders and already-redacted values. */
export function findSecrets(text: string): SecretMatch[] {
  const found: SecretMatch[] = [];
  for (const { id, regex } of SECRET_PATTERNS) {
    regex.lastIndex = 0;
    for (const match of text.matchAll(regex)) {
      const value = match[1] ?? match[0];
      if (PLACEHOLDER.test(value) || REDACTED_MARKER.test(match[0])) continue;
      // A variable reference in source (`{$token}`, `${TOKEN}`, `:$password@`) is not a literal secret.
      if (id !== 'private-key' && /\{\$|\$\{|:\$[A-Za-z_]|^\$[A-Za-z_]/.test(value)) continue;
      if (id === 'git-token-in-url' && /:(\{\$|\$\{|\$[A-Za-z_])/.test(match[0])) continue;
      if (id === 'url-credentials' && /^\$|\{\{|\$\{/.test(value)) continue;
      // A redaction regex (`x-access-token:.*?(?=@)`) describes tokens, it does not hold one.
      if (id !== 'private-key' && /\.[*+]\??|\(\?[=!:]|\[\^/.test(value)) continue;
      found.push({ patternId: id, match: match[0], index: match.index ?? 0 });
    }
  }
  return found;
}

/**
 * The only way a secret appears in a report: its first 4 characters, its length and a
 * sha256 prefix, so the same secret can be recognised across reports without being shown.
 */
export function redactSecret(secret: string): string {
  const digest = createHash('sha256').update(secret).digest('hex').slice(0, 12);
  return `${secret.slice(0, 4)}… (${secret.length} chars, sha256:${digest})`;
}

/** A one-line excerpt of `text` around `index` with the secret replaced by its redaction. */
export function redactedExcerpt(text: string, match: SecretMatch, width = 40): string {
  const start = Math.max(0, match.index - width);
  const end = Math.min(text.length, match.index + match.match.length + width);
  const before = text.slice(start, match.index);
  const after = text.slice(match.index + match.match.length, end);
  return oneLine(
    `${start > 0 ? '…' : ''}${before}[${match.patternId}: ${redactSecret(match.match)}]${after}${end < text.length ? '…' : ''}`,
  );
}

export function oneLine(text: string, max = 200): string {
  // NUL bytes (PHP private members) and control characters never reach a terminal.
  const flat = text
    // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
    .replace(/[\x00-\x1f\x7f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export const P_DUMP =
  /\b(pg_dump|pg_dumpall|pg_restore|psql|mysqldump|mariadb-dump|mysql|mariadb|mongodump|mongorestore|mongosh|redis-cli|clickhouse-client)\b/;
export const P_ARGV_CRED =
  /\s-p[^\s\d'"][^\s]*|\s-p"[^"]*"|--password[= ]\S+|\bPGPASSWORD=\S+|\bMYSQL_PWD=\S+|mongodb(\+srv)?:\/\/[^:\s/]+:[^@\s]+@|redis-cli\s.*\s-a\s+\S+|--requirepass\s+\S+/;
export const P_DOCKER_NAME_CMD =
  /docker\s+(rm|stop|start|restart|kill|exec|logs|inspect|pause|unpause|volume\s+rm|network\s+(connect|disconnect|rm))\b/;
export const P_DOCKER_DANGER =
  /\/var\/run\/docker\.sock|--privileged\b|--pid[= ]host\b|--network[= ]host\b|--net[= ]host\b|--cap-add[= ](SYS_ADMIN|ALL)\b|-v\s+\/:\/|--userns[= ]host\b/;
export const P_PIPE_SH =
  /(curl|wget)\b[^;&\n|]*\|\s*(sudo\s+)?(ba|z|da)?sh\b|(ba)?sh\s+<\(\s*(curl|wget)/;
export const P_PKG =
  /\b(apt(-get)?\s+(-\S+\s+)*(install|remove|purge)|dnf\s+(install|update|remove)|yum\s+(install|update)|zypper\s+(in|install|update)|pacman\s+-S|apk\s+add)\b/;
export const P_GIT =
  /\bgit\b[^;&|\n]*\b(clone|fetch|checkout|ls-remote|pull|submodule|archive|log|show)\b/;
export const P_GIT_CRED_URL =
  /https?:\/\/[^/\s'"@]*:[^@\s'"]+@|x-access-token:|oauth2:|gitlab-ci-token:/;
export const P_SSH = /\b(ssh|scp|rsync)\b/;
export const P_HOSTKEY = /StrictHostKeyChecking\s*=?\s*no\b|UserKnownHostsFile\s*=?\s*\/dev\/null/;
export const P_S3 =
  /\bmc\s+alias\s+set\b|\baws\s+configure\s+set\b|--s3-secret-access-key|AWS_SECRET_ACCESS_KEY=|s3cmd\b.*--secret_key/;
