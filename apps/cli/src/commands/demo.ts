import { createWriteStream } from 'node:fs';
import { access, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ConfigError,
  createDaemonLogger,
  type Daemon,
  type DaemonState,
  formatProblem,
  loadConfig,
  startDaemon,
} from '@qscale/daemon';
import { Redis } from 'ioredis';
import { createLogUpdate } from 'log-update';
import { UsageError } from '../internal/args.js';
import { renderDaemon } from '../internal/daemon-view.js';
import type { DemoJob } from '../internal/demo/accounting.js';
import { demoChartHtml, demoChartSvg } from '../internal/demo/chart.js';
import { DemoProducer } from '../internal/demo/producer.js';
import { DemoRecorder } from '../internal/demo/recorder.js';
import { type DemoRedis, DemoSetupError, demoRedis } from '../internal/demo/redis.js';
import { demoSummary } from '../internal/demo/summary.js';
import { demoWorkload, phaseAt } from '../internal/demo/workload.js';
import { formatDuration } from '../internal/format.js';
import { type CliIo, EXIT, type ExitCode, line } from '../internal/io.js';
import type { DemoArgs } from '../specs/demo.js';

const DEMO_CONFIG = fileURLToPath(new URL('../../../../examples/demo/qscale.yml', import.meta.url));
/**
 * After the producer stops, how long the backlog may take to drain: enough for a demo that
 * keeps its SLO (a few seconds), short enough that the live part stays about a minute.
 */
const DRAIN_LIMIT_MS = 15_000;

export const demoCommand = {
  async run({ values }: DemoArgs, io: CliIo): Promise<ExitCode> {
    // The workload is laid out in whole seconds; the parser checked the minimum (specs/demo.ts).
    const seconds = Math.round(values.duration / 1_000);
    if (!/\.(html|svg)$/.test(values.chart)) {
      throw new UsageError(`--chart ${values.chart}: expected a file name ending in .html or .svg`);
    }
    const configPath = resolve(values.config ?? DEMO_CONFIG);
    if (!(await exists(configPath))) {
      line(
        io.stderr,
        `qscale demo: ${configPath} does not exist (the demo runs from the qscale repository; pass --config)`,
      );
      return EXIT.failure;
    }
    return new Demo(io, configPath, resolve(values.chart), resolve(values.log), seconds).run();
  },
};

/** One run of the demo; every resource it takes is released on every path out. */
class Demo {
  readonly #abort = new AbortController();
  readonly #releases: (() => Promise<unknown>)[] = [];
  #redis: DemoRedis | null = null;
  #daemon: Daemon | null = null;

  constructor(
    private readonly io: CliIo,
    private readonly configPath: string,
    private readonly chartPath: string,
    private readonly logPath: string,
    private readonly seconds: number,
  ) {}

