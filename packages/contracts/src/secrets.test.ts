import { describe, expect, it } from 'vitest';
import { isSecretName, isSecretValue, redactSecretShapes, urlPasswords } from './secrets.js';

describe('secrets', () => {
  it('tells secret names from names about a secret', () => {
    for (const name of ['DB_PASSWORD', 'STRIPE_SECRET_KEY', 'apiKey', 'DBPASSWORD', 'SENTRY_DSN']) {
      expect(isSecretName(name), name).toBe(true);
    }
    for (const name of [
      'KEY_PREFIX',
      'TOKEN_TTL',
      'AUTH_DRIVER',
      'PASSWORD_FILE',
      'MONKEY',
      'QUEUE',
    ]) {
      expect(isSecretName(name), name).toBe(false);
    }
  });

  it('keeps plain settings under a secret name', () => {
    for (const value of ['true', 'null', '6379', 'abc'])
      expect(isSecretValue(value), value).toBe(false);
    expect(isSecretValue('hunter22')).toBe(true);
  });

  it('finds passwords inside URLs, raw and decoded', () => {
    expect(urlPasswords('redis://app:p%40ss@10.0.0.5:6379 rediss://:second@cache')).toEqual([
      'p%40ss',
      'p@ss',
      'second',
    ]);
  });

  it('redacts secret shapes and leaves phrases alone', () => {
    const cases: [string, string][] = [
      ['redis://app:pw@host:6379/0', 'redis://app:[redacted]@host:6379/0'],
      ['authorization: bearer abc.def-ghi_jkl', 'authorization: bearer [redacted]'],
      [
        'Token verification failed: Bearer authentication',
        'Token verification failed: Bearer authentication',
      ],
      ['password=hunter22&user=a', 'password=[redacted]&user=a'],
      ['key sk_live_4eC39HqLyjWDarjtT1zdp7dc', 'key [redacted]'],
      ['queue emails-high-priority on 127.0.0.1', 'queue emails-high-priority on 127.0.0.1'],
    ];
    expect(cases.map(([text]) => redactSecretShapes(text))).toEqual(cases.map(([, out]) => out));
  });
});
