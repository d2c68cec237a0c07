import type { QueueSnapshot } from '@qscale/contracts';
import type { FoundQueue } from './discover.js';
import type { PlannedQueue } from './render.js';
import { suggestBounds, suggestSlo } from './suggest.js';

// What the configuration's queue keys accept (the daemon's QUEUE_NAME_PATTERN).
const CONFIG_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

export interface PlanOptions {
  cpuCores: number;
  floorMs: number;
  fallbackPickupMs: number;
}

/** Each found queue with its configuration name and suggestions; `snapshots` in the same order. */
export function planQueues(
  found: readonly FoundQueue[],
  snapshots: readonly (QueueSnapshot | null)[],
  options: PlanOptions,
): PlannedQueue[] {
  const names = configNames(found);
  return found.map((queue, index) => {
    const snapshot = snapshots[index] ?? null;
    // A snapshot with an error still carries every figure it could read (the others are null).
    const meanRunMs = snapshot?.serviceTimeMs?.mean ?? null;
    return {
      configName: names[index] ?? queue.name,
      found: queue,
      snapshot,
      slo: suggestSlo(meanRunMs, options.floorMs, options.fallbackPickupMs),
      bounds: suggestBounds(snapshot?.arrivalRate ?? null, meanRunMs, options.cpuCores),
    };
  });
}

/**
 * A unique configuration key per queue: its backend name made schema-valid, then prefixed
 * with the driver where two systems share a name (`default` in Laravel and Sidekiq), then
 * numbered where that is still not enough (the same driver under two prefixes).
 */
export function configNames(found: readonly FoundQueue[]): string[] {
  const base = found.map((queue) => sanitize(queue.name) || queue.driver);
  const counts = new Map<string, number>();
  for (const name of base) counts.set(name, (counts.get(name) ?? 0) + 1);
  const taken = new Set<string>();
  return found.map((queue, index) => {
    const plain = base[index] ?? queue.driver;
    let name = (counts.get(plain) ?? 0) > 1 ? `${queue.driver}-${plain}` : plain;
    for (let n = 2; taken.has(name); n++) name = `${queue.driver}-${plain}-${n}`;
    taken.add(name);
    return name.slice(0, 200);
  });
}

function sanitize(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._:-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return CONFIG_NAME.test(cleaned) ? cleaned.replace(/-+$/, '') || cleaned : '';
}
