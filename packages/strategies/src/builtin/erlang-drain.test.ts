import { context, history } from '@qscale/testkit';
import { describe, expect, it } from 'vitest';
import { createStrategy } from '../create.js';
import { erlangC } from '../internal/queueing.js';

const NOW = 1_000_000;
const service = { mean: 1_000, p95: 3_000 };

function recommend(pending: number, rate = 20) {
  return createStrategy('erlang-drain').recommend(
    context({
      now: NOW,
      bounds: { min: 0, max: 100 },
      history: history(30, 2_000, NOW, () => ({ arrivalRate: rate, serviceTimeMs: service })),
      queue: { arrivalRate: rate, pending, serviceTimeMs: service },
    }),
  );
}

describe('erlang-drain (the reference)', () => {
  it('sizes the steady state with Erlang C so that P(wait > SLO) <= 5 % at p95', () => {
    const result = recommend(0);
    const c = result.terms.steadyState as number;
    const tail = (servers: number) => erlangC(servers, 20) * Math.exp(-(servers - 20) * 30);
    expect(tail(c)).toBeLessThanOrEqual(0.05);
    expect(tail(c - 1)).toBeGreaterThan(0.05);
    expect(result.workers).toBe(c);
    expect(result.terms.arrivalRate).toBeCloseTo(20, 9);
  });

  it('adds pending / (SLO / service time) workers to drain the backlog within one SLO', () => {
    const steady = recommend(0).workers;
    const result = recommend(300);
    expect(result.terms.backlogDrain).toBeCloseTo(10, 9); // 300 jobs / (30 s / 1 s)
    expect(result.workers).toBe(steady + 10);
    expect(result.reason).toMatch(/plus 10 to drain 300 pending/);
  });

  it('asks for nothing when nothing arrives and nothing waits', () => {
    expect(recommend(0, 0).workers).toBe(0);
  });
});
