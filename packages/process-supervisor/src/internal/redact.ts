/** What a redacted secret is replaced with. */
export const REDACTED = '[REDACTED]';

// Variable names whose values are secrets whatever they look like.
const SECRET_NAME =
  /PASS|SECRET|TOKEN|KEY|AUTH|CREDENTIAL|PRIVATE|DSN|SALT|SIGNATURE|COOKIE|SESSION/i;
// Long opaque values (no spaces, not a path) are treated as secrets even under a plain name.
const OPAQUE_VALUE = /^[^\s/]{24,}$/;
const MIN_SECRET_LENGTH = 4;

// Common token shapes, redacted even when nobody configured them.
const PATTERNS: readonly [RegExp, string][] = [
  // Credentials in URLs: scheme://user:password@host
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/]*:)[^\s@/]+@/gi, `$1${REDACTED}@`],
  // Authorization headers.
  [/\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/-]{8,}=*/g, `$1 ${REDACTED}`],
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

/** The configured values that must never reach a log line. */
export function secretValues(
  env: Readonly<Record<string, string>>,
  extra: readonly string[],
): string[] {
  const values = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    if (name === 'PATH' || value.length < MIN_SECRET_LENGTH) continue;
    if (SECRET_NAME.test(name) || OPAQUE_VALUE.test(value)) values.add(value);
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
