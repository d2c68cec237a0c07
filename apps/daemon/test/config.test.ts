import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isQscaleError } from '@qscale/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueueConfig } from '../src/config/schema.js';
import {
  ConfigError,
  configJsonSchema,
  configWarnings,
  exampleConfig,
  formatProblem,
  loadConfig,
  parseConfig,
} from '../src/index.js';
import { createDecider } from '../src/runtime/queue-runtime.js';
import { pipelineSettings, readerSource, strategyOptions } from '../src/runtime/wiring.js';

const minimal = `
queues:
  emails:
    driver: bullmq
    command: [node, worker.js]
`;

/** The formatted problem lines of a config that must be rejected. */
function problems(text: string, env: Record<string, string> = {}): string[] {
  try {
    parseConfig(text, { fileName: 'qscale.yml', env });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.map(formatProblem);
  }
  throw new Error('expected the configuration to be rejected');
}

describe('parseConfig: a valid file', () => {
  it('accepts the commented example that `qscale init` writes', () => {
    const config = parseConfig(exampleConfig(), { env: {}, baseDir: '/srv/app' });
    expect(config.queues.map((queue) => queue.name)).toEqual(['emails', 'reports']);
    const [emails, reports] = config.queues;
    // Own settings win, the rest comes from `defaults`, then from DEFAULTS.
    expect(emails?.slo).toEqual({ pickupMs: 10_000, percentile: 95 });
    expect(emails?.workers).toEqual({ min: 1, max: 12, concurrency: 1 });
    expect(emails?.command).toEqual(['node', 'workers/emails.js']);
    expect(emails?.stop).toEqual({ signals: ['SIGTERM'], graceMs: 30_000 });
    expect(reports?.slo).toEqual({ pickupMs: 300_000, percentile: 99 });
    expect(reports?.stop.graceMs).toBe(660_000);
    expect(reports?.recycle).toEqual({
      maxRssBytes: 512 * 1024 ** 2,
      maxLifetimeMs: 6 * 3_600_000,
    });
    expect(config.supervision.refuseRoot).toBe(true);
    expect(reports?.cwd).toBe('/srv/app');
    expect(config.tickMs).toBe(2_000);
    expect(config.http).toEqual({ enabled: true, host: '127.0.0.1', port: 9730, token: null });
    expect(config.redis.url).toBe('redis://127.0.0.1:6379');
    expect(config.supervision.stateFile).toBe('/srv/app/.qscale/state.json');
  });

  it('fills every default for a minimal queue', () => {
    const [queue] = parseConfig(minimal, { env: {} }).queues;
    expect(queue).toMatchObject({
      name: 'emails',
      backendName: 'emails',
      prefix: null,
      strategy: { name: 'predictive', options: {} },
      slo: { pickupMs: 30_000, percentile: 95 },
      workers: { min: 0, max: 10, concurrency: 1 },
      env: {},
      user: null,
      spawn: { latencyMs: 2_000, minUptimeMs: 1_000 },
      recycle: { maxRssBytes: null, maxLifetimeMs: null },
      scaling: {
        cooldownMs: 30_000,
        downStabilizationMs: 30_000,
        priority: 1,
        quietAfterTicks: 2,
        quietMemoryMs: 300_000,
      },
    });
  });

  it('converts durations, sizes and signals into house units', () => {
    const [queue] = parseConfig(
      `
tick: 500ms
queues:
  q:
    driver: sidekiq
    command: [bundle, exec, sidekiq]
    stop: { signal: [TSTP, SIGTERM], grace: 1.5m }
    recycle: { memory: 512MB, lifetime: 2h }
    resources: { cpu: 0.25, memory: 256MiB }
`,
      { env: {} },
    ).queues;
    expect(queue?.stop).toEqual({ signals: ['SIGTSTP', 'SIGTERM'], graceMs: 90_000 });
    expect(queue?.recycle).toEqual({ maxRssBytes: 512_000_000, maxLifetimeMs: 7_200_000 });
    expect(queue?.resources).toEqual({ cpuCores: 0.25, memoryBytes: 268_435_456 });
  });

  it('resolves crash-loop and scale-down settings for the supervisor and the policies', () => {
    const [queue] = parseConfig(
      `${minimal}    restart: { backoff: 1s, backoffMax: 1m, maxFailedStarts: 3, coolOff: 2m }\n    scaling: { maxStepDownRatio: 0.25 }\n`,
      { env: {} },
    ).queues;
    expect(queue?.restart).toEqual({
      backoffInitialMs: 1_000,
      backoffMaxMs: 60_000,
      backoffResetMs: 30_000,
      maxFailedStarts: 3,
      coolOffMs: 120_000,
    });
    expect(queue?.scaling.maxStepDownRatio).toBe(0.25);
    expect(problems(`${minimal}    scaling: { maxStepDownRatio: 1.5 }\n`)).toEqual([
      'queues.emails.scaling.maxStepDownRatio: expected a share above 0 and at most 1, e.g. 0.25, got 1.5 (qscale.yml:6:34)',
    ]);
  });

  it('passes the quiet release (scaling.quietAfterTicks, quietMemory) to the policies and predictive', async () => {
    const [tuned, off, own] = parseConfig(
      `
defaults:
  scaling: { quietAfterTicks: 5, quietMemory: 10m }
queues:
  tuned: { driver: bullmq, command: [node, worker.js] }
  off:
    driver: bullmq
    command: [node, worker.js]
    scaling: { quietAfterTicks: false }
  own:
    driver: bullmq
    command: [node, worker.js]
    strategy: { name: predictive, options: { quietMemoryMs: 60000 } }
`,
      { env: {} },
    ).queues as [QueueConfig, QueueConfig, QueueConfig];
    expect(pipelineSettings(tuned)).toMatchObject({ quietAfterTicks: 5, quietMemoryMs: 600_000 });
    expect(pipelineSettings(off)).toMatchObject({ quietAfterTicks: null, quietMemoryMs: 600_000 });
    // The strategy's own options win over the queue's scaling block.
    expect(strategyOptions(own)).toEqual({ quietAfterTicks: 5, quietMemoryMs: 60_000 });
    // predictive keeps history for the quiet memory; with the release off, only its rate window.
    const history = async (queue: QueueConfig) =>
      (await createDecider(queue, { configDir: '.', onPolicyEvent: () => {} })).strategy.historyMs;
    expect(await history(tuned)).toBe(600_000);
    expect(await history(off)).toBe(120_000);
    expect(await history(own)).toBe(120_000);
    // Another strategy is given its own options only (its schema would refuse the keys).
    const [hpa] = parseConfig(
      `${minimal}    strategy: hpa\n    scaling: { quietAfterTicks: 3 }\n`,
      { env: {} },
    ).queues as [QueueConfig];
    expect(strategyOptions(hpa)).toEqual({});
    expect(pipelineSettings(hpa).quietAfterTicks).toBe(3);
  });

  it('refuses a quiet release that is not a tick count or false, with its position', () => {
    expect(problems(`${minimal}    scaling: { quietAfterTicks: 0, quietMemory: 2h }\n`)).toEqual([
      'queues.emails.scaling.quietAfterTicks: expected a whole number of ticks >= 1, or false (never), got 0 (qscale.yml:6:33)',
      'queues.emails.scaling.quietMemory: expected a duration from 0ms to 1h, got "2h" (qscale.yml:6:49)',
    ]);
    expect(problems(`${minimal}    scaling: { quietAfterTicks: true }\n`)).toEqual([
      'queues.emails.scaling.quietAfterTicks: expected a whole number of ticks >= 1, or false (never), got true (qscale.yml:6:33)',
    ]);
  });

  it('merges objects from defaults key by key, but replaces commands and strategies whole', () => {
    const [a, b] = parseConfig(
      `
defaults:
  driver: rq
  command: [rq, worker]
  env: { APP_ENV: production, LOG: info }
  strategy: { name: littles-law, options: { headroom: 1.2 } }
  workers: { max: 4 }
queues:
  a:
    env: { LOG: debug }
    workers: { min: 1 }
  b:
    command: [rq, worker, --burst]
    strategy: fixed
`,
      { env: {} },
    ).queues;
    expect(a?.env).toEqual({ APP_ENV: 'production', LOG: 'debug' });
    expect(a?.workers).toEqual({ min: 1, max: 4, concurrency: 1 });
    expect(a?.strategy).toEqual({ name: 'littles-law', options: { headroom: 1.2 } });
    expect(b?.command).toEqual(['rq', 'worker', '--burst']);
    expect(b?.strategy).toEqual({ name: 'fixed', options: {} });
  });

  it('lets a queue override part of the Redis connection', () => {
    const config = parseConfig(
      `
redis: { url: "redis://10.0.0.5:6379", password: s3cret-password }
queues:
  a: { driver: rq, command: [rq, worker] }
  b: { driver: rq, command: [rq, worker], redis: { db: 2 } }
`,
      { env: {} },
    );
    expect(config.queues[0]?.redis).toEqual(config.redis);
    expect(config.queues[1]?.redis).toMatchObject({
      url: 'redis://10.0.0.5:6379',
      password: 's3cret-password',
      db: 2,
    });
  });
});

