// One BullMQ worker (concurrency 1) whose processor records the truth (see ../harness.ts).
// argv: module ('bullmq' or 'bullmq5') redisUrl prefix queue truthKey serviceMs
import { Redis } from 'ioredis';

const [moduleName, url, prefix, queue, truthKey, serviceMs] = process.argv.slice(2);
const { Worker } = await import(moduleName);
const { hostname, port } = new URL(url);
const connection = { host: hostname, port: Number(port || 6379), maxRetriesPerRequest: null };
const truth = new Redis(url);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const worker = new Worker(
  queue,
  async (job) => {
    const startedAt = Date.now();
    await sleep(Number(serviceMs));
    const finishedAt = Date.now();
    await truth.rpush(
      truthKey,
      JSON.stringify({ id: job.id, enqueuedAt: job.data.enqueuedAt, startedAt, finishedAt }),
    );
  },
  { connection, prefix, concurrency: 1 },
);
worker.on('error', (error) => console.error('worker error', error));
await worker.waitUntilReady();
console.log('ready');

process.once('SIGTERM', async () => {
  await worker.close();
  await truth.quit();
  process.exit(0);
});
