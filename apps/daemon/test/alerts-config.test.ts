import { describe, expect, it } from 'vitest';
import { ConfigError, configJsonSchema, formatProblem, parseConfig } from '../src/index.js';

const QUEUES = `
queues:
  emails:
    driver: bullmq
    command: [node, worker.js]
`;

function problems(text: string): string[] {
  try {
    parseConfig(text, { fileName: 'qscale.yml', env: {} });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.map(formatProblem);
  }
  throw new Error('expected the configuration to be rejected');
}

describe('the alerts section', () => {
  it('is empty by default: no webhook, the documented timings', () => {
    const config = parseConfig(QUEUES, { env: {} });
    expect(config.alerts).toEqual({
      webhooks: [],
      minIntervalMs: 300_000,
      forMs: 30_000,
      recoverForMs: 60_000,
      queueSize: 100,
      retry: { retries: 5, backoffMs: 1_000, backoffMaxMs: 60_000 },
    });
  });

  it('resolves webhooks, with secrets from the environment', () => {
    const config = parseConfig(
      `
alerts:
  minInterval: 10m
  for: 1m
  webhooks:
    - url: "\${SLACK_URL}"
      format: slack
      events: [slo-breach, slo-recovered]
    - url: https://alerts.example.com/qscale
      name: pager
      token: "\${PAGER_TOKEN}"
      headers: { X-Team: ops }
      timeout: 3s
    - { url: "http://127.0.0.1:8080/hook" }
    - { url: "http://alerts.internal/hook", allowHttp: true }
${QUEUES}`,
      {
        env: {
          SLACK_URL: 'https://hooks.slack.com/services/T1/B2/abc',
          PAGER_TOKEN: 'pager-token-0123456',
        },
      },
    );
    expect(config.alerts.minIntervalMs).toBe(600_000);
    expect(config.alerts.forMs).toBe(60_000);
    expect(config.alerts.webhooks).toEqual([
      {
        name: 'webhook-1',
        url: 'https://hooks.slack.com/services/T1/B2/abc',
        format: 'slack',
        events: ['slo-breach', 'slo-recovered'],
        token: null,
        headers: {},
        timeoutMs: 10_000,
      },
      {
        name: 'pager',
        url: 'https://alerts.example.com/qscale',
        format: 'json',
        events: expect.arrayContaining(['fleet-leader-changed', 'redis-unreachable']),
        token: 'pager-token-0123456',
        headers: { 'X-Team': 'ops' },
        timeoutMs: 3_000,
      },
      expect.objectContaining({ name: 'webhook-3', url: 'http://127.0.0.1:8080/hook' }),
      expect.objectContaining({ name: 'webhook-4', url: 'http://alerts.internal/hook' }),
    ]);
  });

  it('refuses plain http to another host, unknown events and bad headers, with line:column', () => {
    const found = problems(`
alerts:
  webhooks:
    - url: http://hooks.example.com/secret-path
    - url: https://ok.example.com
      events: [slo-breach, slo-breeched]
      headers: { Authorization: x, "bad header": y }
      format: teams
  minInterval: 5 minutes
${QUEUES}`);
    expect(found).toEqual([
      'alerts.webhooks[0].url: expected an https:// URL (http:// only to a loopback address such as 127.0.0.1, or with allowHttp: true), got a string (value hidden) (qscale.yml:4:12)',
      'alerts.webhooks[1].events[1]: expected one of slo-breach, slo-recovered, queue-degraded, queue-recovered, redis-unreachable, redis-reachable, fleet-leader-changed, got "slo-breeched" (qscale.yml:6:28)',
      'alerts.webhooks[1].headers.Authorization: this header is set by qscale (use token for Authorization), got "Authorization" (qscale.yml:7:18)',
      'alerts.webhooks[1].headers["bad header"]: expected an HTTP header name, got "bad header" (qscale.yml:7:36)',
      'alerts.webhooks[1].format: expected json or slack, got "teams" (qscale.yml:8:15)',
      'alerts.minInterval: expected a duration like 500ms, 30s or 5m, got "5 minutes" (qscale.yml:9:16)',
    ]);
    // The URL may be a secret (a Slack webhook's path is its credential): never echoed.
    expect(found.join('\n')).not.toContain('secret-path');
  });

  it('refuses two webhooks with one name, an unknown key, and a URL that is not one', () => {
    const found = problems(`
alerts:
  webhooks:
    - { url: "https://a.example.com", name: ops }
    - { url: "https://b.example.com", name: ops }
    - { url: "not a url" }
  retrys: 3
${QUEUES}`);
    expect(found).toEqual([
      'alerts.webhooks[2].url: expected an https:// URL (http:// only to a loopback address such as 127.0.0.1, or with allowHttp: true), got a string (value hidden) (qscale.yml:6:14)',
      'alerts.retrys: unknown key (did you mean "retry"?); expected one of webhooks, minInterval, for, recoverFor, queueSize, retry (qscale.yml:7:3)',
    ]);
    // The duplicate name is a problem about two values: reported once each value is valid.
    expect(
      problems(`
alerts:
  webhooks:
    - { url: "https://a.example.com", name: ops }
    - { url: "https://b.example.com", name: ops }
${QUEUES}`),
    ).toEqual(['alerts.webhooks[1].name: another webhook is named "ops" (qscale.yml:5:45)']);
  });

  it('is in the JSON Schema for editors', () => {
    const schema = configJsonSchema() as { properties: Record<string, unknown> };
    expect(JSON.stringify(schema.properties.alerts)).toContain('slo-breach');
  });
});
