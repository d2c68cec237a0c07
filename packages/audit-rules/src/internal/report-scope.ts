import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { PhpIndex } from './php/index-project.js';

// What a report says about what it audited, beside its findings: the commit checked out, the
// queued classes by category, and the one-line summary of source files that did not parse.

const CATEGORIES: [string, RegExp][] = [
  ['Deployment', /Deploy|Rollback|PullRequest|Build/],
  ['Server', /Server|Install|Validate|Provision/],
  ['Database', /Backup|Restore|Database/],
  ['Container', /Container|Docker|Volume|Proxy/],
  ['Monitoring', /Sentinel|Check|Status|Heartbeat|Metrics/],
  ['Notifications', /Send|Notify|Mail|Message|Webhook/],
];

export function categorize(names: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of names) {
    const category = CATEGORIES.find(([, regex]) => regex.test(name))?.[0] ?? 'Other';
    out[category] = (out[category] ?? 0) + 1;
  }
  return out;
}

/** The commit checked out at `path`, read from .git files (no git process). */
export async function gitSha(path: string): Promise<string | null> {
  let dir = path;
  for (let i = 0; i < 20; i++) {
    const gitDir = join(dir, '.git');
    const head = await readFile(join(gitDir, 'HEAD'), 'utf8').catch(() => null);
    if (head !== null) {
      const ref = /^ref: (.+)$/m.exec(head)?.[1];
      if (!ref) return head.trim() || null;
      const loose = await readFile(join(gitDir, ref), 'utf8').catch(() => null);
      if (loose) return loose.trim();
      const packed = await readFile(join(gitDir, 'packed-refs'), 'utf8').catch(() => '');
      return (
        new RegExp(`^([0-9a-f]{40}) ${ref.replace(/[/.]/g, '\\$&')}$`, 'm').exec(packed)?.[1] ??
        null
      );
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return null;
}

/** `1 PHP file(s) could not be parsed, 2 parsed in part` (a part never counts as parsed). */
export function parseErrorSummary(errors: PhpIndex['parseErrors']): string {
  const partial = errors.filter((error) => error.regions).length;
  const failed = errors.length - partial;
  const parts = [
    ...(failed > 0 ? [`${failed} PHP file(s) could not be parsed`] : []),
    ...(partial > 0 ? [`${partial} PHP file(s) parsed only in part`] : []),
  ];
  return parts.join(', ');
}
