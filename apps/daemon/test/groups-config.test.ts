import { describe, expect, it } from 'vitest';
import { ConfigError, configJsonSchema, formatProblem, parseConfig } from '../src/index.js';
import { readerSources } from '../src/runtime/wiring.js';

/** The formatted problem lines of a config that must be rejected. */
function problems(text: string): string[] {
  try {
    parseConfig(text, { fileName: 'qscale.yml', env: {} });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.map(formatProblem);
  }
  throw new Error('expected the configuration to be rejected');
}

const laravelQueues = `queues:
  high:
    driver: laravel
    slo: { pickup: 5s }
  default:
    driver: laravel
    slo: { pickup: 60s, percentile: 99 }
`;

describe('groups: one pool serving several queues', () => {
  it('resolves a Laravel group into one pool entry carrying its members in order', () => {
    const config = parseConfig(
      `${laravelQueues}  mail:
    driver: bullmq
    command: [node, mail.js]
groups:
  web:
    queues: [high, default]
    command: [php, artisan, queue:work, redis, "--queue=high,default"]
    workers: { min: 1, max: 8 }
`,
      { env: {} },
    );
    expect(config.queues.map((queue) => queue.name)).toEqual(['mail', 'web']);
    const web = config.queues[1];
    expect(web?.command).toEqual(['php', 'artisan', 'queue:work', 'redis', '--queue=high,default']);
    expect(web?.workers).toEqual({ min: 1, max: 8, concurrency: 1 });
    expect(web?.driver).toBe('laravel');
    // Policies report breaches against the tightest member SLO.
    expect(web?.slo).toEqual({ pickupMs: 5_000, percentile: 95 });
    expect(web?.workerGroup?.discipline).toBe('priority');
    expect(web?.workerGroup?.weights).toBeNull();
    expect(web?.workerGroup?.members.map((member) => [member.name, member.slo])).toEqual([
      ['high', { pickupMs: 5_000, percentile: 95 }],
      ['default', { pickupMs: 60_000, percentile: 99 }],
    ]);
    // The reader reads each member queue, never the group's name.
    expect(config.queues.flatMap(readerSources).map((source) => source.queue)).toEqual([
      'mail',
      'high',
      'default',
    ]);
  });

  it('defaults the discipline per driver and fills missing Sidekiq weights with 1', () => {
    const config = parseConfig(
      `queues:
  critical: { driver: sidekiq }
  high: { driver: sidekiq }
  low: { driver: sidekiq }
  a: { driver: celery }
  b: { driver: celery }
groups:
  sk:
    queues: [critical, high, low]
    weights: { critical: 5, high: 3 }
    command: [bundle, exec, sidekiq, -q, critical,5, -q, high,3, -q, low]
  cel:
    queues: [a, b]
    command: [celery, -A, app, worker, -Q, "a,b"]
`,
      { env: {} },
    );
    const [sk, cel] = config.queues;
    expect(sk?.workerGroup?.discipline).toBe('weighted');
    expect(sk?.workerGroup?.weights).toEqual({ critical: 5, high: 3, low: 1 });
    expect(cel?.workerGroup?.discipline).toBe('round-robin');
  });

  it('names every mistake at its line and column', () => {
    const lines = problems(`queues:
  high: { driver: laravel }
  default:
    driver: laravel
    command: [php, artisan, queue:work]
  low: { driver: sidekiq }
  other: { driver: rq }
  extra: { driver: rq }
  mail: { driver: bullmq, command: [node, mail.js] }
groups:
  web:
    queues: [high, default, nowhere]
    weights: { high: 3 }
    command: [php, artisan, queue:work]
  again:
    queues: [high]
    command: [php, artisan, queue:work]
  mixed:
    queues: [low, other]
    command: [sidekiq]
  mail:
    queues: [extra]
    command: [rq, worker, extra]
`);
    expect(lines).toEqual([
      'queues.default.command: queue "default" is served by group "web": set command on the group, not on the queue (qscale.yml:5:14)',
      'groups.web.queues[2]: unknown queue "nowhere"; declare it under queues (high, default, low, other, extra, mail) (qscale.yml:12:29)',
      'groups.again.queues[0]: queue "high" is already served by group "web": a queue belongs to one group (qscale.yml:16:14)',
      'groups.mixed.queues: mixes drivers (low is sidekiq, other is rq): one worker reads one queue system (qscale.yml:19:13)',
      'groups.mail: a queue is also named "mail": a group needs a name of its own (qscale.yml:22:5)',
    ]);
  });

  it('rejects weights on a priority group and a discipline the backend does not have', () => {
    expect(
      problems(`${laravelQueues}groups:
  web:
    queues: [high, default]
    weights: { high: 3, default: 1 }
    command: [php, artisan, queue:work]
`),
    ).toEqual([
      'groups.web.weights: weights apply to a weighted group; this group is priority (qscale.yml:11:14)',
    ]);
    expect(
      problems(`${laravelQueues}groups:
  web:
    queues: [high, default]
    discipline: round-robin
    command: [php, artisan, queue:work]
`),
    ).toEqual([
      'groups.web.discipline: a laravel worker takes its queues by priority, not round-robin (qscale.yml:11:17)',
    ]);
    expect(
      problems(`queues:
  a: { driver: sidekiq, prefix: one }
  b: { driver: sidekiq, prefix: two }
groups:
  sk:
    queues: [a, b]
    weights: { c: 2 }
    command: [sidekiq]
`),
    ).toEqual([
      'groups.sk.queues: a and b have different prefixes: one worker uses one prefix (qscale.yml:6:13)',
    ]);
  });

  it('asks for the command on the group', () => {
    expect(
      problems(`${laravelQueues}groups:
  web:
    queues: [high, default]
`),
    ).toEqual([
      'groups.web.command: required: set the worker command as an argv array here or under defaults (qscale.yml:9:3)',
    ]);
  });

  it('is in the JSON Schema editors read', () => {
    const schema = configJsonSchema() as {
      properties: { groups: { additionalProperties: { properties: Record<string, unknown> } } };
    };
    const group = schema.properties.groups.additionalProperties.properties;
    expect(Object.keys(group)).toEqual(expect.arrayContaining(['queues', 'discipline', 'weights']));
    expect(Object.keys(group)).not.toContain('slo');
  });
});
