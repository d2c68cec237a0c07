/** What a redacted secret is replaced with. */
export const REDACTED = '[REDACTED]';

// Redaction must remove secrets and nothing else: a queue name, a host or `true` replaced in
// every output line makes the logs useless. (The daemon's logger applies the same rules.)

// Words that make a variable name secret: DB_PASSWORD, STRIPE_SECRET_KEY, SENTRY_DSN.
const SECRET_WORDS = new Set([
  'PASS',
  'PASSWORD',
  'PASSWD',
  'PASSPHRASE',
  'PWD',
  'TOKEN',
  'SECRET',
  'KEY',
  'APIKEY',
  'AUTH',
  'DSN',
  'CREDENTIAL',
  'CREDENTIALS',
  'PRIVATE',
  'SALT',
  'SIGNATURE',
]);
// The same words glued to others (DBPASSWORD): only unambiguous ones, so MONKEY stays plain.
const SECRET_INFIX = /PASSWORD|PASSWD|SECRET|TOKEN|APIKEY|CREDENTIAL|PRIVATEKEY/;
// A last word that says the value is about the secret, not the secret: KEY_PREFIX, TOKEN_TTL,
// AUTH_DRIVER, PASSWORD_FILE.
const NOT_SECRET_LAST = new Set(
  (
    'PREFIX SUFFIX NAME ID FILE PATH DIR HOST PORT USER USERNAME URL URI ENDPOINT TTL TIMEOUT ' +
    'EXPIRY EXPIRES LIFETIME ENABLED DISABLED LENGTH SIZE COUNT TYPE MODE DRIVER GUARD ' +
    'PROVIDER METHOD ALGORITHM ALGO HEADER REGION VERSION'
  ).split(' '),
);
// Settings even under a secret-looking name (AUTH=true, REDIS_PASSWORD=null).
const PLAIN_VALUE = /^(?:true|false|yes|no|on|off|null|none|nil|empty|\d{1,5})$/i;
const MIN_SECRET_LENGTH = 4;
// An opaque value under a plain name (a random key, a hex digest) is a secret; hostnames,
// paths, queue names and UUIDs are made of short words and are not.
const OPAQUE_RUN = 20;

// Common token shapes, redacted even when nobody configured them.
const PATTERNS: readonly [RegExp, string][] = [
  // Credentials in URLs: scheme://user:password@host
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/]*:)[^\s@/]+@/gi, `$1${REDACTED}@`],
  // Authorization headers.
  // The scheme is case-insensitive (RFC 7235): `bearer xyz` is a credential too. A credential
  // has a digit, a symbol or an inner capital: "Token verification failed" is a phrase.
  [
    /\b([Bb][Ee][Aa][Rr][Ee][Rr]|Basic|Token)\s+(?=[A-Za-z0-9._~+/-]*(?:[0-9=+/._~-]|[a-z][A-Z]))[A-Za-z0-9._~+/-]{8,}=*/g,
    `$1 ${REDACTED}`,
  ],
  // password=..., api_key: ..., secret="..."
  [
    /\b((?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key)\w*["']?\s*[=:]\s*["']?)[^\s"'&,;]+/gi,
    `$1${REDACTED}`,
  ],
  // JSON web tokens.
  [/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, REDACTED],
  // AWS access key ids, GitHub, Slack and Stripe tokens.
  [/\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g, REDACTED],
  [/\bgh[pousr]_[A-Za-z0-9]{30,}\b/g, REDACTED],
  [/\bxox[abposr]-[A-Za-z0-9-]{10,}/g, REDACTED],
  [/\b[rs]k_(?:live|test)_[A-Za-z0-9]{10,}/g, REDACTED],
];

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Whether a variable name says its value is a secret (`DB_PASSWORD`, `API_KEY`). */
export function isSecretName(name: string): boolean {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toUpperCase()
    .split(/[^A-Z0-9]+/)
    .filter(Boolean);
  const last = words.at(-1);
  if (last === undefined || NOT_SECRET_LAST.has(last)) return false;
  return words.some((word) => SECRET_WORDS.has(word) || SECRET_INFIX.test(word));
}

/**
 * Whether a value looks like a generated secret whatever its name: a run of 20+ letters and
 * digits that mixes them often (a random token, a hex digest), or a long base64 blob.
 * `redis-primary.internal.example.com`, `/var/log/app`, `emails-high-priority` and UUIDs do not.
 */
export function isOpaqueValue(value: string): boolean {
  if (/\s/.test(value)) return false;
  if (/^[A-Za-z0-9+/]{40,}={0,2}$/.test(value) && switches(value) >= 6) return true;
  return value.split(/[^A-Za-z0-9]+/).some((run) => run.length >= OPAQUE_RUN && switches(run) >= 4);
}

// Letter/digit alternations: a word with a number (`worker2024`, `V2`) has one, a token many.
function switches(text: string): number {
  return text.match(/[A-Za-z](?=\d)|\d(?=[A-Za-z])/g)?.length ?? 0;
}

/** The configured values that must never reach a log line. */
export function secretValues(
  env: Readonly<Record<string, string>>,
  extra: readonly string[],
): string[] {
  const values = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    if (name === 'PATH' || value.length < MIN_SECRET_LENGTH) continue;
    if ((isSecretName(name) && !PLAIN_VALUE.test(value)) || isOpaqueValue(value)) {
      values.add(value);
    }
  }
  for (const value of extra) if (value.length > 0) values.add(value);
  return [...values];
}

/** Builds a function that redacts configured secrets and common token patterns from a line. */
export function createRedactor(secrets: readonly string[]): (line: string) => string {
  // Longest first, so a secret that contains another is replaced whole.
  const sorted = [...secrets].sort((a, b) => b.length - a.length);
  const literal = sorted.length > 0 ? new RegExp(sorted.map(escapeRegExp).join('|'), 'g') : null;
  return (line) => {
    let out = literal ? line.replace(literal, REDACTED) : line;
    for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
    return out;
  };
}
