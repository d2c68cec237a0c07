import { PassThrough } from 'node:stream';
import { snapshot, waitFor } from '@qscale/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { type Alerting, createAlerting } from '../src/alerts/alerting.js';
import type { AlertQueueView } from '../src/alerts/rules.js';
import { createDaemonLogger, parseConfig } from '../src/index.js';
import { DaemonMetrics } from '../src/observability/metrics.js';
import { secretsOf } from '../src/runtime/wiring.js';
import { Receiver } from './helpers/receiver.js';

// The alert module sending to real HTTP receivers on loopback ports: bodies, rate limit,
// retries with backoff, 429 Retry-After, 4xx, a receiver that hangs, a full queue, redaction.
// Time for the rules comes in through `observe(now, ...)`; delivery runs on real timers.

const receivers: Receiver[] = [];
const alertings: Alerting[] = [];
afterEach(async () => {
  for (const alerting of alertings.splice(0)) alerting.close();
  await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
});

async function receiver(answer?: ConstructorParameters<typeof Receiver>[0]) {
  const started = await Receiver.start(answer);
  receivers.push(started);
  return started;
}

/** The alert module of a configuration whose `alerts` section is `yaml`, logging as JSON lines. */
function setup(yaml: string) {
  const config = parseConfig(
    `${yaml}\nqueues:\n  emails: { driver: bullmq, command: [node, w.js], slo: { pickup: 10s } }\n`,
    { env: { HOOK_TOKEN: 'tok-3f9a1c77e2b54d', HOOK_KEY: 'hdr-8c1e55aa90d2' } },
  );
  const stream = new PassThrough();
  let logs = '';
  stream.on('data', (chunk: Buffer) => {
    logs += chunk.toString();
  });
  const logger = createDaemonLogger({ level: 'debug', format: 'json', destination: stream });
  logger.setSecrets(secretsOf(config));
  const metrics = new DaemonMetrics({
    queues: () => [],
    roundTrips: () => null,
    alertQueues: () => alerting.queues(),
  });
  const alerting = createAlerting({ config: config.alerts, logger, counters: metrics.alerts });
  alertings.push(alerting);
  return { alerting, metrics, logs: () => logs, config };
}

function view(oldestPendingAgeMs: number): AlertQueueView {
  return {
    name: 'emails',
    slo: { pickupMs: 10_000, percentile: 95 },
    snapshot: snapshot({ oldestPendingAgeMs, pending: oldestPendingAgeMs > 0 ? 3 : 0 }),
    poolHealth: 'ok',
    failedStarts: 0,
    workers: { running: 1, desired: 2 },
    redis: '127.0.0.1:6379',
  };
}
const LATE = [view(12_000)];
const FINE = [view(0)];

/** A breach at `at` and its recovery 1 ms later (`for` and `recoverFor` are 0s). */
function breachAndRecover(alerting: Alerting, at: number) {
  alerting.observe(at, LATE);
  alerting.observe(at + 1, FINE);
}

function hook(url: string, extra = '') {
  return `alerts:\n  for: 0s\n  recoverFor: 0s\n  retry: { retries: 3, backoff: 200ms, backoffMax: 1s }\n  webhooks:\n    - { url: "${url}", name: ops${extra} }`;
}

