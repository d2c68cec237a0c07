import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isQscaleError } from '@qscale/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatorError } from './errors.js';
import { loadTrace, parseTrace } from './trace.js';

const valid = {
  name: 'mine',
  durationMs: 60_000,
  queues: [
    {
      name: 'emails',
      arrivals: {
        kind: 'poisson',
        rate: [
          { atMs: 0, perSecond: 1 },
          { atMs: 30_000, perSecond: 5 },
        ],
      },
      service: { kind: 'exponential', meanMs: 500 },
    },
  ],
};

function problems(input: unknown): string[] {
  try {
    parseTrace(input, 'mine.json');
  } catch (error) {
    expect(isQscaleError(error, 'TRACE_INVALID')).toBe(true);
    expect((error as Error).message).toContain('mine.json is not a valid workload trace');
    return (error as SimulatorError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  throw new Error('expected the trace to be rejected');
}

const withQueue = (queue: object) => ({ ...valid, queues: [{ ...valid.queues[0], ...queue }] });

describe('parseTrace', () => {
  it('accepts a valid trace', () => {
    expect(parseTrace(valid).queues[0]?.name).toBe('emails');
  });

  it('names the JSON path and the value of a wrong figure', () => {
    const bad = withQueue({
      arrivals: {
        kind: 'poisson',
        rate: [
          { atMs: 0, perSecond: 1 },
          { atMs: 10, perSecond: -1 },
        ],
      },
    });
    expect(problems(bad)).toEqual([
      'queues[0].arrivals.rate[1].perSecond: expected jobs per second (a number >= 0), got -1',
    ]);
  });

  it('reports unknown keys, missing fields and unknown kinds', () => {
    expect(problems(withQueue({ workres: { max: 3 } }))).toEqual([
      'queues[0]: unknown key "workres"',
    ]);
    expect(problems({ ...valid, durationMs: undefined })).toEqual([
      'durationMs: required: expected the simulated duration in milliseconds (a number > 0)',
    ]);
    expect(problems(withQueue({ service: { kind: 'pareto', meanMs: 1 } }))[0]).toMatch(
      /^queues\[0\]\.service\.kind: .*"constant", "exponential" or "lognormal"/,
    );
  });

  it('checks what the schema alone cannot: order, bounds, unique names', () => {
    expect(
      problems(withQueue({ arrivals: { kind: 'replay', timestampsMs: [0, 500, 200] } })),
    ).toEqual([
      'queues[0].arrivals.timestampsMs[2]: expected times in ascending order, 200 comes after 500',
    ]);
    expect(problems(withQueue({ workers: { min: 5, max: 2 } }))).toEqual([
      'queues[0].workers: min (5) is greater than max (2)',
    ]);
    expect(problems(withQueue({ workers: { min: 1, max: 4, initial: 9 } }))).toEqual([
      'queues[0].workers.initial: expected an initial worker count between min (1) and max (4)',
    ]);
    const twice = { ...valid, queues: [valid.queues[0], valid.queues[0]] };
    expect(problems(twice)).toEqual([
      'queues[1].name: expected unique queue names, "emails" appears twice',
    ]);
  });
});

describe('loadTrace', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'qscale-trace-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a JSON file', async () => {
    const file = join(dir, 'ok.json');
    await writeFile(file, JSON.stringify(valid));
    expect((await loadTrace(file)).name).toBe('mine');
  });

  it('names the file for a syntax error, a bad trace and a missing file', async () => {
    const broken = join(dir, 'broken.json');
    await writeFile(broken, '{ "name": "x", ');
    await expect(loadTrace(broken)).rejects.toMatchObject({ code: 'TRACE_SYNTAX' });
    await expect(loadTrace(broken)).rejects.toThrow(`${broken} is not valid JSON`);
    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ ...valid, durationMs: -5 }));
    await expect(loadTrace(bad)).rejects.toThrow(
      `${bad} is not a valid workload trace:\n  durationMs: expected the simulated duration in milliseconds (a number > 0), got -5`,
    );
    await expect(loadTrace(join(dir, 'none.json'))).rejects.toMatchObject({
      code: 'TRACE_UNREADABLE',
    });
  });
});
