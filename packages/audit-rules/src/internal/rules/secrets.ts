import { findSecrets, redactSecret } from '../patterns.js';
import type { ProjectContext, RawFinding, Severity } from '../types.js';
import { defineRule } from './define.js';
import { lineOf, outcome, redactText } from './helpers.js';

const ENV_FILE = /(^|\/)\.env(\.[\w-]+)?$/;
// Templates and the environments of tests and CI runs (`.ci/.env.ci`): placeholders, not secrets.
const TEMPLATE_ENV = /\.env\.(example|sample|dist|template|testing|test|ci)$/;
const SECRET_ENV_KEYS =
  /^(REDIS_PASSWORD|AWS_SECRET_ACCESS_KEY|APP_KEY|DB_PASSWORD|MAIL_PASSWORD|PUSHER_APP_SECRET|\w*(SECRET|TOKEN|WEBHOOK_URL|API_KEY|PRIVATE_KEY)\w*)$/;
const NODE_FILE = /\.(ts|tsx|js|mjs|cjs|jsx|json)$|(^|\/)\.npmrc$/;
const LIVE_KEY = new Set(['aws-access-key', 'private-key', 'stripe']);

async function scan(
  context: ProjectContext,
  wanted: (path: string) => boolean,
): Promise<RawFinding[]> {
  const findings: RawFinding[] = [];
  for (const path of context.tree.files) {
    if (
      !wanted(path) ||
      TEMPLATE_ENV.test(path) ||
      /(^|\/)(package-lock\.json|pnpm-lock\.yaml|composer\.lock|yarn\.lock)$/.test(path)
    )
      continue;
    const text = await context.tree.read(path);
    if (text === null) continue;
    // Outside git nothing is known to be committed: only the contents are judged.
    const tracked = context.tree.fromGit && context.tree.tracked.has(path);
    if (ENV_FILE.test(path)) {
      if (tracked) {
        findings.push({
          message: `${path} is committed to git: every secret in it is in the history`,
          location: { path, startLine: 1 },
          key: `${path}:tracked`,
        });
      }
      for (const [index, raw] of text.split('\n').entries()) {
        const match = /^\s*(?:export\s+)?([A-Z0-9_]+)\s*=\s*["']?([^"'\s#]+)/.exec(raw);
        if (!match || !SECRET_ENV_KEYS.test(match[1] as string) || !tracked) continue;
        const value = match[2] as string;
        if (/^\$\{|^null$|^$/i.test(value)) continue;
        findings.push({
          message: `${match[1]} has a literal value in a committed env file: ${redactSecret(value)}`,
          location: { path, startLine: index + 1, startColumn: 1 },
          key: `${path}:${match[1]}`,
        });
      }
      continue;
    }
    for (const secret of findSecrets(text)) {
      const line = lineOf(text, secret.index);
      // A live cloud key is compromised wherever it is committed; a password or an SSH key in
      // a seeder or a factory is development data (a test container's key), worth a look, not
      // a leaked production secret. A seeder for production keeps its severity.
      const development =
        DEVELOPMENT_DATA.test(path) &&
        !PRODUCTION_NAMED.test(path) &&
        (!LIVE_KEY.has(secret.patternId) || secret.patternId === 'private-key');
      const live = LIVE_KEY.has(secret.patternId) && !development;
      // `mysql://app-test:app-test@db/…`: the user name as its password is a development
      // default (a compose file's test database), weak if it ever reached production, not a leak.
      const userAsPassword =
        secret.patternId === 'url-credentials' && USER_AS_PASSWORD.test(secret.match);
      const severity: Severity = live ? 'critical' : development || userAsPassword ? 'low' : 'high';
      const where = development ? 'development-data file (seeder, factory or stub)' : 'file';
      findings.push({
        message: `${secret.patternId} found in ${tracked ? 'a committed' : 'an untracked'} ${where}: ${redactSecret(secret.match)}${userAsPassword ? ' (the user name as its password: a development default)' : ''}`,
        severity,
        location: { path, startLine: line, startColumn: 1 },
        evidence: redactText(text.split('\n')[line - 1] ?? '', 160),
        key: `${path}:${secret.patternId}:${redactSecret(secret.match)}`,
      });
    }
  }
  return findings;
}

/** `scheme://user:user@`: a URL whose password repeats its user name. */
const USER_AS_PASSWORD = /:\/\/([^:/\s'"@]+):\1@/;

/** Seeders, factories and stubs: data for development databases, not for production. */
const DEVELOPMENT_DATA = /(^|\/)database\/(seeders|seeds|factories)\/|(^|\/)stubs\//;
const PRODUCTION_NAMED = /[^/]*Production[^/]*$/i;

export const sec001 = defineRule({
  id: 'SEC-001',
  title: 'Committed secrets relevant to jobs and queues (Laravel tree)',
  severity: 'high',
  target: 'laravel-src',
  covers: ['S1:JOB-002', 'S1:JOB-016', 'S1:JOB-022'],
  cwe: ['CWE-798'],
  description:
    'P-SECRETS over PHP, env, YAML, shell and Dockerfiles: committed .env/.env.production files, literal REDIS_PASSWORD/AWS_SECRET_ACCESS_KEY/APP_KEY values, tokens, webhook URLs, credential URLs and private keys (critical for live cloud keys).',
  fix: 'Remove the file or value, rotate the secret, keep it in a secret store or an untracked env file.',
  check: async (context) => outcome(await scan(context, (path) => !NODE_FILE.test(path))),
});

export const sec001n = defineRule({
  id: 'SEC-001N',
  title: 'Committed secrets relevant to jobs and queues (Node tree)',
  severity: 'high',
  target: 'node-src',
  covers: ['S1:JOB-002', 'S1:JOB-022'],
  cwe: ['CWE-798'],
  description:
    'P-SECRETS over JavaScript/TypeScript/JSON files and .npmrc: tokens, webhook URLs, credential URLs (redis://user:pass@…) and private keys.',
  fix: 'Read secrets from the environment or a secret store; rotate what was committed.',
  check: async (context) => outcome(await scan(context, (path) => NODE_FILE.test(path))),
});
