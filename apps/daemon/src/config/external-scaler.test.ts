import { describe, expect, it } from 'vitest';
import { ConfigError, formatProblem, parseConfig } from '../index.js';
import { isLoopback } from './external-scaler.js';

const QUEUES = 'queues:\n  mail: { driver: bullmq, command: [node, w.js] }\n';

function problems(section: string): string[] {
  try {
    parseConfig(`${section}\n${QUEUES}`, { env: {} });
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // Without the file position: these tests are about the messages.
    return error.problems.map((problem) =>
      formatProblem(problem).replace(/ \(qscale\.yml[^)]*\)$/, ''),
    );
  }
}

describe('externalScaler', () => {
  it('is absent unless set; defaults to loopback 9731', () => {
    expect(parseConfig(QUEUES, { env: {} }).externalScaler).toBeNull();
    expect(parseConfig(`externalScaler: {}\n${QUEUES}`, { env: {} }).externalScaler).toEqual({
      host: '127.0.0.1',
      port: 9731,
      token: null,
      tls: null,
    });
  });

  it('refuses a non-loopback host without TLS, and without a token or mutual TLS', () => {
    expect(problems('externalScaler: { host: 0.0.0.0 }')).toEqual([
      'externalScaler.host: listening on 0.0.0.0 (not loopback) needs TLS and a client check: set tls.cert and tls.key and token or tls.clientCa (mutual TLS), or listen on 127.0.0.1',
    ]);
    // A token alone is sent in clear text: TLS is still required.
    expect(problems('externalScaler: { host: 10.0.0.5, token: 0123456789abcdef }')).toEqual([
      'externalScaler.host: listening on 10.0.0.5 (not loopback) needs TLS and a client check: set tls.cert and tls.key, or listen on 127.0.0.1',
    ]);
    // TLS without a client check lets anyone in.
    expect(problems('externalScaler: { host: "::", tls: { cert: a.crt, key: a.key } }')).toEqual([
      'externalScaler.host: listening on :: (not loopback) needs TLS and a client check: set token or tls.clientCa (mutual TLS), or listen on 127.0.0.1',
    ]);
  });

  it('accepts TLS with a token, or mutual TLS; paths resolve from the config folder', () => {
    expect(
      problems(
        'externalScaler: { host: 0.0.0.0, token: 0123456789abcdef, tls: { cert: a.crt, key: a.key } }',
      ),
    ).toEqual([]);
    const config = parseConfig(
      `externalScaler: { host: 0.0.0.0, tls: { cert: a.crt, key: a.key, clientCa: ca.crt } }\n${QUEUES}`,
      { env: {}, baseDir: '/etc/qscale' },
    );
    expect(config.externalScaler?.tls).toEqual({
      certFile: '/etc/qscale/a.crt',
      keyFile: '/etc/qscale/a.key',
      clientCaFile: '/etc/qscale/ca.crt',
    });
  });

  it('checks the token, the port and unknown keys without echoing the token', () => {
    const found = problems('externalScaler: { token: short-secret, port: 70000, bind: x }');
    expect(found).toContain(
      'externalScaler.token: expected a bearer token of at least 16 characters, got a string (value hidden)',
    );
    expect(found.join('\n')).not.toContain('short-secret');
    expect(
      found.some((line) =>
        line.startsWith('externalScaler.port: expected a whole number from 0 to 65535'),
      ),
    ).toBe(true);
    expect(found.some((line) => line.startsWith('externalScaler.bind:'))).toBe(true);
    // An unset variable means no token.
    expect(
      parseConfig(`externalScaler: { token: "\${SCALER_TOKEN:-}" }\n${QUEUES}`, { env: {} })
        .externalScaler?.token,
    ).toBeNull();
  });

  it('knows loopback addresses', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) {
      expect(isLoopback(host), host).toBe(true);
    }
    for (const host of ['0.0.0.0', '::', '10.0.0.1', 'qscale.example.com', '128.0.0.1']) {
      expect(isLoopback(host), host).toBe(false);
    }
  });
});