  async run(): Promise<ExitCode> {
    const onSignal = () => this.#interrupt();
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // Whatever happens to this process, no worker or private Redis outlives it.
    const onExit = () => {
      this.#daemon?.killAllSync();
      this.#redis?.kill();
    };
    process.on('exit', onExit);
    try {
      return await this.#main();
    } catch (error) {
      if (error instanceof DemoSetupError) {
        line(this.io.stderr, `qscale demo: ${error.message}`);
        return EXIT.failure;
      }
      if (error instanceof ConfigError) {
        for (const problem of error.problems) line(this.io.stderr, formatProblem(problem));
        return EXIT.failure;
      }
      throw error;
    } finally {
      for (const release of this.#releases.splice(0).reverse()) await release().catch(() => {});
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('exit', onExit);
    }
  }

  async #main(): Promise<ExitCode> {
    const { io } = this;
    this.#redis = await demoRedis(io.env);
    const redis = this.#redis;
    this.#releases.push(() => redis.stop());
    const origin = {
      REDIS_URL: 'from REDIS_URL',
      local: 'the server on 127.0.0.1:6379',
      private: 'a private redis-server started for the demo',
    }[redis.origin];
    line(io.stdout, `qscale demo: Redis at ${redis.url} (${origin})`);

    const env = { ...io.env, REDIS_URL: redis.url, QSCALE_DEMO_HTTP_PORT: '0' };
    const config = await loadConfig(this.configPath, { env });
    const prefix = config.queues[0]?.prefix ?? 'bull';
    await clearKeys(redis.url, prefix);
    this.#releases.push(() => clearKeys(redis.url, prefix));

    const logStream = createWriteStream(this.logPath);
    this.#releases.push(() => new Promise((done) => logStream.end(done)));
    const logger = createDaemonLogger({ level: 'info', format: 'json', destination: logStream });
    const daemon = await startDaemon({ config, configPath: this.configPath, logger, env });
    this.#daemon = daemon;
    this.#releases.push(() => daemon.stop());
    line(
      io.stdout,
      `the daemon runs ${config.queues.length} queues (dashboard and status API: ${daemon.url ?? 'off'}); its log: ${this.logPath}`,
    );

    const producer = new DemoProducer(redis.url, prefix, demoWorkload(this.seconds), this.seconds);
    this.#releases.push(() => producer.close());
    const startedAt = Date.now();
    const recorder = new DemoRecorder(
      config.queues.map((queue) => queue.name),
      startedAt,
    );
    const producing = producer.run(this.#abort.signal, startedAt);

    const stdout = io.stdout as NodeJS.WriteStream;
    const live = stdout.isTTY ? createLogUpdate(stdout) : null;
    let drainedAt: number | null = null;
    let lastSampleAt = startedAt;
    for (let second = 1; !this.#abort.signal.aborted; second++) {
      await sleepUntil(startedAt + second * 1_000);
      lastSampleAt = Date.now();
      const tSec = (lastSampleAt - startedAt) / 1_000;
      const state = daemon.state();
      recorder.sample(lastSampleAt, state);
      const producingNow = tSec < this.seconds;
      const view = `${header(tSec, this.seconds)}\n${renderDaemon(state, daemon.url ?? '-', 4)}`;
      if (live) live(view);
      else if (second % 10 === 0) line(io.stdout, `${view}\n`);
      if (!producingNow && idle(state)) break;
      drainedAt ??= producingNow ? null : Date.now();
      if (drainedAt !== null && Date.now() - drainedAt > DRAIN_LIMIT_MS) break;
    }
    live?.done();
    await producing;
    if (this.#abort.signal.aborted) {
      line(io.stdout, 'demo interrupted: stopping the workers gracefully...');
      return 130 as ExitCode;
    }

    const jobs = new Map<string, DemoJob[]>();
    for (const queue of config.queues) jobs.set(queue.name, await producer.jobs(queue.name));
    // The figures cover the run up to the last sample: the state before the stop.
    const result = recorder.result(config, jobs, daemon.state(), lastSampleAt);
    line(io.stdout, 'stopping: every worker finishes its job and exits...');
    const stopped = await daemon.stop();
    line(io.stdout, demoSummary(result, stopped));
    await writeFile(
      this.chartPath,
      this.chartPath.endsWith('.svg') ? demoChartSvg(result) : demoChartHtml(result),
    );
    line(io.stdout, `chart: ${this.chartPath}`);
    return EXIT.ok;
  }

  #interrupted = false;
  #interrupt(): void {
    if (!this.#interrupted) {
      this.#interrupted = true;
      line(
        this.io.stderr,
        '\ninterrupted: stopping gracefully (Ctrl-C again to kill everything now)',
      );
      this.#abort.abort();
      return;
    }
    line(this.io.stderr, 'killing the workers and any private Redis now');
    process.exit(130); // the 'exit' handler kills what is left
  }
}

function header(tSec: number, seconds: number): string {
  const when =
    tSec < seconds
      ? `${Math.floor(tSec)}s of ${seconds}s, phase: ${phaseAt(tSec, seconds)}`
      : `producer done at ${seconds}s; draining (${formatDuration((tSec - seconds) * 1_000)})`;
  return `qscale demo  ${when}  (Ctrl-C to stop)`;
}

function idle(state: DaemonState): boolean {
  return state.queues.every(
    (queue) =>
      queue.snapshot !== null && queue.snapshot.pending === 0 && queue.snapshot.active === 0,
  );
}

function sleepUntil(at: number): Promise<void> {
  return new Promise((done) => setTimeout(done, Math.max(0, at - Date.now())));
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Deletes the demo's keys (its own prefix only): leftovers of an earlier run, or of this one. */
async function clearKeys(url: string, prefix: string): Promise<void> {
  const client = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  client.on('error', () => {});
  try {
    await client.connect();
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await client.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}
