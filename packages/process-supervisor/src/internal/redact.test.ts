import { describe, expect, it } from 'vitest';
import { createRedactor, secretValues } from './redact.js';

describe('redaction', () => {
  it('redacts secret-named and long opaque env values, not plain settings', () => {
    const secrets = secretValues(
      {
        APP_ENV: 'production',
        DB_PASSWORD: 'p4ss',
        STRIPE: 'aK9xQ2mZ7vB4nL8pR3tW6yE1uI5oP0sD',
        LOG_DIR: '/var/log/some/very/long/path/that/is/not/secret',
        PATH: '/usr/bin:/bin:/usr/local/bin/and/more/entries',
      },
      ['extra-literal'],
    );
    expect(secrets.sort()).toEqual(
      ['aK9xQ2mZ7vB4nL8pR3tW6yE1uI5oP0sD', 'extra-literal', 'p4ss'].sort(),
    );
    const redact = createRedactor(secrets);
    expect(
      redact('env=production pass=p4ss key=aK9xQ2mZ7vB4nL8pR3tW6yE1uI5oP0sD extra-literal'),
    ).toBe('env=production pass=[REDACTED] key=[REDACTED] [REDACTED]');
  });

  it('redacts common token shapes nobody configured', () => {
    const redact = createRedactor([]);
    const cases: [string, string][] = [
      ['redis://default:s3cr3t@cache:6379/0', 'redis://default:[REDACTED]@cache:6379/0'],
      ['Authorization: Bearer abc.def-ghi_jkl', 'Authorization: Bearer [REDACTED]'],
      ['password=hunter2 user=bob', 'password=[REDACTED] user=bob'],
      ['{"api_key": "abc123"}', '{"api_key": "[REDACTED]"}'],
      ['token eyJhbGciOi.eyJzdWIiOiIx.sig-nature', 'token [REDACTED]'],
      [
        'AKIAABCDEFGHIJKLMNOP and ghp_abcdefghijklmnopqrstuvwxyz0123456789',
        '[REDACTED] and [REDACTED]',
      ],
      ['job 42 done in 15 ms', 'job 42 done in 15 ms'],
    ];
    for (const [line, expected] of cases) expect(redact(line)).toBe(expected);
  });
});