describe('parseConfig: Laravel timing', () => {
  it('passes retry_after and the probe to the reader; off is false; other drivers have none', () => {
    const config = parseConfig(
      `
queues:
  a: { driver: laravel, command: [php, artisan, queue:work], laravel: { retryAfter: 90s } }
  b: { driver: laravel, command: [php, artisan, queue:work], laravel: { probe: false } }
  c: { driver: laravel, command: [php, artisan, queue:work], laravel: { probe: 250ms } }
  d: { driver: rq, command: [rq, worker] }
`,
      { env: {} },
    );
    expect(config.queues.map((q) => q.laravel)).toEqual([
      { retryAfterS: 90, probeIntervalMs: 100 },
      { retryAfterS: null, probeIntervalMs: 0 },
      { retryAfterS: null, probeIntervalMs: 250 },
      null,
    ]);
    expect(readerSource(config.queues[0] as QueueConfig).laravel).toEqual({
      retryAfter: 90,
      probeIntervalMs: 100,
    });
    expect(readerSource(config.queues[3] as QueueConfig).laravel).toBeUndefined();
  });

  it('refuses settings the reader cannot use, naming the key', () => {
    const queue = (laravel: string, driver = 'laravel') =>
      `queues:\n  a: { driver: ${driver}, command: [x], laravel: ${laravel} }\n`;
    expect(problems(queue('{ retryAfter: 1500ms }'))).toEqual([
      expect.stringMatching(/^queues\.a\.laravel\.retryAfter: expected whole seconds/),
    ]);
    expect(problems(queue('{ probe: 5ms }'))).toEqual([
      expect.stringMatching(
        /^queues\.a\.laravel\.probe: expected false \(off\) or a duration from 20ms to 1s/,
      ),
    ]);
    expect(problems(queue('{ probe: 100ms }', 'bullmq'))).toEqual([
      expect.stringMatching(
        /^queues\.a\.laravel: only for driver laravel \(this queue is bullmq\)/,
      ),
    ]);
  });
});

