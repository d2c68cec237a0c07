#!/usr/bin/env node
// A BullMQ worker process as qscale spawns it: `node worker.mjs <queue>`. Each job sleeps for
// `job.data.ms` milliseconds (the demo's producer sets it; replace the handler with your work). SIGTERM: finish the job in hand,
// then exit 0, which is what qscale's graceful stop expects.
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

const queue = process.argv[2];
if (!queue) {
  console.error('usage: node worker.mjs <queue>');
  process.exit(2);
}
const connection = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
  maxRetriesPerRequest: null,
});
const worker = new Worker(
  queue,
  async (job) => {
    await new Promise((resolve) => setTimeout(resolve, Number(job.data?.ms ?? 100)));
  },
  {
    connection,
    prefix: process.env.QUEUE_PREFIX ?? 'bull',
    concurrency: Number(process.env.CONCURRENCY ?? 1),
  },
);
worker.on('error', (error) => console.error(`worker ${queue}: ${error.message}`));

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    worker
      .close()
      .then(() => connection.quit())
      .then(() => process.exit(0))
      .catch(() => process.exit(1));
  });
}
