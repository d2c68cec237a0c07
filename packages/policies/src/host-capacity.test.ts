import type { Decision } from '@qscale/contracts';
import { describe, expect, it } from 'vitest';
import { capToQueueCapacity } from './host.js';

const decision = (queue: string, from: number, to: number): Decision => ({
  queue,
  from,
  to,
  recommendation: { workers: to, reason: 'test', terms: {} },
  edits: [],
});

describe('capToQueueCapacity', () => {
  it("cuts only the queue whose workers do not fit, naming the resource's figures", () => {
    const why =
      'cpu: 1.70 cores budget (85% of 2.00 cores) − 0.10 cores waited = 1.60 cores free / 0.80 cores per worker = 2';
    const [crunch, emails] = capToQueueCapacity(
      [decision('crunch', 1, 6), decision('emails', 1, 8)],
      { crunch: { maxWorkers: 2, why }, emails: { maxWorkers: 140 } },
    );
    expect(crunch).toMatchObject({
      to: 2,
      edits: [{ policy: 'host-capacity', from: 6, to: 2, why }],
    });
    expect(emails).toEqual(decision('emails', 1, 8));
  });

  it('keeps the minimum, and says so', () => {
    const [images] = capToQueueCapacity(
      [decision('images', 3, 5)],
      { images: { maxWorkers: 1, why: 'memory: 300 MiB free / 200 MiB per worker = 1' } },
      { images: 2 },
    );
    expect(images?.to).toBe(2);
    expect(images?.edits[0]?.why).toBe(
      'memory: 300 MiB free / 200 MiB per worker = 1 (its minimum 2 stands)',
    );
  });

  it('leaves a queue without a capacity figure alone and rejects a fractional one', () => {
    const alone = decision('a', 0, 4);
    expect(capToQueueCapacity([alone], {})).toEqual([alone]);
    expect(() => capToQueueCapacity([alone], { a: { maxWorkers: 1.5 } })).toThrow(
      'host capacity of queue "a" must be a whole number >= 0, got 1.5',
    );
  });
});