describe('parseConfig: Celery acknowledgement', () => {
  it('passes acks_late and the probe to the reader; refused on other drivers', () => {
    const config = parseConfig(
      `
queues:
  a: { driver: celery, command: [celery, worker], celery: { acksLate: true } }
  b: { driver: celery, command: [celery, worker], celery: { acksLate: true, probe: false } }
  c: { driver: celery, command: [celery, worker] }
`,
      { env: {} },
    );
    expect(config.queues.map((q) => q.celery)).toEqual([
      { acksLate: true, probeIntervalMs: null },
      { acksLate: true, probeIntervalMs: 0 },
      { acksLate: false, probeIntervalMs: null },
    ]);
    expect(config.queues.map((q) => readerSource(q).celery)).toEqual([
      { acksLate: true },
      { acksLate: true, probeIntervalMs: 0 },
      { acksLate: false },
    ]);
    expect(
      problems('queues:\n  a: { driver: rq, command: [x], celery: { acksLate: true } }\n'),
    ).toEqual([
      expect.stringMatching(/^queues\.a\.celery: only for driver celery \(this queue is rq\)/),
    ]);
  });
});

describe('parseConfig: environment references', () => {
  const text = `
redis: { url: "\${REDIS_URL:-redis://127.0.0.1:6379}" }
http:
  port: \${PORT}
  token: "\${TOKEN}"
queues:
  emails:
    driver: bullmq
    command: [node, worker.js]
    env:
      GREETING: "costs $$5"
      RAW: \${RAW:-plain}
`;

  it('substitutes values and defaults as text; unquoted numbers become numbers', () => {
    const config = parseConfig(text, { env: { PORT: '9000', TOKEN: '1234567890123456' } });
    expect(config.redis.url).toBe('redis://127.0.0.1:6379');
    expect(config.http.port).toBe(9000);
    // Quoted: stays a string even though it looks like a number.
    expect(config.http.token).toBe('1234567890123456');
    expect(config.queues[0]?.env).toEqual({ GREETING: 'costs $5', RAW: 'plain' });
  });

  it('never lets a variable inject YAML structure', () => {
    const config = parseConfig(text, {
      env: { PORT: '1', TOKEN: 'x'.repeat(16), RAW: 'a: b\nqueues: {}' },
    });
    expect(config.queues[0]?.env.RAW).toBe('a: b\nqueues: {}');
    expect(config.queues).toHaveLength(1);
  });

  it('reports a missing variable without a default, with its line and column', () => {
    expect(problems(text, { TOKEN: 'x'.repeat(16) })).toEqual([
      'http.port: environment variable ${PORT} is not set and has no default (write ${NAME:-default}) (qscale.yml:4:9)',
    ]);
  });

  it('reports a malformed reference', () => {
    expect(problems(`${minimal}    cwd: "\${HOME"\n`)).toEqual([
      'queues.emails.cwd: malformed environment reference "${HOME": expected ${NAME} or ${NAME:-default} (qscale.yml:6:10)',
    ]);
  });
});

