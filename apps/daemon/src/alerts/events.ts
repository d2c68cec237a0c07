import type { AlertEventType } from '../config/alerts.js';

/**
 * One alert. `key` names the condition (`slo:emails`, `degraded:emails`, `redis:host:6379`,
 * `leader:<fleet>`): a `firing` event and the `resolved` one that ends it share it, and the
 * rate limit counts per key.
 */
export interface AlertEvent {
  type: AlertEventType;
  status: 'firing' | 'resolved' | 'changed';
  key: string;
  /** Epoch ms. */
  at: number;
  /** The queue it is about, when it is about one. */
  queue: string | null;
  /** One line for people. */
  summary: string;
  /** The figures behind it; per type, as documented in the README. */
  details: Record<string, unknown>;
}

/** A fleet's leader changed (src/fleet/): sent by the host that took the lease over. */
export interface LeaderChange {
  fleet: string;
  previous: { host: string; id: string } | null;
  leader: { host: string; id: string };
  /** The new lease's fencing token: higher than every earlier leader's. */
  fencingToken: number;
  at: number;
}

export function leaderChangedEvent(change: LeaderChange): AlertEvent {
  return {
    type: 'fleet-leader-changed',
    status: 'changed',
    key: `leader:${change.fleet}`,
    at: change.at,
    queue: null,
    summary: `fleet ${change.fleet}: ${change.leader.host} leads now${change.previous ? ` (was ${change.previous.host})` : ''}`,
    details: {
      fleet: change.fleet,
      previous: change.previous,
      leader: change.leader,
      fencingToken: change.fencingToken,
    },
  };
}

/** What a webhook receives besides the event: a delivery id and where it came from. */
export interface Envelope {
  /** Unique per event; the same on every retry, so a receiver can drop duplicates. */
  id: string;
  /** The daemon's host name. */
  host: string;
  /** Events of this key not sent since the last one (rate limit). */
  suppressed: number;
}

/** The generic JSON body, version 1 (documented in the README; fields are only ever added). */
export function jsonBody(event: AlertEvent, envelope: Envelope): Record<string, unknown> {
  return {
    version: 1,
    source: 'qscale',
    id: envelope.id,
    event: event.type,
    status: event.status,
    key: event.key,
    at: event.at,
    time: new Date(event.at).toISOString(),
    host: envelope.host,
    queue: event.queue,
    summary: event.summary,
    details: event.details,
    suppressed: envelope.suppressed,
  };
}

const ICON: Record<AlertEvent['status'], string> = {
  firing: ':red_circle:',
  resolved: ':large_green_circle:',
  changed: ':large_blue_circle:',
};

/** A Slack incoming-webhook body: `text` (notifications, fallback) and Block Kit blocks. */
export function slackBody(event: AlertEvent, envelope: Envelope): Record<string, unknown> {
  const title = `${event.status === 'resolved' ? 'Resolved' : 'Alert'}: ${event.type}${event.queue ? ` (${event.queue})` : ''}`;
  const fields = Object.entries(event.details)
    .filter(([, value]) => value !== null && typeof value !== 'object')
    .slice(0, 10)
    .map(([name, value]) => ({
      type: 'mrkdwn',
      text: `*${mrkdwn(name)}*\n${mrkdwn(String(value))}`,
    }));
  const context = `qscale on ${envelope.host} · ${new Date(event.at).toISOString()}${envelope.suppressed > 0 ? ` · ${envelope.suppressed} suppressed since the last one` : ''}`;
  return {
    text: `${ICON[event.status]} ${event.summary}`,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: title.slice(0, 150) } },
      {
        type: 'section',
        text: { type: 'mrkdwn', text: `${ICON[event.status]} ${mrkdwn(event.summary)}` },
      },
      ...(fields.length > 0 ? [{ type: 'section', fields }] : []),
      { type: 'context', elements: [{ type: 'mrkdwn', text: mrkdwn(context) }] },
    ],
  };
}

/** Slack's mrkdwn treats `&`, `<` and `>` as control characters. */
function mrkdwn(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
