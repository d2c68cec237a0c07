/**
 * BullMQ 5 and 6: jobs added with `Queue.add` in this process, run by one real `Worker`
 * (concurrency 1) in a child process (bullmq/worker.mjs), so the reader and the worker do not
 * share an event loop. BullMQ's own prefix keeps runs apart.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue as Queue6 } from 'bullmq';
import { Queue as Queue5 } from 'bullmq5';
import type { RealSystem, RunContext } from './harness.js';
import { sleep, spawnReady } from './harness.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const QUEUE = 'acc';

/** `bull` prefix without the trailing separator, as BullMQ takes it. */
const bullPrefix = (ctx: RunContext) => ctx.prefix.slice(0, -1);

function connection(ctx: RunContext) {
  const url = new URL(ctx.redisUrl);
  return { host: url.hostname, port: Number(url.port || 6379) };
}

function bullmq(moduleName: 'bullmq' | 'bullmq5', major: 5 | 6): RealSystem {
  return {
    name: `bullmq-${major}`,
    async version() {
      // The package's exports hide package.json: find it next to the resolved entry point.
      let dir = dirname(require.resolve(moduleName));
      for (;;) {
        const manifest = JSON.parse(
          await readFile(join(dir, 'package.json'), 'utf8').catch(() => '{}'),
        ) as { name?: string; version?: string };
        if (manifest.name === 'bullmq' && manifest.version) return manifest.version;
        const parent = dirname(dir);
        if (parent === dir) throw new Error(`no package.json of ${moduleName} found`);
        dir = parent;
      }
    },
    ratesSeededFromHistory: true,
    cleanupPatterns: (ctx) => [`${bullPrefix(ctx)}:*`],
    source: (ctx) => ({
      queue: QUEUE,
      driver: 'bullmq',
      backendName: QUEUE,
      prefix: bullPrefix(ctx),
      redis: { url: ctx.redisUrl },
    }),
    startWorker: (ctx) =>
      spawnReady(
        process.execPath,
        [
          join(HERE, 'bullmq', 'worker.mjs'),
          moduleName,
          ctx.redisUrl,
          bullPrefix(ctx),
          QUEUE,
          ctx.truthKey,
          String(ctx.serviceMs),
        ],
        { ready: /^ready$/, cwd: HERE },
      ),
    async produce(ctx, offsetsMs) {
      const options = { connection: connection(ctx), prefix: bullPrefix(ctx) };
      const queue = major === 6 ? new Queue6(QUEUE, options) : new Queue5(QUEUE, options);
      try {
        const start = Date.now();
        for (const offset of offsetsMs) {
          await sleep(Math.max(0, start + offset - Date.now()));
          await queue.add('job', { enqueuedAt: Date.now() });
        }
      } finally {
        await queue.close();
      }
    },
  };
}

export const bullmq5 = bullmq('bullmq5', 5);
export const bullmq6 = bullmq('bullmq', 6);