describe('parseConfig: every problem, one line each, with line:column', () => {
  it('an unknown key, with a suggestion', () => {
    expect(problems(`${minimal}    wokers: { max: 3 }\n`)).toEqual([
      expect.stringMatching(
        /^queues\.emails\.wokers: unknown key \(did you mean "workers"\?\); expected one of .* \(qscale\.yml:6:5\)$/,
      ),
    ]);
  });

  it('a wrong type', () => {
    expect(problems(`${minimal}    workers:\n      max: ten\n`)).toEqual([
      'queues.emails.workers.max: expected a whole number >= 1, got "ten" (qscale.yml:7:12)',
    ]);
  });

  it('min greater than max, also when min comes from defaults', () => {
    expect(problems(`${minimal}    workers: { min: 5, max: 2 }\n`)).toEqual([
      'queues.emails.workers: min (5) is greater than max (2) (qscale.yml:6:14)',
    ]);
    expect(
      problems(`defaults:\n  workers: { min: 3 }\n${minimal}    workers: { max: 2 }\n`),
    ).toEqual(['queues.emails.workers: min (3) is greater than max (2) (qscale.yml:8:14)']);
  });

  it('a bad duration', () => {
    expect(problems(`tick: 5 minutes\n${minimal}`)).toEqual([
      'tick: expected a duration like 500ms, 30s or 5m, got "5 minutes" (qscale.yml:1:7)',
    ]);
    expect(problems(`tick: 30\n${minimal}`)).toEqual([
      'tick: expected a duration like 500ms, 30s or 5m, got 30 (qscale.yml:1:7)',
    ]);
  });

  it('a duration out of its range, too long for a timer or not finite: the key, the value and the range', () => {
    expect(problems(`tick: 1000h\n${minimal}`)).toEqual([
      'tick: expected a duration from 100ms to 10m, got "1000h" (qscale.yml:1:7)',
    ]);
    expect(problems(`tick: .inf\n${minimal}`)).toEqual([
      'tick: expected a duration like 500ms, 30s or 5m, got Infinity (qscale.yml:1:7)',
    ]);
    // Digits enough to read as Infinity.
    expect(problems(`tick: ${'9'.repeat(400)}ms\n${minimal}`)).toEqual([
      `tick: expected a duration from 100ms to 10m, got "${'9'.repeat(57)}..." (qscale.yml:1:7)`,
    ]);
    expect(problems(`${minimal}    stop: { grace: 600h }\n`)).toEqual([
      'queues.emails.stop.grace: expected a duration from 0ms to 24h, got "600h" (qscale.yml:6:20)',
    ]);
    expect(
      problems(
        `wakePoll: 2m\ndefaults:\n  recycle: { lifetime: 30d }\n  scaling: { downStabilization: 2h }\n${minimal}    restart: { coolOff: 25h }\n`,
      ),
    ).toEqual([
      'wakePoll: expected a duration from 0ms to 1m, got "2m" (qscale.yml:1:11)',
      'defaults.recycle.lifetime: expected a duration like 500ms, 30s or 5m, got "30d" (qscale.yml:3:24)',
      'defaults.scaling.downStabilization: expected a duration from 0ms to 1h, got "2h" (qscale.yml:4:33)',
      'queues.emails.restart.coolOff: expected a duration from 1ms to 24h, got "25h" (qscale.yml:10:25)',
    ]);
    // The bounds themselves are accepted.
    const config = parseConfig(
      `tick: 10m\n${minimal}    stop: { grace: 24h }\n    recycle: { lifetime: 168h }\n`,
      { env: {} },
    );
    expect(config.tickMs).toBe(600_000);
    expect(config.queues[0]?.stop.graceMs).toBe(86_400_000);
    expect(config.queues[0]?.recycle.maxLifetimeMs).toBe(604_800_000);
  });

  it('a bad queue name', () => {
    expect(
      problems(`queues:\n  "a;rm -rf /":\n    driver: rq\n    command: [rq, worker]\n`),
    ).toEqual([
      'queues["a;rm -rf /"]: expected a queue name of letters, digits and . _ : - starting with a letter or digit, got "a;rm -rf /" (qscale.yml:2:3)',
    ]);
  });

  it('an empty command and a command written as a string', () => {
    expect(problems('queues:\n  a:\n    driver: rq\n    command: []\n')).toEqual([
      'queues.a.command: expected at least the program to run, got an empty list (qscale.yml:4:14)',
    ]);
    expect(problems('queues:\n  a:\n    driver: rq\n    command: rq worker --burst\n')).toEqual([
      'queues.a.command: expected an argv array like [php, artisan, queue:work], got a single string: qscale never runs a shell, so split the command into its arguments (qscale.yml:4:14)',
    ]);
  });

  it('a missing driver or command names where to set it', () => {
    expect(problems('queues:\n  a:\n    prefix: bull\n')).toEqual([
      'queues.a.driver: required: set driver (laravel, bullmq, sidekiq, rq, celery) here or under defaults (qscale.yml:2:3)',
      'queues.a.command: required: set the worker command as an argv array here or under defaults (qscale.yml:2:3)',
    ]);
  });

  it('several problems at once, in file order', () => {
    const lines = problems(
      `tick: soon\nhttp: { port: 70000 }\nqueues:\n  a:\n    driver: resque\n    command: [x]\n    stop: { signal: SIGKILL }\n`,
    );
    expect(lines).toEqual([
      'tick: expected a duration like 500ms, 30s or 5m, got "soon" (qscale.yml:1:7)',
      'http.port: expected a whole number from 0 to 65535, got 70000 (qscale.yml:2:15)',
      'queues.a.driver: expected one of laravel, bullmq, sidekiq, rq, celery, got "resque" (qscale.yml:5:13)',
      'queues.a.stop.signal: expected a signal a worker can handle: qscale sends SIGKILL itself once the grace period is over, got "SIGKILL" (qscale.yml:7:21)',
    ]);
  });

  it('never echoes a value that may be a secret', () => {
    const lines = problems(`redis: { password: 123456789 }\n${minimal}`);
    expect(lines).toEqual([
      'redis.password: expected a password, got a number (value hidden) (qscale.yml:1:20)',
    ]);
  });

  it('two queues reading the same backend queue', () => {
    expect(
      problems(
        'queues:\n  a: { driver: rq, command: [w] }\n  b: { driver: rq, name: a, command: [w] }\n',
      ),
    ).toEqual([
      'queues.b: reads the same rq queue "a" as queue "a"; give it another name or prefix (qscale.yml:3:6)',
    ]);
  });

  it('no queues, an empty file, a top-level list', () => {
    expect(problems('queues: {}\n')).toEqual([
      'queues: expected at least one queue, got a mapping (qscale.yml:1:9)',
    ]);
    expect(problems('')).toEqual([
      'the file is empty: expected a mapping with at least "queues" (qscale.yml)',
    ]);
    expect(problems('- a\n- b\n')).toEqual([
      'expected a mapping at the top level, got a list (qscale.yml:1:1)',
    ]);
  });

  it('malformed YAML is a syntax error with its position', () => {
    try {
      parseConfig('queues:\n  a: [1\n', { fileName: 'q.yml' });
      expect.unreachable();
    } catch (error) {
      expect(isQscaleError(error, 'CONFIG_SYNTAX')).toBe(true);
      expect((error as ConfigError).message).toMatch(/^malformed YAML: .* \(q\.yml:\d+:\d+\)$/);
    }
  });

  it('aliases as users write them: one anchor shared by 120 queues', () => {
    const queues = Array.from({ length: 120 }, (_, index) =>
      index === 0
        ? '  q0: &worker\n    driver: bullmq\n    command: [node, w.js]\n    workers: { max: 3 }\n'
        : `  q${index}: *worker\n`,
    );
    const config = parseConfig(`queues:\n${queues.join('')}`, { env: {} });
    expect(config.queues).toHaveLength(120);
    expect(config.queues[119]).toMatchObject({ name: 'q119', command: ['node', 'w.js'] });
    expect(config.queues[119]?.workers.max).toBe(3);

    // A merge key takes the anchor's keys, then the queue's own (shallow, as YAML merges).
    const [, merged] = parseConfig(
      `${queues[0]}  reports:\n    <<: *worker\n    name: pdf\n`.replace(/^/, 'queues:\n'),
      { env: {} },
    ).queues;
    expect(merged).toMatchObject({
      name: 'reports',
      backendName: 'pdf',
      command: ['node', 'w.js'],
    });
    expect(merged?.workers.max).toBe(3);
  });

  it('an alias bomb, a circular alias or an alias to nothing: one clear problem', () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (const name of 'bcdefghi') {
      const previous = String.fromCharCode(name.charCodeAt(0) - 1);
      levels.push(`${name}: &${name} [${Array(10).fill(`*${previous}`).join(', ')}]`);
    }
    expect(problems(`${levels.join('\n')}\n${minimal}`)).toEqual([
      'the file expands to more than 100000 values once its aliases (*name) are expanded; refused as an alias bomb (qscale.yml)',
    ]);
    expect(problems(`x: &loop [1, *loop]\n${minimal}`)).toEqual([
      'alias *loop is inside the node it refers to (a circular structure) (qscale.yml:1:14)',
    ]);
    expect(problems('queues: *nothing\n')).toEqual([
      'alias *nothing refers to no anchor (qscale.yml:1:9)',
    ]);
  });

  it('duplicate keys are rejected rather than silently overwritten', () => {
    expect(() => parseConfig(`${minimal}queues: {}\n`)).toThrow(
      /malformed YAML: Map keys must be unique/,
    );
  });
});

