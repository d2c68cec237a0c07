import { z } from 'zod';
import { duration, wholeNumber } from './fields.js';

// The `alerts` section: webhooks the daemon calls on SLO breach and recovery, a degraded
// queue, Redis unreachable and back, and (with a fleet) the leader changing. Self-contained:
// schema.ts only places it and calls resolveAlerts.

/** Every event an alert webhook can subscribe to. */
export const ALERT_EVENTS = [
  'slo-breach',
  'slo-recovered',
  'queue-degraded',
  'queue-recovered',
  'redis-unreachable',
  'redis-reachable',
  'fleet-leader-changed',
] as const;
export type AlertEventType = (typeof ALERT_EVENTS)[number];

/** Defaults of the `alerts` section (durations in ms). */
export const ALERT_DEFAULTS = {
  /** The same event key (event and queue, or Redis) is sent at most once per this. @defaultValue 300000 (5m) */
  minIntervalMs: 300_000,
  /** A condition (breach, degraded queue, Redis unreachable) must hold this long to fire. @defaultValue 30000 (30s) */
  forMs: 30_000,
  /** ...and must be gone this long to recover. @defaultValue 60000 (1m) */
  recoverForMs: 60_000,
  /** The pickup figure must fall below this share of the SLO to count as recovered (hysteresis). @defaultValue 0.8 */
  sloRecoverBelow: 0.8,
  /** Deliveries waiting per webhook; the oldest is dropped beyond it. @defaultValue 100 */
  queueSize: 100,
  /** Retries after the first attempt, on a 5xx, 429, timeout or network error. @defaultValue 5 */
  retries: 5,
  /** First retry delay; doubles per retry, with jitter. @defaultValue 1000 (1s) */
  backoffMs: 1_000,
  /** Cap of the retry delay. @defaultValue 60000 (1m) */
  backoffMaxMs: 60_000,
  /** One request's time limit. @defaultValue 10000 (10s) */
  timeoutMs: 10_000,
  /** A 429's Retry-After is honoured up to this. @defaultValue 3600000 (1h) */
  retryAfterMaxMs: 3_600_000,
} as const;

export interface AlertWebhookConfig {
  /** Names the webhook in logs, metrics and /api/state (the URL never appears there). */
  name: string;
  /** A secret: Slack webhook URLs are credentials. */
  url: string;
  format: 'json' | 'slack';
  events: AlertEventType[];
  /** Sent as `Authorization: Bearer <token>`; a secret. */
  token: string | null;
  /** Extra request headers; their values are secrets. */
  headers: Record<string, string>;
  timeoutMs: number;
}

export interface AlertsConfig {
  webhooks: AlertWebhookConfig[];
  minIntervalMs: number;
  forMs: number;
  recoverForMs: number;
  queueSize: number;
  retry: { retries: number; backoffMs: number; backoffMaxMs: number };
}

const HOUR_MS = 3_600_000;
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
// Set by the daemon itself: a webhook may not replace them.
const RESERVED_HEADERS = new Set(['content-type', 'content-length', 'host', 'authorization']);
const URL_EXPECTED =
  'expected an https:// URL (http:// only to a loopback address such as 127.0.0.1, or with allowHttp: true)';

/** Whether `hostname` (as `new URL` gives it) is a loopback address. */
export function isLoopbackHost(hostname: string): boolean {
  return (
    hostname === 'localhost' ||
    hostname === '[::1]' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
  );
}

