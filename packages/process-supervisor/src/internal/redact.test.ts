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
    ).toBe('env=production pass=[redacted] key=[redacted] [redacted]');
  });

  it('never redacts ordinary values: hosts, paths, queue and worker names, settings, ids', () => {
    const ordinary = {
      REDIS_HOST: 'redis-primary.internal.example.com',
      REDIS_ADDR: '127.0.0.1:6379',
      QUEUE: 'emails-high-priority-queue-2024',
      WORKER_NAME: 'mailer-worker-01',
      APP_DIR: '/srv/app/releases/20240101120000/current',
      CONTROLLER: 'src/Http/Controllers/Api/V2/UserController.php',
      SESSION_DRIVER: 'redis',
      AUTH_ENABLED: 'true',
      REDIS_PASSWORD: 'null',
      QUEUE_KEY_PREFIX: 'bull-production',
      TOKEN_TTL: '3600',
      PASSWORD_FILE: '/run/secrets/db-password',
      REQUEST_ID: '123e4567-e89b-12d3-a456-426614174000',
      LONG_WORD_NAME: 'averyveryverylonghostnamewithoutdots',
    };
    expect(secretValues(ordinary, [])).toEqual([]);
    const redact = createRedactor(secretValues(ordinary, []));
    const line = Object.values(ordinary).join(' ');
    expect(redact(line)).toBe(line);
  });

  it('still redacts secrets under a plain name when they look generated', () => {
    const secrets = secretValues(
      {
        RELEASE_SIGNATURE_X: 'abc',
        SECRET_KEY_BASE: 'short-but-named',
        CHECKSUM: 'd41d8cd98f00b204e9800998ecf8427e',
        BLOB: 'q2Zx8+Lm4/Rt7vNw1Yb5Kc9Pd3Hs6Jf0Ga2Ue8Io4Wl==',
        dbPassword: 'camel-case-pw',
      },
      [],
    );
    expect(secrets.sort()).toEqual(
      [
        'camel-case-pw',
        'd41d8cd98f00b204e9800998ecf8427e',
        'q2Zx8+Lm4/Rt7vNw1Yb5Kc9Pd3Hs6Jf0Ga2Ue8Io4Wl==',
        'short-but-named',
      ].sort(),
    );
  });

  it('redacts common token shapes nobody configured', () => {
    const redact = createRedactor([]);
    const cases: [string, string][] = [
      ['redis://default:s3cr3t@cache:6379/0', 'redis://default:[redacted]@cache:6379/0'],
      ['Authorization: Bearer abc.def-ghi_jkl', 'Authorization: Bearer [redacted]'],
      ['authorization: bearer abc.def-ghi_jkl', 'authorization: bearer [redacted]'],
      ['Authorization: Basic dXNlcjpwYXNz', 'Authorization: Basic [redacted]'],
      [
        'Token verification failed: Bearer authentication',
        'Token verification failed: Bearer authentication',
      ],
      ['password=hunter2 user=bob', 'password=[redacted] user=bob'],
      ['{"api_key": "abc123"}', '{"api_key": "[redacted]"}'],
      ['token eyJhbGciOi.eyJzdWIiOiIx.sig-nature', 'token [redacted]'],
      [
        'AKIAABCDEFGHIJKLMNOP and ghp_abcdefghijklmnopqrstuvwxyz0123456789',
        '[redacted] and [redacted]',
      ],
      ['job 42 done in 15 ms', 'job 42 done in 15 ms'],
    ];
    for (const [line, expected] of cases) expect(redact(line)).toBe(expected);
  });
});
