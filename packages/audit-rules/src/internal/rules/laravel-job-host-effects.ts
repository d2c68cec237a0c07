import type { RawFinding } from '../types.js';
import { defineRule } from './define.js';
import { at, laravelAnalysis, outcome } from './helpers.js';
import { sourceOf } from './laravel-job-sites.js';

// JOB-017, JOB-018: what a job does to data and disk on the host. Destructive restore steps with
// no confirmation guard, and temporary files or key material that are never removed.

export const job017 = defineRule({
  id: 'JOB-017',
  title: 'Destructive restore without guard',
  severity: 'medium',
  target: 'laravel-src',
  covers: ['S1:JOB-017'],
  cwe: ['CWE-749'],
  description:
    'In Restore/Import classes or methods: DROP DATABASE, dropdb, --clean, mongorestore --drop, FLUSHALL or rm -rf with no confirmation parameter in the flow.',
  fix: 'Require explicit confirmation and a dry run, restore into a new database then swap, validate paths against an allowed root, audit-log every restore.',
  check: (context) => {
    const findings: RawFinding[] = [];
    const destructive =
      /DROP\s+DATABASE|\bdropdb\b|--clean\b|mongorestore\b[^\n]*--drop|\bFLUSHALL\b|\brm\s+-rf\b/i;
    for (const { info, command } of laravelAnalysis(context).strings) {
      const where = `${info.cls?.shortName ?? ''} ${info.method ?? ''}`;
      if (!/restore|import/i.test(where) || !destructive.test(command.text)) continue;
      const guarded =
        /confirm|dry_?run/i.test(sourceOf(info)) ||
        [...info.scope.params].some((name) => /confirm|force/i.test(name));
      if (!guarded)
        findings.push(
          at(
            info.file,
            command.node,
            `destructive restore step (${destructive.exec(command.text)?.[0]}) runs without a confirmation guard`,
          ),
        );
    }
    return outcome(findings);
  },
});

export const job018 = defineRule({
  id: 'JOB-018',
  title: 'Temp files and key material not cleaned up',
  severity: 'low',
  target: 'laravel-src',
  covers: ['S1:JOB-018'],
  cwe: ['CWE-459'],
  description:
    'tempnam(), writes to /tmp, mktemp or Storage::put("tmp/…") in a function with no unlink/rm/Storage::delete/trap cleanup; key files (id_rsa, *.pem, credentials) written and never removed (medium).',
  fix: 'try/finally cleanup, trap \'rm -f "$f"\' EXIT in scripts, tmpfs, 0600 permissions.',
  check: (context) => {
    const findings: RawFinding[] = [];
    for (const info of laravelAnalysis(context).scopes) {
      if (info.method === null && info.cls === null) continue;
      const text = sourceOf(info);
      const writes = /file_put_contents\s*\(|->put\s*\(/.test(text);
      const creates =
        /\btempnam\s*\(|\bmktemp\b/.test(text) || (writes && /['"]\/?tmp\//.test(text));
      const key = writes && /id_rsa|id_ed25519|\.pem\b|credentials|private_key/.test(text);
      const cleanup =
        /\bunlink\s*\(|\brm\s+-(r?f|fr?)\b|Storage::\w*\s*\(?[^;]*delete\s*\(|->delete\s*\(|\btrap\b/.test(
          text,
        );
      if (cleanup) continue;
      if (key)
        findings.push(
          at(
            info.file,
            info.scope.body,
            'key material is written to disk and never removed',
            'medium',
          ),
        );
      else if (creates)
        findings.push(
          at(
            info.file,
            info.scope.body,
            'a temporary file is created and never removed (no unlink/rm/trap in the same function)',
          ),
        );
    }
    return outcome(findings);
  },
});
