export type { LaravelPayloadVersion, LaravelQueueOptions, ReservedJob } from './laravel.js';
export { LaravelRedisQueue } from './laravel.js';
export type { ProcInfo } from './proc.js';
export { findProcessesWithArg, listProcesses, readProc } from './proc.js';
export type { PrivateRedis } from './redis.js';
export {
  connectRedis,
  deleteKeys,
  freePort,
  onFreePorts,
  redisUrl,
  startPrivateRedis,
  uniquePrefix,
  waitFor,
} from './redis.js';
export { context, history, snapshot } from './scaling.js';
export type { TestCertificates } from './tls.js';
export { createTestCertificates } from './tls.js';