describe('alert webhooks', () => {
  it('posts the versioned JSON body with the token and headers, and a Slack body', async () => {
    const json = await receiver();
    const slack = await receiver();
    const { alerting, metrics } = setup(
      `alerts:\n  for: 0s\n  recoverFor: 0s\n  webhooks:\n    - { url: "${json.url}/hook", name: ops, token: "\${HOOK_TOKEN}", headers: { X-Api-Key: "\${HOOK_KEY}" } }\n    - { url: "${slack.url}/services/T0/B0/XYZ", name: chat, format: slack, events: [slo-breach] }`,
    );
    alerting.observe(1_000, LATE);
    await waitFor(() => json.received.length === 1 && slack.received.length === 1, {
      what: 'both webhooks called',
    });
    const [received] = json.received;
    expect(received?.headers.authorization).toBe('Bearer tok-3f9a1c77e2b54d');
    expect(received?.headers['x-api-key']).toBe('hdr-8c1e55aa90d2');
    expect(received?.headers['content-type']).toBe('application/json');
    expect(received?.body).toMatchObject({
      version: 1,
      source: 'qscale',
      event: 'slo-breach',
      status: 'firing',
      key: 'slo:emails',
      at: 1_000,
      time: new Date(1_000).toISOString(),
      queue: 'emails',
      suppressed: 0,
      details: { sloMs: 10_000, signal: 'oldest-pending-age', observedMs: 12_000 },
    });
    expect(received?.headers['x-qscale-delivery']).toBe(received?.body.id);
    const body = slack.received[0]?.body as { text: string; blocks: { type: string }[] };
    expect(body.text).toContain('queue emails misses its pickup SLO');
    expect(body.blocks.map((block) => block.type)).toEqual([
      'header',
      'section',
      'section',
      'context',
    ]);
    // The Slack webhook did not subscribe to recoveries.
    alerting.observe(2_000, FINE);
    // Received is not yet answered: `sent` counts once the response is back.
    await waitFor(
      () => json.received.length === 2 && (alerting.state().webhooks[0]?.sent ?? 0) >= 2,
      { what: 'the recovery sent' },
    );
    expect(json.received[1]?.body.event).toBe('slo-recovered');
    expect(slack.received).toHaveLength(1);
    expect(await metrics.render()).toContain(
      'qscale_alert_deliveries_total{webhook="ops",outcome="sent"} 2',
    );
  });

  it('rate-limits per event key: a breach within minInterval is suppressed with its recovery', async () => {
    const target = await receiver();
    const { alerting, metrics } = setup(
      `alerts:\n  for: 0s\n  recoverFor: 0s\n  minInterval: 1m\n  webhooks:\n    - { url: "${target.url}" }`,
    );
    breachAndRecover(alerting, 0);
    breachAndRecover(alerting, 10_000); // within the minute: neither is sent
    breachAndRecover(alerting, 20_000);
    breachAndRecover(alerting, 61_000); // a minute after the first: sent, saying 2 were held
    await waitFor(() => target.received.length === 4, { what: 'four deliveries' });
    expect(target.received.map((r) => [r.body.event, r.body.at, r.body.suppressed])).toEqual([
      ['slo-breach', 0, 0],
      ['slo-recovered', 1, 0],
      ['slo-breach', 61_000, 2],
      ['slo-recovered', 61_001, 0],
    ]);
    expect(await metrics.render()).toContain('qscale_alert_suppressed_total{event="slo-breach"} 2');
  });

  it('retries 5xx with exponential backoff, the same delivery id each time', async () => {
    const target = await receiver((index) => ({ status: index < 2 ? 500 : 200 }));
    const { alerting, metrics } = setup(hook(target.url));
    alerting.observe(0, LATE);
    await waitFor(() => target.received.length === 3, { what: 'two retries' });
    const ids = new Set(target.received.map((r) => r.body.id));
    expect(ids.size).toBe(1);
    // Equal jitter: each wait is at least half its step (200 ms, then 400 ms).
    const [first, second, third] = target.received.map((r) => r.at);
    expect((second ?? 0) - (first ?? 0)).toBeGreaterThanOrEqual(100);
    expect((third ?? 0) - (second ?? 0)).toBeGreaterThanOrEqual(200);
    await waitFor(() => alerting.state().webhooks[0]?.sent === 1, { what: 'sent' });
    expect(alerting.state().webhooks[0]).toMatchObject({ sent: 1, retries: 2, failed: 0 });
    expect(await metrics.render()).toContain('qscale_alert_retries_total{webhook="ops"} 2');
  });

  it('gives up after the configured retries, and never retries a 4xx', async () => {
    const failing = await receiver(() => ({ status: 503 }));
    const refusing = await receiver(() => ({ status: 400 }));
    const { alerting, metrics } = setup(
      `${hook(failing.url)}\n    - { url: "${refusing.url}", name: refuses }`,
    );
    alerting.observe(0, LATE);
    await waitFor(() => alerting.state().webhooks.every((w) => w.failed === 1), {
      what: 'both deliveries failed',
    });
    expect(failing.received).toHaveLength(4); // the first attempt and 3 retries
    expect(refusing.received).toHaveLength(1);
    const text = await metrics.render();
    expect(text).toContain('qscale_alert_deliveries_total{webhook="ops",outcome="failed"} 1');
    expect(text).toContain('qscale_alert_deliveries_total{webhook="refuses",outcome="failed"} 1');
  });

  it("honours a 429's Retry-After", async () => {
    const target = await receiver((index) =>
      index === 0 ? { status: 429, headers: { 'retry-after': '2' } } : { status: 204 },
    );
    const { alerting } = setup(hook(target.url));
    alerting.observe(0, LATE);
    await waitFor(() => target.received.length === 2, { timeoutMs: 20_000, what: 'the retry' });
    // The backoff alone would have waited at most 200 ms.
    expect((target.received[1]?.at ?? 0) - (target.received[0]?.at ?? 0)).toBeGreaterThanOrEqual(
      2_000,
    );
  });

  it('times out a receiver that hangs; observe() returns at once all the while', async () => {
    const target = await receiver(() => 'hang');
    const { alerting } = setup(
      `${hook(target.url, ', timeout: 300ms')}`.replace('retries: 3', 'retries: 1'),
    );
    alerting.observe(0, LATE);
    // While the receiver holds the request, the rules go on: a tick is never held up.
    for (let i = 1; i <= 50; i++) alerting.observe(i, LATE);
    await waitFor(() => alerting.state().webhooks[0]?.failed === 1, {
      timeoutMs: 20_000,
      what: 'the delivery given up after its timeouts',
    });
    expect(target.received).toHaveLength(2);
    expect(alerting.state().webhooks[0]?.lastError?.reason).toBe('no answer within 300 ms');
  });

  it('drops the oldest waiting alert when the queue is full, and counts it', async () => {
    const target = await receiver(() => 'hang');
    const { alerting, metrics } = setup(
      `${hook(target.url, ', timeout: 5s')}`.replace(
        'for: 0s',
        'for: 0s\n  queueSize: 2\n  minInterval: 0s',
      ),
    );
    // One in flight (hanging), then five waiting for a queue of two: three dropped.
    for (let i = 0; i < 3; i++) breachAndRecover(alerting, i * 10);
    await waitFor(() => target.received.length === 1, { what: 'the first request' });
    expect(alerting.state().webhooks[0]).toMatchObject({ queued: 2, dropped: 3 });
    const text = await metrics.render();
    expect(text).toContain('qscale_alert_dropped_total{webhook="ops"} 3');
    expect(text).toContain('qscale_alert_queue_length{webhook="ops"} 2');
  });

  it('never prints the URL, the token or a header, in logs, state or errors', async () => {
    const closed = await receiver();
    const url = `${closed.url}/services/T0001/B0002/s3cr3tSl4ckPath`;
    await closed.close();
    receivers.splice(receivers.indexOf(closed), 1);
    const { alerting, logs } = setup(
      `alerts:\n  for: 0s\n  retry: { retries: 1, backoff: 10ms }\n  webhooks:\n    - { url: "${url}", token: "\${HOOK_TOKEN}", headers: { X-Api-Key: "\${HOOK_KEY}" } }`,
    );
    alerting.observe(0, LATE);
    await waitFor(() => alerting.state().webhooks[0]?.failed === 1, { what: 'the failure' });
    const state = JSON.stringify(alerting.state());
    expect(alerting.state().webhooks[0]?.lastError?.reason).toBe('network error: ECONNREFUSED');
    expect(logs()).toContain('alert not delivered');
    for (const secret of ['s3cr3tSl4ckPath', 'B0002', 'tok-3f9a1c77e2b54d', 'hdr-8c1e55aa90d2']) {
      expect(logs()).not.toContain(secret);
      expect(state).not.toContain(secret);
    }
  });
});
