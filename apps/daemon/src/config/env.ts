// `${NAME}` and `${NAME:-default}` references in configuration values. They are replaced as
// text, never executed: there is no command substitution, no nesting, no arithmetic.

const REFERENCE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export type Environment = Readonly<Record<string, string | undefined>>;

export type Substitution =
  | { ok: true; value: string; changed: boolean }
  | { ok: false; message: string };

/**
 * Replaces every reference in `text`. `$$` stands for a literal `$`. A variable that is unset
 * (or empty, as in the shell's `:-`) takes its default; without a default it is an error.
 */
export function substituteEnv(text: string, env: Environment): Substitution {
  if (!text.includes('$')) return { ok: true, value: text, changed: false };
  // Whatever still holds `${` once every well-formed reference is removed is one we cannot
  // read: say so rather than pass a half-substituted value on.
  const leftover = text.replace(REFERENCE, '');
  const stray = leftover.indexOf('${');
  if (stray !== -1) {
    const excerpt = leftover.slice(stray, stray + 24);
    return {
      ok: false,
      message: `malformed environment reference "${excerpt}": expected \${NAME} or \${NAME:-default}`,
    };
  }
  const missing: string[] = [];
  const value = text.replace(REFERENCE, (whole, name: string | undefined, fallback?: string) => {
    if (whole === '$$') return '$';
    const found = env[name ?? ''];
    if (found !== undefined && found !== '') return found;
    if (fallback !== undefined) return fallback;
    missing.push(name ?? '');
    return '';
  });
  if (missing.length > 0) {
    const names = missing.map((name) => `\${${name}}`).join(', ');
    const verb = missing.length === 1 ? 'is' : 'are';
    return {
      ok: false,
      message: `environment variable ${names} ${verb} not set and has no default (write \${NAME:-default})`,
    };
  }
  return { ok: true, value, changed: value !== text };
}
