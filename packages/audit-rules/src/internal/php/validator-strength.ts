// What a "shell-safe" check really lets through. A validator is judged by running it, not by
// its name: a PHP regex is compiled as a JavaScript RegExp and tried on probe strings; a
// blocklist (a literal list of forbidden characters) is compared with the same probes.

/** Characters and sequences that matter once a value reaches a shell command or a path. */
const PROBES: readonly { text: string; means: string }[] = [
  { text: ' ', means: 'spaces' },
  { text: "'", means: 'single quotes' },
  { text: '"', means: 'double quotes' },
  { text: '#', means: '#' },
  { text: ';', means: ';' },
  { text: '|', means: '|' },
  { text: '&', means: '&' },
  { text: '$(', means: '$(' },
  { text: '`', means: 'backticks' },
  { text: '\n', means: 'newlines' },
  { text: '/../', means: '..' },
];

export interface Strength {
  /** True when nothing in `lets` can break a shell word or leave a directory. */
  strict: boolean;
  /** Plain words for what passes: `spaces`, `single quotes`, `#`, `..`, `a leading -`. */
  lets: string[];
}

/** A PHP preg pattern (`/^[a-z]+$/i`) as a JavaScript RegExp; null when it cannot be read. */
export function phpRegex(pattern: string): RegExp | null {
  const open = pattern[0];
  if (!open || /[\w\s\\]/.test(open)) return null;
  const close = { '(': ')', '{': '}', '[': ']', '<': '>' }[open] ?? open;
  const end = pattern.lastIndexOf(close);
  if (end <= 0) return null;
  const flags = [...pattern.slice(end + 1)].filter((f) => 'imsu'.includes(f)).join('');
  // PCRE's \A and \z/\Z anchors (JavaScript reads them as the letters A and z).
  const source = pattern
    .slice(1, end)
    .replace(/(^|[^\\])\\A/g, '$1^')
    .replace(/\\[zZ]$/, '$');
  try {
    return new RegExp(source, flags);
  } catch {
    return null;
  }
}

/** What a whitelist regex (`preg_match('/^[\w.\/ -]+$/', $x)` must match) lets through. */
export function regexStrength(pattern: string): Strength | null {
  const regex = phpRegex(pattern);
  if (!regex) return null;
  // A character the pattern accepts, to surround each probe with ("a b" rather than " ").
  // Paths must often start with a slash (`/^\/[\w.\/-]+$/`).
  const base = ['a', '1', 'x', 'A', '/a']
    .flatMap((c) => [c, c.repeat(2), c.repeat(8)])
    .find((candidate) => regex.test(candidate));
  if (base === undefined) return null;
  const lets = PROBES.filter(({ text }) => regex.test(`${base}${text}${base}`)).map((p) => p.means);
  if (regex.test(`-${base}`) || regex.test(`-${base.slice(1)}`)) lets.push('a leading -');
  const dangerous = lets.filter((l) => l !== 'a leading -');
  return { strict: dangerous.length === 0, lets };
}

/** What a blocklist (the literal characters a check refuses) lets through. */
export function blocklistStrength(refused: readonly string[]): Strength {
  const lets = PROBES.filter(
    ({ text }) => !refused.some((r) => r.length > 0 && text.includes(r)),
  ).map((p) => p.means);
  if (!refused.includes('-')) lets.push('a leading -');
  return { strict: lets.every((l) => l === 'a leading -'), lets };
}

/**
 * A `preg_replace('/[^allowed]/', '', $v)` that strips every character able to break a shell
 * word (dots and slashes may stay: a host name or an IP address needs them).
 */
export function strippingIsSafe(pattern: string): boolean {
  const regex = phpRegex(pattern);
  if (!regex?.source.startsWith('[^')) return false;
  return PROBES.filter((p) => p.means !== '..').every(({ text }) =>
    [...text].some((c) => regex.test(c)),
  );
}
