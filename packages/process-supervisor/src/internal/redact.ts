import { isSecretName, isSecretValue, REDACTED, redactSecretShapes } from '@qscale/contracts';

// Worker output is redacted with the rules every qscale log line follows (@qscale/contracts),
// plus the values configured for this pool and opaque values whatever their name.

export { REDACTED };

// An opaque value under a plain name (a random key, a hex digest) is a secret; hostnames,
// paths, queue names and UUIDs are made of short words and are not.
const OPAQUE_RUN = 20;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
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
    if (name === 'PATH') continue;
    if ((isSecretName(name) && isSecretValue(value)) || isOpaqueValue(value)) {
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
    return redactSecretShapes(literal ? line.replace(literal, REDACTED) : line);
  };
}
