// What counts as a secret in qscale's logs: the daemon's own lines and its workers' output
// apply the same rules. Redaction must remove secrets and nothing else: replacing ordinary
// values (queue names, hosts, `true`) garbles every line that mentions them and teaches
// operators to ignore the logs.

/** What a redacted value is replaced with. */
export const REDACTED = '[redacted]';

// Words that make a variable (or field) name secret: DB_PASSWORD, STRIPE_SECRET_KEY, apiKey.
const SECRET_WORDS = new Set(
  (
    'PASS PASSWORD PASSWD PASSPHRASE PWD TOKEN SECRET KEY APIKEY AUTH DSN CREDENTIAL ' +
    'CREDENTIALS PRIVATE SALT SIGNATURE'
  ).split(' '),
);
// The same words glued to others (DBPASSWORD, GITHUBTOKEN): only the unambiguous ones, so
// MONKEY or BYPASS stay ordinary.
const SECRET_INFIX = /PASSWORD|PASSWD|SECRET|TOKEN|APIKEY|CREDENTIAL|PRIVATEKEY/;
// A last word that says the value is about the secret, not the secret: KEY_PREFIX, TOKEN_TTL,
// AUTH_DRIVER, PASSWORD_FILE (a path).
const NOT_SECRET_LAST = new Set(
  (
    'PREFIX SUFFIX NAME ID FILE PATH DIR HOST PORT USER USERNAME URL URI ENDPOINT TTL TIMEOUT ' +
    'EXPIRY EXPIRES LIFETIME ENABLED DISABLED LENGTH SIZE COUNT TYPE MODE DRIVER GUARD ' +
    'PROVIDER METHOD ALGORITHM ALGO HEADER REGION VERSION'
  ).split(' '),
);
// Values that are settings even under a secret-looking name (AUTH=true, REDIS_PASSWORD=null).
const PLAIN_VALUE = /^(?:true|false|yes|no|on|off|null|none|nil|empty|\d{1,5})$/i;
const MIN_SECRET_LENGTH = 4;

/** Whether a variable or field name says its value is a secret (`DB_PASSWORD`, `apiKey`). */
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

/** Whether a value found under a secret name is worth redacting wherever it appears. */
export function isSecretValue(value: string): boolean {
  return value.length >= MIN_SECRET_LENGTH && !PLAIN_VALUE.test(value);
}

/** Passwords written inside URLs in `text` (`redis://:pw@host`), as written and decoded. */
export function urlPasswords(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/\b[a-z][a-z0-9+.-]*:\/\/[^:/\s@]*:([^@\s/]+)@/gi)) {
    const raw = match[1] as string;
    found.push(raw);
    try {
      const decoded = decodeURIComponent(raw);
      if (decoded !== raw) found.push(decoded);
    } catch {
      // Not percent-encoded after all: the raw form is enough.
    }
  }
  return found;
}

/** A pattern matching `word` in any case: `bearer` -> `[Bb][Ee][Aa][Rr][Ee][Rr]`. */
function anyCase(word: string): string {
  return [...word].map((c) => `[${c.toUpperCase()}${c}]`).join('');
}

// Common secret shapes, redacted even when nobody configured them.
const SHAPES: readonly [RegExp, string][] = [
  // Credentials in URLs: redis://user:password@host -> redis://user:[redacted]@host
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^:/\s@]*:)[^@\s/]+@/gi, `$1${REDACTED}@`],
  // Authorization credentials: the scheme in any case (RFC 7235). A credential has a digit, a
  // symbol or an inner capital (so the rest stays case-sensitive, no `i` flag): "Bearer
  // authentication" and "Token verification failed" are phrases.
  [
    new RegExp(
      `\\b(${['bearer', 'basic', 'token'].map(anyCase).join('|')})\\s+` +
        '(?=[A-Za-z0-9._~+/-]*(?:[0-9=+/._~-]|[a-z][A-Z]))[A-Za-z0-9._~+/-]{8,}=*',
      'g',
    ),
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

/** `text` with credentials in URLs, authorization values and well-known token shapes replaced. */
export function redactSecretShapes(text: string): string {
  let out = text;
  for (const [pattern, replacement] of SHAPES) out = out.replace(pattern, replacement);
  return out;
}
