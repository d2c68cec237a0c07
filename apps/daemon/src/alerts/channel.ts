import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@qscale/contracts';
import type { AlertsConfig, AlertWebhookConfig } from '../config/alerts.js';
import type { AlertEvent } from './events.js';
import { backoffDelay, postOnce } from './webhook.js';

/** Counters the channel reports to (the daemon's Prometheus metrics). */
export interface AlertCounters {
  delivered(webhook: string, outcome: 'sent' | 'failed'): void;
  retried(webhook: string): void;
  dropped(webhook: string): void;
  suppressed(event: string): void;
}

export interface Delivery {
  id: string;
  event: AlertEvent;
  body: string;
}

/** A webhook's counters and last failure, for /api/state (never its URL or headers). */
export interface ChannelState {
  name: string;
  format: 'json' | 'slack';
  events: string[];
  queued: number;
  sent: number;
  failed: number;
  retries: number;
  dropped: number;
  lastSentAt: number | null;
  lastError: { at: number; event: string; reason: string } | null;
}

/**
 * One webhook's outgoing queue, sent in order on its own async path (one request at a time,
 * so a recovery never overtakes its breach). The queue is bounded: when full, the oldest
 * waiting delivery is dropped and counted. A slow or hanging receiver delays only its own
 * queue, never the tick and never another webhook.
 */
export class WebhookChannel {
  readonly #queue: Delivery[] = [];
  readonly #stopping = new AbortController();
  #busy = false;
  readonly #stats = {
    sent: 0,
    failed: 0,
    retries: 0,
    dropped: 0,
    lastSentAt: null as number | null,
    lastError: null as ChannelState['lastError'],
  };

  constructor(
    readonly hook: AlertWebhookConfig,
    private readonly settings: Pick<AlertsConfig, 'queueSize' | 'retry'>,
    private readonly logger: Logger,
    private readonly counters: AlertCounters,
  ) {}

  /** Queues a delivery and returns at once; sending happens on the channel's own path. */
  enqueue(delivery: Delivery): void {
    if (this.#stopping.signal.aborted) return;
    while (this.#queue.length >= this.settings.queueSize) {
      const dropped = this.#queue.shift();
      this.#stats.dropped++;
      this.counters.dropped(this.hook.name);
      this.logger.warn('alert webhook queue full: the oldest alert is dropped', {
        webhook: this.hook.name,
        event: dropped?.event.type,
        condition: dropped?.event.key,
        queueSize: this.settings.queueSize,
      });
    }
    this.#queue.push(delivery);
    void this.#drain();
  }

  get queued(): number {
    return this.#queue.length;
  }

  state(): ChannelState {
    return {
      name: this.hook.name,
      format: this.hook.format,
      events: [...this.hook.events],
      queued: this.#queue.length,
      ...this.#stats,
    };
  }

  /** Aborts the request in flight and forgets what waits; returns how many were not sent. */
  close(): number {
    const unsent = this.#queue.length + (this.#busy ? 1 : 0);
    this.#queue.length = 0;
    this.#stopping.abort();
    return unsent;
  }

  async #drain(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      for (;;) {
        const delivery = this.#queue.shift();
        if (!delivery || this.#stopping.signal.aborted) return;
        await this.#deliver(delivery);
      }
    } catch (error) {
      // Nothing above should throw; if it does, the channel must not die with it.
      this.logger.error('alert webhook channel failed', { webhook: this.hook.name, error });
    } finally {
      this.#busy = false;
    }
  }

  async #deliver(delivery: Delivery): Promise<void> {
    const { retries } = this.settings.retry;
    const fields = {
      webhook: this.hook.name,
      event: delivery.event.type,
      condition: delivery.event.key,
    };
    for (let attempt = 0; ; attempt++) {
      const outcome = await postOnce(this.hook, delivery.body, {
        id: delivery.id,
        stopping: this.#stopping.signal,
      });
      if (this.#stopping.signal.aborted) return;
      if (outcome.ok) {
        this.#stats.sent++;
        this.#stats.lastSentAt = Date.now();
        this.counters.delivered(this.hook.name, 'sent');
        this.logger.info('alert sent', {
          ...fields,
          status: outcome.status,
          attempts: attempt + 1,
        });
        return;
      }
      if (!outcome.retry || attempt >= retries) {
        this.#stats.failed++;
        this.#stats.lastError = {
          at: Date.now(),
          event: delivery.event.type,
          reason: outcome.reason,
        };
        this.counters.delivered(this.hook.name, 'failed');
        this.logger.warn('alert not delivered', {
          ...fields,
          reason: outcome.reason,
          attempts: attempt + 1,
          final: outcome.retry ? 'retries exhausted' : 'not retried',
        });
        return;
      }
      const delayMs = outcome.retryAfterMs ?? backoffDelay(attempt, this.settings.retry);
      this.#stats.retries++;
      this.#stats.lastError = {
        at: Date.now(),
        event: delivery.event.type,
        reason: outcome.reason,
      };
      this.counters.retried(this.hook.name);
      this.logger.info('alert delivery failed; retrying', {
        ...fields,
        reason: outcome.reason,
        attempt: attempt + 1,
        retryInMs: Math.round(delayMs),
      });
      try {
        await sleep(delayMs, undefined, { signal: this.#stopping.signal });
      } catch {
        return; // Stopping.
      }
    }
  }
}
