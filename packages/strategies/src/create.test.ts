import { defineStrategy, isQscaleError } from '@qscale/contracts';
import { context } from '@qscale/testkit';
import { describe, expect, it } from 'vitest';
import { createStrategy, STRATEGY_NAMES } from './create.js';
import { StrategyError } from './errors.js';

const anything = { safeParse: (input: unknown) => ({ success: true as const, data: input }) };

describe('createStrategy', () => {
  it('creates every built-in strategy, predictive first', () => {
    expect(STRATEGY_NAMES[0]).toBe('predictive');
    for (const name of STRATEGY_NAMES) {
      const recommendation = createStrategy(name).recommend(context());
      expect(Number.isInteger(recommendation.workers)).toBe(true);
      expect(recommendation.reason.length).toBeGreaterThan(0);
    }
  });

  it('rejects an unknown name, listing the built-in ones', () => {
    let error: unknown;
    try {
      createStrategy('predictiv');
    } catch (caught) {
      error = caught;
    }
    expect(isQscaleError(error, 'STRATEGY_UNKNOWN')).toBe(true);
    expect((error as Error).message).toContain('unknown strategy "predictiv"');
    expect((error as Error).message).toContain('laravel-hybrid');
    expect((error as StrategyError).strategy).toBe('predictiv');
  });

  it('rejects options its schema refuses, naming the option', () => {
    expect(() => createStrategy('hpa', { targetPendingPerWorker: -1 })).toThrow(
      /strategy "hpa": invalid options .*targetPendingPerWorker/,
    );
  });

  it('runs a plugin and checks what it returns', () => {
    const good = defineStrategy({
      name: 'always-three',
      optionsSchema: anything,
      create: () => ({ recommend: () => ({ workers: 3, reason: 'three', terms: {} }) }),
    });
    expect(createStrategy(good).recommend(context()).workers).toBe(3);
    const bad = defineStrategy({
      name: 'half-a-worker',
      optionsSchema: anything,
      create: () => ({ recommend: () => ({ workers: 0.5, reason: 'half', terms: {} }) }),
    });
    expect(() => createStrategy(bad).recommend(context())).toThrow(
      /strategy "half-a-worker" returned .* for queue "emails".*workers/,
    );
    let error: unknown;
    try {
      createStrategy(bad).recommend(context());
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(StrategyError);
    expect((error as StrategyError).code).toBe('STRATEGY_BAD_RECOMMENDATION');
  });

  it('says how much history each strategy reads, so the daemon keeps no more', () => {
    // The rate window, or the quiet-gap memory (5 min) when it is longer.
    expect(createStrategy('predictive').historyMs).toBe(300_000);
    expect(createStrategy('predictive', { rateWindowMs: 600_000 }).historyMs).toBe(600_000);
    expect(createStrategy('predictive', { quietAfterTicks: null }).historyMs).toBe(120_000);
    expect(createStrategy('erlang-drain').historyMs).toBe(60_000);
    expect(createStrategy('laravel-hybrid').historyMs).toBe(60_000);
    for (const name of ['littles-law', 'backlog', 'fixed', 'horizon', 'hpa']) {
      expect(createStrategy(name).historyMs).toBe(0);
    }
    const plugin = (historyMs: unknown) =>
      defineStrategy({
        name: 'windowed',
        optionsSchema: anything,
        create: () =>
          ({ historyMs, recommend: () => ({ workers: 1, reason: 'one', terms: {} }) }) as never,
      });
    expect(createStrategy(plugin(45_000)).historyMs).toBe(45_000);
    expect(createStrategy(plugin(undefined)).historyMs).toBeUndefined();
    expect(() => createStrategy(plugin(-1))).toThrow(
      'strategy "windowed": historyMs must be a number of milliseconds >= 0, got -1',
    );
  });
});
