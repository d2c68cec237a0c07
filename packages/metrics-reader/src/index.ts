// @qscale/metrics-reader: Reads Laravel, BullMQ, Sidekiq, RQ and Celery queues straight from Redis into QueueSnapshots.
// The public API lands with its issue; see README.md.
export {};