describe('loadConfig: files', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'qscale-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads YAML and resolves paths from the file folder', async () => {
    await mkdir(join(dir, 'app'));
    const file = join(dir, 'app', 'qscale.yml');
    await writeFile(file, `${minimal}    cwd: ../work\n`);
    const config = await loadConfig(file, { env: {} });
    expect(config.queues[0]?.cwd).toBe(join(dir, 'work'));
    expect(config.supervision.stateFile).toBe(join(dir, 'app', '.qscale', 'state.json'));
  });

  it('reads JSON, with positions in its problems', async () => {
    const file = join(dir, 'qscale.json');
    await writeFile(
      file,
      JSON.stringify(
        { queues: { a: { driver: 'rq', command: ['w'], workers: { max: 0 } } } },
        null,
        2,
      ),
    );
    await expect(loadConfig(file, { env: {} })).rejects.toThrow(
      `queues.a.workers.max: expected a whole number >= 1, got 0 (${file}:9:16)`,
    );
  });

  it('a missing file, a folder, an oversized file: clear errors, no stack traces', async () => {
    await expect(loadConfig(join(dir, 'nope.yml'))).rejects.toMatchObject({
      code: 'CONFIG_NOT_FOUND',
      message: `no such file (create one with \`qscale init\`) (${join(dir, 'nope.yml')})`,
    });
    await expect(loadConfig(dir)).rejects.toMatchObject({ code: 'CONFIG_UNREADABLE' });
    const big = join(dir, 'big.yml');
    await writeFile(big, `# ${'x'.repeat(1_100_000)}\n`);
    await expect(loadConfig(big)).rejects.toThrow(/is 1100003 bytes, expected at most 1048576/);
  });
});