const webhookSchema = z
  .strictObject({
    url: z.string({ error: URL_EXPECTED }),
    name: z
      .string({ error: 'expected a webhook name of letters, digits and . _ -' })
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
        'expected a webhook name of letters, digits and . _ -',
      )
      .optional(),
    format: z.enum(['json', 'slack'], { error: 'expected json or slack' }).optional(),
    events: z
      .array(z.enum(ALERT_EVENTS, { error: `expected one of ${ALERT_EVENTS.join(', ')}` }))
      .min(1, 'expected at least one event')
      .optional(),
    token: z
      .string({ error: 'expected a bearer token string' })
      .optional()
      .transform((value) => (value === '' ? undefined : value)),
    headers: z
      .record(
        z
          .string()
          .regex(HEADER_NAME, 'expected an HTTP header name')
          .refine(
            (name) => !RESERVED_HEADERS.has(name.toLowerCase()),
            'this header is set by qscale (use token for Authorization)',
          ),
        z.string({ error: 'expected a header value string' }),
        { error: 'expected a mapping of header names to values' },
      )
      .optional(),
    allowHttp: z.boolean({ error: 'expected true or false' }).optional(),
    timeout: duration({ minMs: 100, maxMs: 5 * 60_000 }).optional(),
  })
  .superRefine((hook, ctx) => {
    let url: URL;
    try {
      url = new URL(hook.url);
    } catch {
      ctx.addIssue({ code: 'custom', path: ['url'], message: URL_EXPECTED, input: hook.url });
      return;
    }
    const plainHttp = url.protocol === 'http:';
    if (
      (url.protocol !== 'https:' && !plainHttp) ||
      (plainHttp && !isLoopbackHost(url.hostname) && hook.allowHttp !== true)
    ) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: URL_EXPECTED, input: hook.url });
    }
  });

export const alertsSchema = z.strictObject({
  webhooks: z.array(webhookSchema, { error: 'expected a list of webhooks' }).optional(),
  minInterval: duration({ maxMs: 24 * HOUR_MS }).optional(),
  for: duration({ maxMs: HOUR_MS }).optional(),
  recoverFor: duration({ maxMs: HOUR_MS }).optional(),
  queueSize: wholeNumber(1, 10_000).optional(),
  retry: z
    .strictObject({
      retries: wholeNumber(0, 20).optional(),
      backoff: duration({ minMs: 1, maxMs: HOUR_MS }).optional(),
      backoffMax: duration({ minMs: 1, maxMs: HOUR_MS }).optional(),
    })
    .optional(),
});

type AlertsInput = z.output<typeof alertsSchema>;

/** The resolved `alerts` section; reports webhooks that share a name. */
export function resolveAlerts(
  input: AlertsInput | undefined,
  report: (path: (string | number)[], message: string) => void,
): AlertsConfig {
  const webhooks = (input?.webhooks ?? []).map(
    (hook, index): AlertWebhookConfig => ({
      name: hook.name ?? `webhook-${index + 1}`,
      url: hook.url,
      format: hook.format ?? 'json',
      events: hook.events ? [...new Set(hook.events)] : [...ALERT_EVENTS],
      token: hook.token ?? null,
      headers: hook.headers ?? {},
      timeoutMs: hook.timeout ?? ALERT_DEFAULTS.timeoutMs,
    }),
  );
  const seen = new Set<string>();
  webhooks.forEach((hook, index) => {
    if (seen.has(hook.name)) {
      report(['alerts', 'webhooks', index, 'name'], `another webhook is named "${hook.name}"`);
    }
    seen.add(hook.name);
  });
  const backoffMs = input?.retry?.backoff ?? ALERT_DEFAULTS.backoffMs;
  return {
    webhooks,
    minIntervalMs: input?.minInterval ?? ALERT_DEFAULTS.minIntervalMs,
    forMs: input?.for ?? ALERT_DEFAULTS.forMs,
    recoverForMs: input?.recoverFor ?? ALERT_DEFAULTS.recoverForMs,
    queueSize: input?.queueSize ?? ALERT_DEFAULTS.queueSize,
    retry: {
      retries: input?.retry?.retries ?? ALERT_DEFAULTS.retries,
      backoffMs,
      backoffMaxMs: Math.max(backoffMs, input?.retry?.backoffMax ?? ALERT_DEFAULTS.backoffMaxMs),
    },
  };
}

/** Values of the `alerts` section that must never be printed: URLs, tokens, header values. */
export function alertSecrets(alerts: AlertsConfig): string[] {
  return alerts.webhooks.flatMap((hook) => {
    const url = new URL(hook.url);
    // The path and query of a Slack URL are the credential, also when printed without the host.
    const rest = `${url.pathname}${url.search}`;
    return [
      hook.url,
      ...(rest.length >= 8 ? [rest] : []),
      ...(hook.token ? [hook.token] : []),
      ...Object.values(hook.headers),
    ];
  });
}
