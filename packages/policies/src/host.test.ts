import type { Decision } from '@qscale/contracts';
import { isQscaleError } from '@qscale/contracts';
import { describe, expect, it } from 'vitest';
import { shareHostCapacity } from './host.js';

const decision = (queue: string, to: number): Decision => ({
  queue,
  from: 0,
  to,
  recommendation: { workers: to, reason: 'test', terms: {} },
  edits: [],
});

describe('shareHostCapacity', () => {
  it('leaves decisions alone when they fit', () => {
    const decisions = [decision('a', 3), decision('b', 4)];
    expect(shareHostCapacity(decisions, { maxWorkers: 7 })).toEqual(decisions);
  });
  it('cuts to the fair share, by priority, and records why', () => {
    const shared = shareHostCapacity([decision('critical', 10), decision('bulk', 10)], {
      maxWorkers: 12,
      limiter: 'memory',
      queues: { critical: { priority: 3 }, bulk: { min: 1 } },
    });
    // bulk's minimum first; the other 11 by 3 x 10 unmet against 1 x 9 unmet: 8.46 and 2.54.
    expect(shared.map((d) => d.to)).toEqual([8, 4]);
    expect(shared[0]?.edits[0]).toEqual({
      policy: 'fair-share',
      from: 10,
      to: 8,
      why: 'the host holds 12 workers (limited by memory) and the queues want 20: fair share by unmet demand x priority 3 gives 8',
    });
  });
  it('rejects a bad capacity and duplicate queues', () => {
    expect(() => shareHostCapacity([], { maxWorkers: -1 })).toThrow(
      /maxWorkers must be a whole number/,
    );
    let error: unknown;
    try {
      shareHostCapacity([decision('a', 1), decision('a', 2)], { maxWorkers: 5 });
    } catch (caught) {
      error = caught;
    }
    expect(isQscaleError(error, 'POLICY_CONFIG_INVALID')).toBe(true);
  });
});
