import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError, formatProblem, parseConfig } from '../index.js';

const QUEUES = 'queues:\n  mail: { driver: bullmq, command: [node, w.js] }\n';

function problems(section: string): string[] {
  try {
    parseConfig(`${section}\n${QUEUES}`, { env: {} });
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.map(formatProblem);
  }
}

describe('cluster', () => {
  it('is off unless enabled; the id defaults to the hostname, the lease to 10 s', () => {
    expect(parseConfig(QUEUES, { env: {} }).cluster).toEqual({
      enabled: false,
      id: hostname(),
      leaseTtlMs: 10_000,
      keyPrefix: 'qscale:fleet',
    });
    const config = parseConfig(`cluster: { enabled: true, id: web-2, leaseTtl: 4s }\n${QUEUES}`, {
      env: {},
    });
    expect(config.cluster).toMatchObject({ enabled: true, id: 'web-2', leaseTtlMs: 4_000 });
  });

  it('names each bad value with its line and column', () => {
    const lines = problems('cluster:\n  enabled: yes\n  id: "a b"\n  leaseTtl: 10\n  lease: 5s');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^cluster\.enabled: expected true or false.*qscale\.yml:2:12/);
    expect(lines[1]).toMatch(/^cluster\.id: expected a host id .*qscale\.yml:3:7/);
    expect(lines[2]).toMatch(/^cluster\.leaseTtl: expected a duration.*qscale\.yml:4:13/);
    expect(lines[3]).toMatch(/^cluster\.lease: unknown key.*leaseTtl.*qscale\.yml:5:3/);
  });

  it('refuses a lease shorter than two ticks', () => {
    expect(problems('tick: 5s\ncluster: { enabled: true, leaseTtl: 8s }')).toEqual([
      expect.stringMatching(/^cluster\.leaseTtl: a lease of 8000 ms is shorter than two ticks/),
    ]);
  });
});
