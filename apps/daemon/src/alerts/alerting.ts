import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '@qscale/contracts';
import type { AlertsConfig } from '../config/alerts.js';
import { type AlertCounters, type ChannelState, WebhookChannel } from './channel.js';
import {
  type AlertEvent,
  jsonBody,
  type LeaderChange,
  leaderChangedEvent,
  slackBody,
} from './events.js';
import { type AlertQueueView, AlertRules } from './rules.js';

export interface AlertsState {
  webhooks: ChannelState[];
  /** Conditions firing now (whether or not a webhook was told). */
  firing: { key: string; since: number }[];
}

export interface Alerting {
  /** Evaluates the rules on what a tick measured and queues what fires. Never blocks, never throws. */
  observe(now: number, queues: readonly AlertQueueView[]): void;
  /** Sends a fleet leader change (src/fleet/: the host that took the lease over calls it). */
  leaderChanged(change: LeaderChange): void;
  /** Applies a reloaded `alerts` section; unchanged webhooks keep their queues. */
  configure(config: AlertsConfig): void;
  queues(): { webhook: string; queued: number }[];
  state(): AlertsState;
  /** Aborts deliveries in flight and drops what waits (logged). */
  close(): void;
}

/**
 * The alert sink beside the logger: rules turn ticks into events, a per-key rate limit
 * (`minInterval`) thins them, and each webhook sends its own queue off the tick.
 */
export function createAlerting(options: {
  config: AlertsConfig;
  logger: Logger;
  counters: AlertCounters;
}): Alerting {
  const { logger, counters } = options;
  const host = hostname();
  const rules = new AlertRules();
  let config = options.config;
  let channels = new Map<string, WebhookChannel>();
  /** Per event key: the last firing sent, firings suppressed since, and whether to send the resolution. */
  const limits = new Map<string, { sentAt: number; suppressed: number; open: boolean }>();

  const channelFor = (
    hook: AlertsConfig['webhooks'][number],
    previous: Map<string, WebhookChannel>,
  ) => {
    const same = previous.get(hook.name);
    if (same && JSON.stringify(same.hook) === JSON.stringify(hook)) return same;
    return new WebhookChannel(hook, config, logger, counters);
  };
  const configure = (next: AlertsConfig) => {
    const previous = channels;
    const settingsChanged =
      next.queueSize !== config.queueSize ||
      JSON.stringify(next.retry) !== JSON.stringify(config.retry);
    config = next;
    channels = new Map(
      next.webhooks.map((hook) => [
        hook.name,
        settingsChanged
          ? new WebhookChannel(hook, config, logger, counters)
          : channelFor(hook, previous),
      ]),
    );
    for (const [name, channel] of previous) {
      if (channels.get(name) !== channel) channel.close();
    }
  };
  configure(config);

  /** Whether the event passes the rate limit, and how many of its key were held back. */
  const admit = (event: AlertEvent, now: number): number | null => {
    const entry = limits.get(event.key);
    if (event.status === 'resolved') {
      // A resolution is sent exactly when its firing was: never a lone "recovered".
      if (!entry?.open) return null;
      entry.open = false;
      return 0;
    }
    if (entry && now - entry.sentAt < config.minIntervalMs) {
      entry.suppressed++;
      entry.open = false;
      counters.suppressed(event.type);
      return null;
    }
    const suppressed = entry?.suppressed ?? 0;
    limits.set(event.key, { sentAt: now, suppressed: 0, open: true });
    return suppressed;
  };

  const publish = (event: AlertEvent) => {
    const subscribers = [...channels.values()].filter((channel) =>
      channel.hook.events.includes(event.type),
    );
    if (subscribers.length === 0) return;
    const suppressed = admit(event, event.at);
    if (suppressed === null) {
      logger.debug('alert suppressed by alerts.minInterval', {
        event: event.type,
        condition: event.key,
      });
      return;
    }
    const fields = { event: event.type, condition: event.key };
    if (event.status === 'resolved') logger.info(`alert: ${event.summary}`, fields);
    else logger.warn(`alert: ${event.summary}`, fields);
    const envelope = { id: randomUUID(), host, suppressed };
    const json = JSON.stringify(jsonBody(event, envelope));
    const slack = JSON.stringify(slackBody(event, envelope));
    for (const channel of subscribers) {
      channel.enqueue({
        id: envelope.id,
        event,
        body: channel.hook.format === 'slack' ? slack : json,
      });
    }
  };

  return {
    observe(now, queues) {
      try {
        for (const event of rules.evaluate(now, queues, config)) publish(event);
      } catch (error) {
        logger.error('alert rules failed; the tick goes on', { error });
      }
    },
    leaderChanged(change) {
      publish(leaderChangedEvent(change));
    },
    configure,
    queues: () =>
      [...channels.values()].map((channel) => ({
        webhook: channel.hook.name,
        queued: channel.queued,
      })),
    state: () => ({
      webhooks: [...channels.values()].map((channel) => channel.state()),
      firing: rules.firing(),
    }),
    close() {
      let unsent = 0;
      for (const channel of channels.values()) unsent += channel.close();
      if (unsent > 0) logger.warn('alerts not sent: the daemon is stopping', { unsent });
    },
  };
}
