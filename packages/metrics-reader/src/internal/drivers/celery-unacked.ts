import { DataProblem, describe } from '../payload.js';

/** What the reader needs of a message kombu holds in `unacked` for a worker. */
export interface HeldMessage {
  /** The routing key it was delivered with (the queue's name for Celery's default exchange). */
  routingKey: string;
  /** Protocol 2 `headers.eta` as epoch ms; null when it runs as soon as it can. */
  etaMs: number | null;
}

/**
 * Parses an `unacked` hash value: kombu stores `dumps([message, exchange, routing_key])` for
 * each delivery tag (kombu/transport/redis.py, `QoS.append`). `where` names it in errors.
 */
export function parseHeld(raw: string, where: string, maxBytes: number): HeldMessage {
  if (raw.length > maxBytes) {
    throw new DataProblem(
      'PAYLOAD_TOO_LARGE',
      `${where} is ${raw.length} bytes, above maxPayloadBytes ${maxBytes}`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new DataProblem(
      'BAD_PAYLOAD',
      `${where} is not JSON (${describe(raw)}); expected kombu's [message, exchange, routing_key]`,
    );
  }
  if (!Array.isArray(value) || value.length < 3 || typeof value[2] !== 'string') {
    throw new DataProblem(
      'BAD_PAYLOAD',
      `${where} is ${describe(raw)}, expected kombu's [message, exchange, routing_key]`,
    );
  }
  const message = value[0] as { headers?: { eta?: unknown } } | null;
  const eta = message?.headers?.eta;
  let etaMs: number | null = null;
  if (typeof eta === 'string') {
    etaMs = Date.parse(eta);
    if (Number.isNaN(etaMs)) {
      throw new DataProblem(
        'BAD_PAYLOAD',
        `${where} has headers.eta ${describe(eta)}, expected an ISO-8601 time`,
      );
    }
  } else if (eta !== null && eta !== undefined) {
    throw new DataProblem(
      'BAD_PAYLOAD',
      `${where} has headers.eta ${describe(eta)}, expected an ISO-8601 time or null`,
    );
  }
  return { routingKey: value[2], etaMs };
}
