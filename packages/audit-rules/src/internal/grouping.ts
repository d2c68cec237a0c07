import { createHash } from 'node:crypto';
import type { Finding, Occurrence } from './report-shape.js';

/**
 * Folds open findings of one rule into the same sink function (their `group`), with the same
 * severity and confidence, into one finding: the first place leads, and `places` lists them
 * all. A report of a wrapper used in 96 places then has one item to read, not 96.
 *
 * Suppressions and baselines apply to each place before grouping, so a group holds only open
 * places; its fingerprint covers every member's, so a new place re-opens an accepted group
 * (baselineFrom accepts the group by writing each member's fingerprint).
 */
export function groupRepeated(findings: readonly Finding[]): Finding[] {
  const groups = new Map<string, Finding[]>();
  const out: Finding[] = [];
  for (const finding of findings) {
    if (finding.status !== 'open' || finding.group === null) {
      out.push(finding);
      continue;
    }
    const key = [finding.ruleId, finding.group, finding.severity, finding.confidence].join('\0');
    const members = groups.get(key);
    if (members) members.push(finding);
    else groups.set(key, [finding]);
  }
  for (const members of groups.values()) {
    const [first, ...others] = members;
    if (first === undefined) continue;
    if (others.length === 0) {
      out.push(first);
      continue;
    }
    const fingerprints = members.map((m) => m.fingerprint).sort();
    out.push({
      ...first,
      fingerprint: `sha256:${createHash('sha256')
        .update(`group\0${fingerprints.join('\0')}`)
        .digest('hex')}`,
      message: `${first.message}; ${others.length} more ${others.length === 1 ? 'place' : 'places'} with the same sink`,
      places: members.map(
        (m): Occurrence => ({
          fingerprint: m.fingerprint,
          location: m.location,
          message: m.message,
          evidence: m.evidence,
        }),
      ),
    });
  }
  return out;
}
