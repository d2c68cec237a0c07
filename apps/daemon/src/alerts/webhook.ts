import { redactSecretShapes } from '@qscale/contracts';
import { ALERT_DEFAULTS, type AlertWebhookConfig } from '../config/alerts.js';

/** How one POST ended. `retry` says whether trying again may help. */
export type PostOutcome =
  | { ok: true; status: number }
  | { ok: false; retry: boolean; status: number | null; reason: string; retryAfterMs?: number };

/**
 * One POST of an alert body with Node's built-in fetch (undici), within the webhook's timeout.
 * Redirects are not followed (a token must not travel to another host). 2xx is delivered;
 * 5xx, 429, a timeout or a network error may be retried; any other status is final. The
 * reason never holds the URL, a token or a header.
 */
export async function postOnce(
  hook: AlertWebhookConfig,
  body: string,
  options: { id: string; stopping: AbortSignal; now?: () => number },
): Promise<PostOutcome> {
  const timeout = AbortSignal.timeout(hook.timeoutMs);
  const headers: Record<string, string> = {
    ...hook.headers,
    'content-type': 'application/json',
    'user-agent': 'qscale-alerts/1',
    'x-qscale-delivery': options.id,
  };
  if (hook.token) headers.authorization = `Bearer ${hook.token}`;
  try {
    const response = await fetch(hook.url, {
      method: 'POST',
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.any([timeout, options.stopping]),
    });
    // The answer's body is not needed: release the connection now.
    await response.body?.cancel().catch(() => {});
    const { status } = response;
    if (status >= 200 && status < 300) return { ok: true, status };
    if (status === 429) {
      const retryAfterMs = parseRetryAfter(
        response.headers.get('retry-after'),
        options.now?.() ?? Date.now(),
      );
      return {
        ok: false,
        retry: true,
        status,
        reason: 'HTTP 429 (too many requests)',
        ...(retryAfterMs === null ? {} : { retryAfterMs }),
      };
    }
    return { ok: false, retry: status >= 500, status, reason: `HTTP ${status}` };
  } catch (error) {
    if (options.stopping.aborted) {
      return { ok: false, retry: false, status: null, reason: 'the daemon is stopping' };
    }
    if (timeout.aborted) {
      return {
        ok: false,
        retry: true,
        status: null,
        reason: `no answer within ${hook.timeoutMs} ms`,
      };
    }
    return { ok: false, retry: true, status: null, reason: networkReason(error, hook) };
  }
}

/**
 * Milliseconds to wait from a `Retry-After` header: delay-seconds or an HTTP date (RFC 9110),
 * at most `retryAfterMaxMs`; null when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (value === null) return null;
  const text = value.trim();
  const ms = /^\d+$/.test(text) ? Number(text) * 1_000 : Date.parse(text) - now;
  if (!Number.isFinite(ms)) return null;
  return Math.min(Math.max(ms, 0), ALERT_DEFAULTS.retryAfterMaxMs);
}

/**
 * The delay before retry `retry` (0 for the first): `backoffMs` doubling per retry up to
 * `backoffMaxMs`, with "equal jitter" (half fixed, half random) so that many daemons
 * retrying one receiver spread out, while no retry comes sooner than half its step.
 */
export function backoffDelay(
  retry: number,
  settings: { backoffMs: number; backoffMaxMs: number },
  random: () => number = Math.random,
): number {
  const step = Math.min(settings.backoffMaxMs, settings.backoffMs * 2 ** retry);
  return step / 2 + random() * (step / 2);
}

/** A network failure in words: the system error code when there is one. */
function networkReason(error: unknown, hook: AlertWebhookConfig): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  const detail =
    typeof cause?.code === 'string'
      ? cause.code
      : typeof cause?.message === 'string'
        ? cause.message
        : error instanceof Error
          ? error.message
          : String(error);
  // A URL may be quoted in an error message: never let it (or a credential) through.
  return redactSecretShapes(`network error: ${detail}`.split(hook.url).join(`<${hook.name}>`));
}