describe('configWarnings', () => {
  it('warns when the API leaves loopback without a token, or minimums exceed the host', () => {
    const config = parseConfig(
      `http: { host: 0.0.0.0 }\nlimits: { maxWorkers: 2 }\nqueues:\n  a: { driver: rq, command: [w], workers: { min: 2 } }\n  b: { driver: rq, command: [w], workers: { min: 1 } }\n`,
      { env: {} },
    );
    expect(configWarnings(config)).toEqual([
      'http.host is 0.0.0.0 and http.token is not set: the status API and metrics are open to the network',
      "the queues' workers.min add up to 3, above limits.maxWorkers (2): minimums win, the host limit will be exceeded",
    ]);
    expect(configWarnings(parseConfig(minimal, { env: {} }))).toEqual([]);
  });
});

describe('JSON Schema', () => {
  it('describes the file as users write it, strictly', () => {
    const schema = configJsonSchema() as {
      properties: Record<
        string,
        { additionalProperties?: unknown; properties?: Record<string, unknown> }
      >;
      additionalProperties: unknown;
    };
    expect(schema.additionalProperties).toBe(false);
    expect(JSON.stringify(schema.properties.defaults)).toContain('"quietAfterTicks"');
    expect(JSON.stringify(schema.properties.defaults)).toContain('"quietMemory"');
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(['redis', 'tick', 'http', 'limits', 'defaults', 'queues']),
    );
    expect(JSON.stringify(schema.properties.tick)).toContain('(ms|s|m|h)');
  });

  it('is shipped as dist/qscale.schema.json, identical to the generated one', async () => {
    const shipped = JSON.parse(
      await readFile(new URL('../dist/qscale.schema.json', import.meta.url), 'utf8'),
    );
    expect(shipped).toEqual(configJsonSchema());
  });
});
